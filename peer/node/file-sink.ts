/**
 * The receiver's FileSink on disk (peer/transfer/files.ts): OUT.part is
 * written at each chunk's place by the disk writer (file-writer.ts), the
 * resume sidecar (resume.ts) records the written ranges every
 * SIDECAR_EVERY_BYTES, and only commit() renames OUT.part to OUT (then syncs
 * the directory, so the rename survives a crash). Written bytes can be read
 * back at any time, before and after the commit (the player of `--play`).
 */
import { open, open as openDir, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SIDECAR_EVERY_BYTES } from '../../common/config.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import type { FileSink, IncomingFile } from '../transfer/files.js';
import { FileWriter } from './file-writer.js';
import { addRange, partPath, prepareResume, removeResumeState, writeSidecar } from './resume.js';

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

  constructor(private readonly out: string) {
    this.failure = new Promise<never>((_, reject) => (this.rejectFailure = reject));
    this.failure.catch(() => undefined);
  }

  async open(file: IncomingFile, onWritten: (bytes: number) => void): Promise<{ have: number[]; notice?: string }> {
    const resume = await prepareResume(this.out, file);
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
      this.reading ??= open(partPath(this.out), 'r');
      fh = await this.reading;
    } else {
      throw new MovieShareError(ExitCode.Other, 'The download stopped; nothing more can be read.');
    }
    const buf = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === length ? buf : buf.subarray(0, got);
  }

  async finish(): Promise<void> {
    await this.writer!.flush();
    await this.fh!.sync();
    const fh = this.fh!;
    this.fh = undefined;
    this.state = 'finished';
    this.reading ??= open(partPath(this.out), 'r');
    await this.reading;
    await fh.close();
  }

  async commit(): Promise<void> {
    await rename(partPath(this.out), this.out);
    this.state = 'committed';
    await removeResumeState(this.out);
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
