/**
 * Positioned writes of authenticated plaintext to OUT.part. Writes are issued
 * in the order they are given (mostly file order; after a seek, elsewhere);
 * `onWritten(offset, length)` reports each `write()` once it is on disk, in
 * order, which drives the receiver's acks (the host's credit) and the resume
 * sidecar.
 *
 * Contiguous chunks are gathered into one `writev` of up to BATCH_BYTES (or whatever
 * arrived within BATCH_WAIT_MS): one 64 KiB write per chunk costs several times
 * the CPU of the same bytes in 1 MiB batches (docs/PERFORMANCE.md). The wait
 * bounds how long a chunk can sit unwritten, so a credit window smaller than a
 * batch still moves.
 *
 * Every DATASYNC_EVERY_BYTES written, an `fdatasync` starts in the background
 * (one at a time; writes go on meanwhile). Linux starts writing dirty pages
 * back only once 10 % of RAM is dirty, so without it a whole 1 GiB file waited
 * for the final fsync: ~350 ms at the end of every GiB here, now ~20 ms. It
 * also keeps OUT.part close to what the resume sidecar says was received.
 */
import type { FileHandle } from 'node:fs/promises';
import { ExitCode, MovieShareError } from '../../common/errors.js';

export const BATCH_BYTES = 1024 * 1024;
const BATCH_BUFFERS = 256;
const BATCH_WAIT_MS = 5;
export const DATASYNC_EVERY_BYTES = 64 * 1024 * 1024;

export class FileWriter {
  private chain: Promise<void> = Promise.resolve();
  /** file offset just past the last byte handed to write() (where the queue goes on) */
  private pos: number;
  /** chunks not yet issued, starting at file offset queueAt */
  private queue: Uint8Array[] = [];
  private queueAt: number;
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  /** bytes written since the last background fdatasync started */
  private unsynced = 0;
  private syncing: Promise<void> | undefined;
  readonly failure: Promise<never>;
  private rejectFailure!: (e: MovieShareError) => void;
  private failed = false;

  constructor(
    private readonly fh: FileHandle,
    private readonly onWritten: (offset: number, length: number) => void,
  ) {
    this.pos = 0;
    this.queueAt = 0;
    this.failure = new Promise<never>((_, reject) => (this.rejectFailure = reject));
    this.failure.catch(() => undefined);
  }

  write(offset: number, buf: Uint8Array): void {
    if (offset !== this.pos) {
      this.issue();
      this.pos = offset;
      this.queueAt = offset;
    }
    this.queue.push(buf);
    this.queued += buf.length;
    this.pos += buf.length;
    if (this.queued >= BATCH_BYTES || this.queue.length >= BATCH_BUFFERS) this.issue();
    else this.timer ??= setTimeout(() => this.issue(), BATCH_WAIT_MS);
  }

  /** Put the queued chunks on the write chain as one writev. */
  private issue(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.queue.length === 0) return;
    const bufs = this.queue;
    const at = this.queueAt;
    this.queue = [];
    this.queueAt = this.pos;
    this.queued = 0;
    this.chain = this.chain.then(async () => {
      if (this.failed) return;
      try {
        let left = bufs;
        let pos = at;
        while (left.length > 0) {
          const { bytesWritten } = await this.fh.writev(left, pos);
          if (bytesWritten === 0 && left.some((b) => b.length > 0)) throw new Error('the file system accepted no bytes');
          pos += bytesWritten;
          left = skip(left, bytesWritten);
        }
      } catch (e) {
        this.failed = true;
        this.rejectFailure(diskError(e));
        return;
      }
      let end = at;
      for (const b of bufs) {
        this.onWritten(end, b.length);
        end += b.length;
      }
      this.unsynced += end - at;
      if (this.unsynced >= DATASYNC_EVERY_BYTES && !this.syncing) this.startDatasync();
    });
  }

  private startDatasync(): void {
    this.unsynced = 0;
    this.syncing = this.fh
      .datasync()
      .catch((e: unknown) => {
        this.failed = true;
        this.rejectFailure(diskError(e));
      })
      .finally(() => (this.syncing = undefined));
  }

  /** Resolves when every write given so far is on the file (readable back); rejects on a disk error. */
  settled(): Promise<void> {
    this.issue();
    return Promise.race([this.chain, this.failure]);
  }

  /**
   * Resolves when every write issued so far is done, and any background
   * fdatasync with them (rejects on a disk error).
   */
  flush(): Promise<void> {
    this.issue();
    return Promise.race([this.chain.then(() => this.syncing), this.failure]);
  }
}

/** The buffers after the first `n` bytes of `bufs`. */
function skip(bufs: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  while (i < bufs.length && n >= bufs[i]!.length) n -= bufs[i++]!.length;
  const rest = bufs.slice(i);
  if (n > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}

export function diskError(e: unknown): MovieShareError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new MovieShareError(ExitCode.Other, 'The disk is full: the download stopped. Free some space and run both commands again to resume.');
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new MovieShareError(ExitCode.Usage, 'Cannot write the output file: permission denied or read-only file system. Choose another -o path.');
  }
  return new MovieShareError(ExitCode.Other, `Writing the output file failed: ${(e as Error).message}`);
}
