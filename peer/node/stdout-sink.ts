/**
 * `movie-get CODE -o -`: the receiver's FileSink on stdout, for a player
 * reading a pipe (`movie-get CODE -o - | mpv -`). Bytes go out in file order
 * as each chunk is authenticated; the host sends in file order when no
 * reader asks for ranges, so a piece out of order means the stream cannot be
 * written (the transfer fails, it is never reordered in memory).
 *
 * Backpressure: a write counts as written (onWritten, which drives the acks
 * and so the host's credit window) only once the stream has handed it on
 * (its write callback), so a paused player slows the host down instead of
 * filling this process's memory.
 *
 * Nothing can be resumed, read back, renamed or deleted: what is on stdout
 * cannot be taken back, and when the whole-file SHA-256 fails at the end the
 * exit code is the only verdict.
 */
import { ExitCode, MovieShareError } from '../../common/errors.js';
import type { FileSink, IncomingFile } from '../transfer/files.js';

/** The part of a Writable the sink uses (process.stdout, or a stand-in in tests). */
export interface ByteStream {
  write(chunk: Uint8Array, cb: (err?: Error | null) => void): boolean;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export class StdoutSink implements FileSink {
  readonly failure: Promise<never>;
  private rejectFailure!: (e: MovieShareError) => void;
  private failed: MovieShareError | undefined;
  private onWritten: (bytes: number) => void = () => undefined;
  /** the next byte offset to write */
  private next = 0;
  /** resolves when the last write so far has been handed on */
  private lastWrite: Promise<void> = Promise.resolve();

  constructor(private readonly out: ByteStream = process.stdout) {
    this.failure = new Promise<never>((_, reject) => (this.rejectFailure = reject));
    this.failure.catch(() => undefined);
    out.on('error', (e) => this.fail(streamError(e)));
  }

  open(_file: IncomingFile, onWritten: (bytes: number) => void): Promise<{ have: number[] }> {
    this.onWritten = onWritten;
    return Promise.resolve({ have: [] });
  }

  write(offset: number, bytes: Uint8Array): void {
    if (this.failed) return;
    if (offset !== this.next) {
      this.fail(new MovieShareError(ExitCode.Other, 'The sender sent the file out of order, which cannot be written to stdout; save it to a file with -o OUT instead.'));
      return;
    }
    this.next += bytes.length;
    this.lastWrite = new Promise<void>((resolve) => {
      this.out.write(bytes, (err) => {
        if (err) this.fail(streamError(err));
        else this.onWritten(bytes.length);
        resolve();
      });
    });
  }

  read(): Promise<Uint8Array> {
    return Promise.reject(new MovieShareError(ExitCode.Other, 'What was written to stdout cannot be read back.'));
  }

  /** Every byte handed on to stdout's reader. */
  async finish(): Promise<void> {
    await Promise.race([this.lastWrite, this.failure]);
    if (this.failed) throw this.failed;
  }

  /** Nothing to rename: the bytes are already out. */
  commit(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to delete or keep: stdout cannot be taken back. */
  abort(): Promise<void> {
    return Promise.resolve();
  }

  private fail(e: MovieShareError): void {
    if (this.failed) return;
    this.failed = e;
    this.rejectFailure(e);
  }
}

function streamError(e: Error): MovieShareError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED') {
    return new MovieShareError(ExitCode.Other, 'The program reading stdout (the player) stopped reading, so the download was stopped.');
  }
  return new MovieShareError(ExitCode.Other, `Cannot write to stdout: ${e.message}.`, { cause: e });
}
