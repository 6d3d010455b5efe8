/**
 * The receiver's FileSink on disk (peer/transfer/files.ts): OUT.part is
 * written in order by the disk writer (file-writer.ts), the resume sidecar
 * (resume.ts) is refreshed every SIDECAR_EVERY_BYTES, and only commit() renames
 * OUT.part to OUT (then syncs the directory, so the rename survives a crash).
 */
import { open as openDir, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SIDECAR_EVERY_BYTES } from '../../common/config.js';
import type { MovieShareError } from '../../common/errors.js';
import type { Sha256 } from '../../common/crypto/backend.js';
import type { FileSink, IncomingFile } from '../transfer/files.js';
import { FileWriter } from './file-writer.js';
import { partPath, prepareResume, removeResumeState, writeSidecar } from './resume.js';

export class NodeFileSink implements FileSink {
  readonly failure: Promise<never>;
  private rejectFailure!: (e: MovieShareError) => void;
  private fh: FileHandle | undefined;
  private writer: FileWriter | undefined;
  private file: IncomingFile | undefined;
  private verified = 0;

  constructor(private readonly out: string) {
    this.failure = new Promise<never>((_, reject) => (this.rejectFailure = reject));
    this.failure.catch(() => undefined);
  }

  async open(file: IncomingFile, hash: Sha256, onWritten: (written: number) => void): Promise<{ offset: number; notice?: string }> {
    const resume = await prepareResume(this.out, file, hash);
    this.fh = resume.fh;
    this.file = { sha256: file.sha256, size: file.size, name: file.name };
    this.verified = resume.offset;
    let lastSidecar = resume.offset;
    let sidecarBusy = false;
    this.writer = new FileWriter(resume.fh, resume.offset, (written) => {
      this.verified = written;
      onWritten(written);
      if (!sidecarBusy && written - lastSidecar >= SIDECAR_EVERY_BYTES) {
        sidecarBusy = true;
        lastSidecar = written;
        writeSidecar(this.out, { v: 1, ...this.file!, verified: written })
          .catch(() => undefined)
          .finally(() => (sidecarBusy = false));
      }
    });
    this.writer.failure.catch((e: MovieShareError) => this.rejectFailure(e));
    return { offset: resume.offset, notice: resume.notice };
  }

  write(bytes: Uint8Array): void {
    this.writer!.write(bytes);
  }

  async finish(): Promise<void> {
    await this.writer!.flush();
    await this.fh!.sync();
    const fh = this.fh!;
    this.fh = undefined;
    await fh.close();
  }

  async commit(): Promise<void> {
    await rename(partPath(this.out), this.out);
    await removeResumeState(this.out);
    await syncDir(dirname(this.out));
  }

  async abort(keepForResume: boolean): Promise<void> {
    const wasOpen = this.fh !== undefined;
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    if (!keepForResume) await removeResumeState(this.out).catch(() => undefined);
    else if (this.file && wasOpen) await writeSidecar(this.out, { v: 1, ...this.file, verified: this.verified }).catch(() => undefined);
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
