/**
 * The receiver's FileSink on disk (peer/transfer/files.ts): OUT.part is
 * written at each chunk's place by the disk writer (file-writer.ts), the
 * resume sidecar (resume.ts) records the written ranges every
 * SIDECAR_EVERY_BYTES, and only commit() moves OUT.part to OUT (then syncs
 * the directory, so the move survives a crash). Written bytes can be read
 * back at any time, before and after the commit (the player of `--play`).
 *
 * The move never replaces a file: link(OUT.part, OUT) then unlink(OUT.part),
 * so an OUT that someone created after movie-get checked at start-up is left
 * alone (exit 2; the verified file stays as OUT.part with a sidecar that
 * lists all of it). With --force, OUT is replaced (rename), as asked.
 */
import { link, open, open as openDir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SIDECAR_EVERY_BYTES } from '../../common/config.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import type { FileSink, IncomingFile } from '../transfer/files.js';
import { FileWriter } from './file-writer.js';
import { readAt } from './file-source.js';
import { addRange, partPath, prepareResume, READ_NOFOLLOW, removeResumeState, writeSidecar } from './resume.js';

export class NodeFileSink implements FileSink {
  readonly failure: Promise<never>;
  private rejectFailure!: (e: MovieShareError) => void;
  private fh: FileHandle | undefined;
  private writer: FileWriter | undefined;
  private file: IncomingFile | undefined;
  /** written byte ranges, flattened */
  private have: number[] = [];
  /** OUT (or OUT.part, until commit) open for reading once the writer is done */
  private reading: Promise<FileHandle> | undefined;
  private state: 'new' | 'open' | 'finished' | 'committed' | 'aborted' = 'new';

  /** OUT, known once open() was called */
  private out: string;
  private readonly outputFor: ((file: IncomingFile) => Promise<string>) | undefined;

  /**
   * `out`: OUT, or a function giving it for the file the key message announces
   * (`movie-get CODE` without -o: the sender's name, sanitized; it may refuse).
   * `force`: replace an OUT that exists at commit, and an OUT.part without a sidecar (--force)
   */
  constructor(
    out: string | ((file: IncomingFile) => Promise<string>),
    private readonly force = false,
  ) {
    this.out = typeof out === 'string' ? out : '';
    this.outputFor = typeof out === 'string' ? undefined : out;
    this.failure = new Promise<never>((_, reject) => (this.rejectFailure = reject));
    this.failure.catch(() => undefined);
  }

  /** OUT ('' until open() chose it) */
  get path(): string {
    return this.out;
  }

  async open(file: IncomingFile, onWritten: (bytes: number) => void): Promise<{ have: number[]; notice?: string }> {
    if (this.outputFor) this.out = await this.outputFor(file);
    const resume = await prepareResume(this.out, file, this.force);
    this.fh = resume.fh;
    this.file = { sha256: file.sha256, size: file.size, name: file.name };
    this.have = [...resume.have];
    this.state = 'open';
    let sinceSidecar = 0;
    let sidecarBusy = false;
    this.writer = new FileWriter(resume.fh, (offset, length) => {
      addRange(this.have, offset, offset + length);
      onWritten(length);
      sinceSidecar += length;
      if (!sidecarBusy && sinceSidecar >= SIDECAR_EVERY_BYTES) {
        sidecarBusy = true;
        sinceSidecar = 0;
        writeSidecar(this.out, this.sidecar())
          .catch(() => undefined)
          .finally(() => (sidecarBusy = false));
      }
    });
    this.writer.failure.catch((e: MovieShareError) => this.rejectFailure(e));
    return { have: resume.have, notice: resume.notice };
  }

  private sidecar() {
    return { v: 2 as const, ...this.file!, have: [...this.have] };
  }

  discardKept(): void {
    this.have = [];
    writeSidecar(this.out, this.sidecar()).catch(() => undefined);
  }

  write(offset: number, bytes: Uint8Array): void {
    this.writer!.write(offset, bytes);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    let fh: FileHandle;
    if (this.state === 'open') {
      await this.writer!.settled();
      fh = this.fh!;
    } else if (this.state === 'finished' || this.state === 'committed') {
      // opened before commit's rename, so it follows the file to OUT
      this.reading ??= open(partPath(this.out), READ_NOFOLLOW);
      fh = await this.reading;
    } else {
      throw new MovieShareError(ExitCode.Other, 'The download stopped; nothing more can be read.');
    }
    return readAt(fh, offset, length);
  }

  async finish(): Promise<void> {
    await this.writer!.flush();
    await this.fh!.sync();
    const fh = this.fh!;
    this.fh = undefined;
    this.state = 'finished';
    this.reading ??= open(partPath(this.out), READ_NOFOLLOW);
    await this.reading;
    await fh.close();
  }

  async commit(): Promise<void> {
    const part = partPath(this.out);
    if (this.force) await rename(part, this.out);
    else {
      try {
        await link(part, this.out);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') {
          // keep everything for the user (and for a rerun, which then has every byte already)
          await writeSidecar(this.out, this.sidecar()).catch(() => undefined);
          throw new MovieShareError(
            ExitCode.Usage,
            `${this.out} was created by someone else while the file arrived; it was not replaced. The verified file is kept as ${part}: rename it yourself, or run both commands again with --force to replace ${this.out}.`,
          );
        }
        // no hard links on this file system (FAT, some network file systems): the start-up check is all there is
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EXDEV') throw e;
        await rename(part, this.out);
      }
      await unlink(part).catch((e: unknown) => {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      });
    }
    this.state = 'committed';
    await removeResumeState(this.out, true); // OUT.part is gone: whatever has that name now is not ours
    await syncDir(dirname(this.out));
  }

  async abort(keepForResume: boolean): Promise<void> {
    const wasOpen = this.state === 'open';
    this.state = 'aborted';
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    await this.reading?.then((f) => f.close()).catch(() => undefined);
    this.reading = undefined;
    if (!keepForResume) await removeResumeState(this.out).catch(() => undefined);
    else if (this.file && wasOpen) await writeSidecar(this.out, this.sidecar()).catch(() => undefined);
  }

  /** Stop reading (the player is done); the file stays. */
  async close(): Promise<void> {
    await this.reading?.then((f) => f.close()).catch(() => undefined);
    this.reading = undefined;
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const d = await openDir(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // not all file systems allow fsync on a directory; the rename already happened
  }
}
