import type { TransferKind } from '../../common/protocol/messages.js';
import type { Manifest } from '../../common/protocol/manifest.js';

/**
 * The file at each end of a transfer, as the protocol core sees it. The Node
 * shell reads and writes the disk (peer/node/file-sink.ts and the source in
 * peer/node/file-source.ts); a page reads a picked File and writes through
 * the File System Access API. Everything platform-specific stays behind these
 * two interfaces.
 */

/** The file the host sends. */
export interface FileSource {
  /** the name the receiver is told: metadata only, never a path there */
  readonly name: string;
  readonly size: number;
  /** SHA-256 of the whole file (hex); a promise while it is still being computed */
  readonly sha256: string | Promise<string>;
  /** `text` for a short text the receiver prints (`movie-share --text`), `set` for several files and folders; absent: a file */
  readonly kind?: TransferKind;
  /** a set's manifest (its files back to back are what chunks() yields); a promise while the files are being hashed */
  readonly manifest?: Manifest | Promise<Manifest>;
  /** [from, size) in slices of `chunkSize` bytes (one empty slice for an empty file); each valid until the next step */
  chunks(from: number, chunkSize: number): AsyncIterable<Uint8Array>;
}

/** What the authenticated key message says about the file. */
export interface IncomingFile {
  sha256: string;
  size: number;
  name: string;
  /** `text`: a short text (at most MAX_TEXT_BYTES) to show, not a file to save; `set`: files and folders; absent: a file */
  kind?: TransferKind;
  /** a set's manifest, received and checked (SHA-256 from the key payload, safe paths, sizes adding up to `size`) */
  manifest?: Manifest;
}

/** Where the receiver puts the file: staged, and visible under its final name only after commit(). */
export interface FileSink {
  /**
   * Get ready for `file`. When an interrupted download of the same file (same
   * SHA-256 and size) is staged here, return the byte ranges it already holds
   * (flattened [s0, e0, s1, e1, ...]; they are not sent again); otherwise
   * none. `onWritten` reports bytes as their writes complete (it drives the
   * acks, so the host never runs ahead of the disk).
   */
  open(file: IncomingFile, onWritten: (bytes: number) => void): Promise<{ have: number[]; notice?: string }>;
  /**
   * The host does not vouch for the ranges open() returned (they do not hash
   * as its file does there): forget them, so that only what write() writes
   * from now on counts as written (for a later resume too). Every chunk comes
   * again and is written over them. A sink that never resumes needs none.
   */
  discardKept?(): void;
  /** Authenticated bytes for [offset, offset + length), in any order, each range once. */
  write(offset: number, bytes: Uint8Array): void;
  /**
   * Bytes written earlier (by write() or in an earlier run), read back: for
   * the whole-file hash when chunks came out of order, and for a player. A
   * sink that can only stream forward (stdout) rejects.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Rejects once, with the error to report, if writing fails. */
  readonly failure: Promise<never>;
  /** Every byte written and durable (before the whole-file hash is compared). */
  finish(): Promise<void>;
  /** The hash matched: make the file appear under its final name. */
  commit(): Promise<void>;
  /** The transfer failed: keep what was written for a later resume, or discard it (an integrity failure). */
  abort(keepForResume: boolean): Promise<void>;
}

/**
 * The file while it arrives, for a player (`movie-get --play`, the page's
 * video): any range can be read at any time; a range that has not arrived is
 * asked for first (docs/PROTOCOL.md §6) and the read resolves once it is
 * written. Every byte was authenticated chunk by chunk; the whole-file
 * SHA-256 is checked only at the end, so a reader shows bytes that may yet
 * belong to a file that fails that check.
 */
export interface TransferReader {
  readonly name: string;
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** bytes written so far (in any order) */
  readonly received: number;
}
