/**
 * A FileSink in memory, for a short text (`movie-share --text`): the
 * receiver prints it instead of saving a file. It holds at most
 * MAX_TEXT_BYTES (the key payload's check bounds a text transfer's size;
 * open() checks again), never resumes, and its bytes count only once the
 * whole-file SHA-256 matched (commit()).
 */
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { MAX_TEXT_BYTES } from '../../common/protocol/messages.js';
import type { FileSink, IncomingFile } from './files.js';

export class MemorySink implements FileSink {
  /** never rejects: memory writes do not fail */
  readonly failure: Promise<never> = new Promise<never>(() => undefined);
  private buf = new Uint8Array(0);
  private onWritten: (bytes: number) => void = () => undefined;
  private committed = false;

  constructor(private readonly maxBytes = MAX_TEXT_BYTES) {}

  open(file: IncomingFile, onWritten: (bytes: number) => void): Promise<{ have: number[] }> {
    if (file.size > this.maxBytes)
      return Promise.reject(new MovieShareError(ExitCode.Other, `The sender announced ${file.size} bytes of text; at most ${this.maxBytes} are accepted.`));
    this.buf = new Uint8Array(file.size);
    this.onWritten = onWritten;
    return Promise.resolve({ have: [] });
  }

  write(offset: number, bytes: Uint8Array): void {
    this.buf.set(bytes, offset); // the receiver checked offset and length against the announced size
    this.onWritten(bytes.length);
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return Promise.resolve(this.buf.slice(offset, offset + length));
  }

  finish(): Promise<void> {
    return Promise.resolve();
  }

  commit(): Promise<void> {
    this.committed = true;
    return Promise.resolve();
  }

  abort(): Promise<void> {
    this.buf = new Uint8Array(0);
    return Promise.resolve();
  }

  /** The verified bytes (after commit()). */
  bytes(): Uint8Array {
    if (!this.committed) throw new MovieShareError(ExitCode.Other, 'The text is not verified yet.');
    return this.buf;
  }
}
