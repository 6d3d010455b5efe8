/**
 * The file at each end of a transfer, as the protocol core sees it. The Node
 * shell reads and writes the disk (peer/node/file-sink.ts and the source in
 * peer/node/file-source.ts); a page reads a picked File and writes through
 * the File System Access API. Everything platform-specific stays behind these
 * two interfaces.
 */
import type { Sha256 } from '../../common/crypto/backend.js';

/** The file the host sends. */
export interface FileSource {
  /** the name the receiver is told: metadata only, never a path there */
  readonly name: string;
  readonly size: number;
  /** SHA-256 of the whole file (hex); a promise while it is still being computed */
  readonly sha256: string | Promise<string>;
  /** [from, size) in slices of `chunkSize` bytes (one empty slice for an empty file); each valid until the next step */
  chunks(from: number, chunkSize: number): AsyncIterable<Uint8Array>;
}

/** What the authenticated key message says about the file. */
export interface IncomingFile {
  sha256: string;
  size: number;
  name: string;
}

/** Where the receiver puts the file: staged, and visible under its final name only after commit(). */
export interface FileSink {
  /**
   * Get ready for `file`. When an interrupted download of the same file (same
   * SHA-256 and size) is staged here, keep its verified prefix, feed it into
   * `hash`, and resume after it; otherwise start from 0. `onWritten` reports
   * the end of the contiguous prefix written so far, in order (it drives the
   * acks, so the host never runs ahead of the disk).
   */
  open(file: IncomingFile, hash: Sha256, onWritten: (written: number) => void): Promise<{ offset: number; notice?: string }>;
  /** The next authenticated bytes, in order. */
  write(bytes: Uint8Array): void;
  /** Rejects once, with the error to report, if writing fails. */
  readonly failure: Promise<never>;
  /** Every byte written and durable (before the whole-file hash is compared). */
  finish(): Promise<void>;
  /** The hash matched: make the file appear under its final name. */
  commit(): Promise<void>;
  /** The transfer failed: keep what was verified for a later resume, or discard it (an integrity failure). */
  abort(keepForResume: boolean): Promise<void>;
}
