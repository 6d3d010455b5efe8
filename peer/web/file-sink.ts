/**
 * The page's FileSink (peer/transfer/files.ts): the disk writer of the
 * browser shell. It writes through a FileSystemWritableFileStream, which the
 * browser backs with a swap file beside the target (its own `OUT.part`):
 * `close()` swaps it into place, `abort()` discards it. So, as in the CLI,
 * the file appears under its name only after the whole-file SHA-256 matched
 * (commit), and an integrity failure leaves nothing behind.
 *
 * The target is a file handle from wherever the page got it: the user's
 * choice in `showSaveFilePicker` (Chromium), or a file in the origin-private
 * file system (OPFS) that the page offers for download once verified.
 *
 * Memory stays bounded: bytes are acknowledged (`onWritten`, which drives the
 * receiver's acks and so the host's credit window) only once the browser has
 * taken them, so the page holds at most the credit window (8 MiB) plus one batch.
 */
import { MovieShareError, ExitCode } from '../../common/errors.js';
import type { FileSink, IncomingFile } from '../transfer/files.js';

/** Files the page stages in its private storage are named so; a later visit removes leftovers (main.ts). */
export const STAGING_PREFIX = 'incoming-';

export const stagingName = (): string => `${STAGING_PREFIX}${Date.now()}-${Math.random().toString(36).slice(2)}`;

/** A new file in the origin-private file system: staged there, offered for download once verified. */
export async function browserStaging(): Promise<FileSystemFileHandle> {
  const root = await navigator.storage.getDirectory();
  return root.getFileHandle(stagingName(), { create: true });
}

/** chunks that arrive while a write is running are written together, up to this much */
const BATCH_BYTES = 1024 * 1024;

export class WritableFileSink implements FileSink {
  readonly failure: Promise<never>;
  private rejectFailure!: (e: MovieShareError) => void;
  private writable: FileSystemWritableFileStream | undefined;
  private pending: Uint8Array[] = [];
  private running: Promise<void> | undefined;
  /** bytes handed to write() */
  private given = 0;
  private onWritten: (bytes: number) => void = () => undefined;
  private broken = false;

  /** `target` is asked for the file handle once the file's name and size are known (after the sender is authenticated). */
  constructor(private readonly target: (file: IncomingFile) => Promise<FileSystemFileHandle>) {
    this.failure = new Promise<never>((_, reject) => (this.rejectFailure = reject));
    this.failure.catch(() => undefined);
  }

  async open(file: IncomingFile, onWritten: (bytes: number) => void): Promise<{ have: number[]; notice?: string }> {
    const handle = await this.target(file);
    try {
      this.writable = await handle.createWritable({ keepExistingData: false });
    } catch (e) {
      throw new MovieShareError(ExitCode.Other, `The browser would not let this page write the file (${(e as Error).message}); choose another place to save it.`);
    }
    this.onWritten = onWritten;
    return { have: [] };
  }

  /**
   * This sink streams forward: with nothing to resume and no player asking
   * for ranges, the host sends in file order, so `offset` is always where the
   * last write ended (checked).
   */
  write(offset: number, bytes: Uint8Array): void {
    if (this.broken) return;
    if (offset !== this.given) {
      this.broken = true;
      this.rejectFailure(new MovieShareError(ExitCode.Other, 'The file arrived out of order; this page saves it in order only.'));
      return;
    }
    this.given += bytes.length;
    this.pending.push(bytes);
    this.running ??= this.drain();
  }

  /** Writes what is pending, batch by batch, until nothing is left. */
  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.takeBatch();
        await this.writable!.write(batch);
        this.onWritten(batch.length);
      }
    } catch (e) {
      this.broken = true;
      const full = (e as DOMException).name === 'QuotaExceededError';
      this.rejectFailure(
        new MovieShareError(
          ExitCode.Other,
          full ? 'The browser ran out of storage space for this file; free some space and try again.' : `Writing the file failed (${(e as Error).message}).`,
        ),
      );
    } finally {
      this.running = undefined;
    }
  }

  private takeBatch(): Uint8Array<ArrayBuffer> {
    let n = 0;
    let count = 0;
    while (count < this.pending.length && (count === 0 || n + this.pending[count]!.length <= BATCH_BYTES)) n += this.pending[count++]!.length;
    const parts = this.pending.splice(0, count);
    if (parts.length === 1) return parts[0] as Uint8Array<ArrayBuffer>;
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  read(): Promise<Uint8Array> {
    return Promise.reject(new MovieShareError(ExitCode.Other, 'This page cannot read back a file it is saving.'));
  }

  async finish(): Promise<void> {
    while (this.running) await this.running;
    if (this.broken) await this.failure;
  }

  async commit(): Promise<void> {
    const w = this.writable!;
    this.writable = undefined;
    await w.close();
  }

  async abort(): Promise<void> {
    this.broken = true;
    this.pending = [];
    while (this.running) await this.running.catch(() => undefined);
    const w = this.writable;
    this.writable = undefined;
    await w?.abort().catch(() => undefined);
  }
}
