/**
 * Sequential writes of authenticated plaintext to OUT.part. Writes are issued
 * in order; `onWritten(offset)` reports the end of the contiguous written
 * prefix, which drives the receiver's acks (the sender's credit) and the
 * resume sidecar.
 */
import type { FileHandle } from 'node:fs/promises';
import { ExitCode, MovieShareError } from '../common/errors.js';

export class FileWriter {
  private chain: Promise<void> = Promise.resolve();
  private pos: number;
  readonly failure: Promise<never>;
  private rejectFailure!: (e: MovieShareError) => void;
  private failed = false;

  constructor(
    private readonly fh: FileHandle,
    start: number,
    private readonly onWritten: (offset: number) => void,
  ) {
    this.pos = start;
    this.failure = new Promise<never>((_, reject) => (this.rejectFailure = reject));
    this.failure.catch(() => undefined);
  }

  write(buf: Buffer): void {
    const at = this.pos;
    this.pos += buf.length;
    this.chain = this.chain.then(async () => {
      if (this.failed) return;
      try {
        let done = 0;
        while (done < buf.length) {
          const { bytesWritten } = await this.fh.write(buf, done, buf.length - done, at + done);
          done += bytesWritten;
        }
      } catch (e) {
        this.failed = true;
        this.rejectFailure(diskError(e));
        return;
      }
      this.onWritten(at + buf.length);
    });
  }

  /** Resolves when every write issued so far is done (rejects on a disk error). */
  flush(): Promise<void> {
    return Promise.race([this.chain, this.failure]);
  }
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
