/**
 * The receiver's FileSink for a set (several files and folders): the disk
 * writer of `movie-get CODE -o DEST` when the host sent `movie-share DIR…`.
 *
 * The stream carries the manifest's files back to back (docs/PROTOCOL.md
 * §5a). Each file is staged in DEST/.movie-share-<id>.part/, a folder this
 * sink made (flat names: the entry's index, so no path from the host is ever
 * opened there), and hashed as its bytes arrive in order. Once a file is
 * whole its SHA-256 is compared with the manifest's; only then does it get
 * its mode and time and appear under its name (a hard link, which never
 * replaces anything; with --force a rename). A mismatch ends the transfer
 * with exit 3 naming the file; files verified before it stay.
 *
 * DEST is checked at every step of a path it creates: every folder it makes
 * or enters must be a real folder (not a link), and after a file appears its
 * folder must still resolve inside DEST, so a link planted in DEST while the
 * transfer runs stops it (exit 2) rather than sending a file elsewhere.
 *
 * The staging folder keeps `state.json` (the stream's SHA-256 and size, the
 * byte ranges written, the files already verified and placed): an
 * interrupted set resumes at the first file not yet verified, inside it.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { link, lstat, mkdir, open, readFile, readlink, realpath, rename, rm, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SIDECAR_EVERY_BYTES } from '../../common/config.js';
import { ExitCode, integrityError, MovieShareError, usageError } from '../../common/errors.js';
import { caseConflict, fileAt, streamFiles, type Manifest, type StreamFile } from '../../common/protocol/manifest.js';
import type { FileSink, IncomingFile } from '../transfer/files.js';
import { FileWriter } from './file-writer.js';
import { readAt } from './file-source.js';
import { addRange } from './resume.js';

const { O_RDONLY, O_RDWR, O_CREAT, O_NOFOLLOW } = constants;

/** The staging folder's name in DEST for a stream with this SHA-256. */
export const stagingName = (sha256: string): string => `.movie-share-${sha256.slice(0, 16)}.part`;
/** Whether a name in DEST is a staging folder (of this or another set). */
export const isStagingName = (name: string): boolean => /^\.movie-share-[0-9a-f]{16}\.part$/.test(name);

interface State {
  v: 1;
  sha256: string;
  size: number;
  /** stream byte ranges written, flattened */
  have: number[];
  /** indices (in the stream's files) verified and placed under their names */
  placed: number[];
}

export interface FolderSinkOptions {
  /** replace what exists in DEST under an entry's name (--force) */
  force: boolean;
  /** a file was verified and placed */
  onFile?: (file: StreamFile) => void;
}

interface Slot {
  file: StreamFile;
  fh?: FileHandle;
  writer?: FileWriter;
  /** the staged file being opened (first write) */
  opening?: Promise<void>;
  /** writes that came while it was being opened */
  pending: { local: number; bytes: Uint8Array }[];
  /** bytes of it here (written or kept) */
  have: number;
  hash: Hash;
  /** bytes hashed so far, from its start in order */
  hashed: number;
  placed: boolean;
}

export class FolderSink implements FileSink {
  readonly failure: Promise<never>;
  private rejectFailure!: (e: MovieShareError) => void;
  private manifest!: Manifest;
  private files: StreamFile[] = [];
  private slots: Slot[] = [];
  private state!: State;
  private staging = '';
  private realRoot = '';
  private onWritten: (bytes: number) => void = () => undefined;
  /** verification and placing, one file at a time, in order of completion */
  private placing: Promise<void> = Promise.resolve();
  private sinceState = 0;
  /** state.json writes, in order (they share the temp file) */
  private stateWrites: Promise<void> = Promise.resolve();
  private stateBusy = false;
  private closed = false;

  constructor(
    /** DEST: the folder the set's entries go into (made if absent) */
    private readonly root: string,
    private readonly opts: FolderSinkOptions,
  ) {
    this.failure = new Promise<never>((_, reject) => (this.rejectFailure = reject));
    this.failure.catch(() => undefined);
  }

  private fail(e: unknown): void {
    this.rejectFailure(e instanceof MovieShareError ? e : new MovieShareError(ExitCode.Other, `Writing the files failed: ${(e as Error).message}`));
  }

  async open(file: IncomingFile, onWritten: (bytes: number) => void): Promise<{ have: number[]; notice?: string }> {
    if (!file.manifest) throw new MovieShareError(ExitCode.Other, 'A set arrived without its list of files.');
    this.manifest = file.manifest;
    this.files = streamFiles(file.manifest);
    this.onWritten = onWritten;
    await mkdir(this.root, { recursive: true });
    const rootStat = await lstat(this.root);
    if (!rootStat.isDirectory()) throw usageError(`${this.root} is not a folder; choose another -o path for a set of files.`);
    this.realRoot = await realpath(this.root);
    if (await caseInsensitive(this.realRoot)) {
      const conflict = caseConflict(this.manifest);
      if (conflict) throw conflict;
    }
    this.staging = join(this.realRoot, stagingName(file.sha256));
    const previous = await this.readState(file);
    this.state = previous ?? { v: 1, sha256: file.sha256, size: file.size, have: [], placed: [] };
    await this.checkTopLevel();
    if (!previous) {
      await rm(this.staging, { recursive: true, force: true });
      await mkdir(this.staging, { mode: 0o700 });
    }
    const placed = new Set(this.state.placed);
    this.slots = this.files.map((f, i) => ({ file: f, pending: [], have: 0, hash: createHash('sha256'), hashed: 0, placed: placed.has(i) }));
    // what is kept: placed files whole; others as state.json says, if their staged file holds it
    const have: number[] = [];
    for (const [i, s] of this.slots.entries()) {
      const { start, size } = s.file;
      if (s.placed) {
        const st = await lstat(this.finalPath(s.file)).catch(() => null);
        if (st?.isFile() && st.size === size) {
          s.have = size;
          if (size > 0) addRange(have, start, start + size);
          continue;
        }
        s.placed = false;
        this.state.placed = this.state.placed.filter((p) => p !== i);
      }
      const st = await lstat(this.stagedPath(i)).catch(() => null);
      if (!st?.isFile()) continue;
      for (let r = 0; r + 1 < this.state.have.length; r += 2) {
        const from = Math.max(this.state.have[r]!, start);
        const to = Math.min(this.state.have[r + 1]!, start + size, start + st.size);
        if (from < to) {
          addRange(have, from, to);
          s.have += to - from;
        }
      }
    }
    this.state.have = [...have];
    await this.saveState();
    const kept = have.reduce((n, x, i) => (i % 2 === 1 ? n + x - have[i - 1]! : n), 0);
    const done = this.slots.filter((s) => s.placed).length;
    return {
      have,
      notice: kept > 0 ? `Resuming an earlier download: ${done} of ${this.files.length} files verified, ${kept} of ${file.size} bytes already here.` : undefined,
    };
  }

  /** state.json of an earlier run of this very set (same SHA-256 and size), if the staging folder is really ours. */
  private async readState(file: IncomingFile): Promise<State | null> {
    const st = await lstat(this.staging).catch(() => null);
    if (!st) return null;
    if (!st.isDirectory()) throw usageError(`${this.staging} is not a folder (a link?); movie-get never writes through one. Remove it and run both commands again.`);
    try {
      const o = JSON.parse(await readFile(join(this.staging, 'state.json'), { encoding: 'utf8', flag: O_RDONLY | O_NOFOLLOW })) as State;
      if (o.v !== 1 || o.sha256 !== file.sha256 || o.size !== file.size || !Array.isArray(o.have) || !Array.isArray(o.placed)) return null;
      if (!o.have.every((x) => Number.isSafeInteger(x)) || !o.placed.every((x) => Number.isSafeInteger(x) && x >= 0 && x < this.files.length)) return null;
      return o;
    } catch {
      return null;
    }
  }

  /** Write state.json (atomically: a temp file, then rename), one write at a time, in call order. */
  private saveState(): Promise<void> {
    const text = JSON.stringify(this.state);
    const tmp = join(this.staging, 'state.json.tmp');
    const next = this.stateWrites
      .catch(() => undefined)
      .then(async () => {
        await rm(tmp, { force: true });
        const fh = await open(tmp, O_RDWR | O_CREAT | constants.O_EXCL | O_NOFOLLOW, 0o600);
        try {
          await fh.writeFile(text);
        } finally {
          await fh.close();
        }
        await rename(tmp, join(this.staging, 'state.json'));
      });
    this.stateWrites = next;
    return next;
  }

  /** Top-level names of the set that exist in DEST and were not made by an earlier run of it: refused unless --force. */
  private async checkTopLevel(): Promise<void> {
    if (this.opts.force) return;
    const ours = new Set(this.state.placed.map((i) => this.files[i]!.path.split('/')[0]!));
    const tops = new Set(this.manifest.entries.map((e) => e.path.split('/')[0]!));
    for (const top of tops) {
      if (ours.has(top)) continue;
      const st = await lstat(join(this.realRoot, top)).catch(() => null);
      // a folder an earlier run of this set made (it places files, not folders) is its own
      if (st && !(st.isDirectory() && this.state.have.length > 0)) {
        throw usageError(`${join(this.root, top)} already exists and was not replaced; choose another -o folder, or add --force to write over it.`);
      }
    }
  }

  private stagedPath(i: number): string {
    return join(this.staging, String(i));
  }

  private finalPath(f: StreamFile): string {
    return join(this.realRoot, ...f.path.split('/'));
  }

  /**
   * File i's writer, opened on its first write: until the staged file is open
   * (and checked to be in the staging folder), writes wait in `pending`.
   */
  private writeTo(i: number, local: number, bytes: Uint8Array): void {
    const s = this.slots[i]!;
    if (s.writer) return s.writer.write(local, bytes);
    s.pending.push({ local, bytes });
    s.opening ??= (async () => {
      const fh = await open(this.stagedPath(i), O_RDWR | O_CREAT | O_NOFOLLOW, 0o600);
      await this.checkInside(fh, this.staging);
      s.fh = fh;
      s.writer = new FileWriter(fh, (offset, length) => this.written(i, offset, length));
      s.writer.failure.catch((e: unknown) => this.fail(e));
      for (const p of s.pending) s.writer.write(p.local, p.bytes);
      s.pending = [];
    })();
    s.opening.catch((e: unknown) => this.fail(e));
  }

  /** Every write given to file i so far is on disk (and, with `sync`, any background fdatasync done). */
  private async settle(s: Slot, sync: boolean): Promise<void> {
    await s.opening;
    if (s.writer) await (sync ? s.writer.flush() : s.writer.settled());
  }

  write(offset: number, bytes: Uint8Array): void {
    let at = offset;
    let rest = bytes;
    while (rest.length > 0) {
      const i = fileAt(this.files, at);
      const s = this.slots[i]!;
      const local = at - s.file.start;
      const n = Math.min(rest.length, s.file.size - local);
      const part = rest.subarray(0, n);
      if (local === s.hashed) {
        s.hash.update(part);
        s.hashed += n;
      }
      this.writeTo(i, local, part);
      at += n;
      rest = rest.subarray(n);
    }
  }

  private written(i: number, local: number, length: number): void {
    const s = this.slots[i]!;
    addRange(this.state.have, s.file.start + local, s.file.start + local + length);
    s.have += length;
    this.onWritten(length);
    this.sinceState += length;
    if (!this.stateBusy && this.sinceState >= SIDECAR_EVERY_BYTES) {
      this.stateBusy = true;
      this.sinceState = 0;
      this.saveState()
        .catch(() => undefined)
        .finally(() => (this.stateBusy = false));
    }
    if (s.have === s.file.size) this.queuePlace(i);
  }

  private queuePlace(i: number): void {
    this.placing = this.placing.then(() => (this.closed ? undefined : this.place(i)));
    this.placing.catch((e: unknown) => this.fail(e));
  }

  /** File i is whole: finish its hash (reading back what did not arrive in order), compare, and make it appear. */
  private async place(i: number): Promise<void> {
    const s = this.slots[i]!;
    if (s.placed) return;
    const { file } = s;
    await this.settle(s, true);
    const fh = s.fh ?? (await open(this.stagedPath(i), O_RDWR | O_CREAT | O_NOFOLLOW, 0o600));
    s.writer = undefined;
    s.opening = undefined;
    try {
      for (let at = s.hashed; at < file.size;) {
        const n = Math.min(file.size - at, 4 * 1024 * 1024);
        const bytes = await readAt(fh, at, n);
        if (bytes.length !== n) throw integrityError(`"${file.path}" is shorter on disk than what arrived; the files verified before it were kept. Try the transfer again.`);
        s.hash.update(bytes);
        at += n;
      }
      s.hashed = file.size;
      const digest = s.hash.digest('hex');
      if (digest !== file.sha256) {
        throw integrityError(`"${file.path}" does not match the sender's SHA-256, so it was not saved (the files verified before it were). Try the transfer again.`);
      }
      const entry = this.manifest.entries[file.entry]!;
      const exec = entry.kind === 'file' && entry.exec;
      await fh.chmod(exec ? 0o777 & ~process.umask() : 0o666 & ~process.umask());
      const mtime = new Date(entry.mtime);
      await fh.utimes(mtime, mtime);
      await fh.sync();
    } finally {
      await fh.close();
      s.fh = undefined;
    }
    await this.put(this.stagedPath(i), file.path);
    s.placed = true;
    this.state.placed.push(i);
    await this.saveState();
    this.opts.onFile?.(file);
  }

  /** Make folders along `path` inside DEST (each a real folder), then link `from` there under its last name. */
  private async put(from: string, path: string): Promise<void> {
    const parts = path.split('/');
    const dir = await this.mkdirs(parts.slice(0, -1));
    const to = join(dir, parts[parts.length - 1]!);
    const mine = this.state.placed.some((p) => this.files[p]!.path === path);
    if (this.opts.force || mine) await rename(from, to);
    else {
      try {
        await link(from, to);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw usageError(`${join(this.root, path)} appeared while the files arrived and was not replaced; the verified file is kept in ${this.staging}.`);
        }
        throw e;
      }
      await unlink(from);
    }
    // the folder must still be where it was: a link swapped in meanwhile would have taken the file elsewhere
    if ((await realpath(dir).catch(() => '')) !== dir) {
      await unlink(to).catch(() => undefined);
      throw plantedLink(join(this.root, ...parts.slice(0, -1)));
    }
  }

  /** DEST/a/b/… made (or entered) one folder at a time, never through a link; the real path. */
  private async mkdirs(parts: string[]): Promise<string> {
    let dir = this.realRoot;
    for (const p of parts) {
      dir = join(dir, p);
      await mkdir(dir).catch((e: unknown) => {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      });
      const st = await lstat(dir);
      if (st.isSymbolicLink()) throw plantedLink(dir);
      if (!st.isDirectory()) throw usageError(`${dir} is a file where the set has a folder; choose another -o folder, or move it away.`);
    }
    return dir;
  }

  /** A file opened in the staging folder must really be there (the folder was not swapped for a link). */
  private async checkInside(fh: FileHandle, dir: string): Promise<void> {
    const real = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => undefined);
    if (real !== undefined && dirname(real) !== dir) {
      await fh.close();
      throw plantedLink(dir);
    }
  }

  discardKept(): void {
    this.state.have = [];
    for (const s of this.slots) {
      s.have = 0;
      s.hashed = 0;
      s.hash = createHash('sha256');
      // placed files are the sender's no longer: they are written and placed again
      s.placed = false;
    }
    this.saveState().catch(() => undefined);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const i = fileAt(this.files, offset + got);
      const s = this.slots[i]!;
      const local = offset + got - s.file.start;
      const n = Math.min(length - got, s.file.size - local);
      await this.settle(s, false);
      const path = s.placed ? this.finalPath(s.file) : this.stagedPath(i);
      const fh = await open(path, O_RDONLY | O_NOFOLLOW);
      try {
        const bytes = await readAt(fh, local, n);
        out.set(bytes, got);
        if (bytes.length < n) return out.subarray(0, got + bytes.length);
      } finally {
        await fh.close();
      }
      got += n;
    }
    return out;
  }

  async finish(): Promise<void> {
    for (const s of this.slots) await this.settle(s, true);
    // whole files kept from an earlier run (and empty files) have no write to trigger them
    for (const [i, s] of this.slots.entries()) if (!s.placed && s.have === s.file.size) this.queuePlace(i);
    await this.placing;
    const missing = this.slots.find((s) => !s.placed);
    if (missing) throw integrityError(`"${missing.file.path}" did not arrive whole; the files verified before it were kept. Try the transfer again.`);
  }

  async commit(): Promise<void> {
    // folders (empty ones too), then their times, deepest first: placing files changed them
    const dirs = this.manifest.entries.filter((e) => e.kind === 'dir');
    for (const d of dirs) await this.mkdirs(d.path.split('/'));
    for (const d of [...dirs].sort((a, b) => b.path.split('/').length - a.path.split('/').length)) {
      const t = new Date(d.mtime);
      await utimes(join(this.realRoot, ...d.path.split('/')), t, t);
    }
    this.closed = true;
    await this.stateWrites.catch(() => undefined);
    await rm(this.staging, { recursive: true, force: true });
  }

  async abort(keepForResume: boolean): Promise<void> {
    this.closed = true;
    await this.placing.catch(() => undefined);
    for (const s of this.slots) {
      await this.settle(s, true).catch(() => undefined);
      await s.fh?.close().catch(() => undefined);
      s.fh = undefined;
    }
    if (!this.staging) return;
    await this.stateWrites.catch(() => undefined);
    if (keepForResume) await this.saveState().catch(() => undefined);
    else await rm(this.staging, { recursive: true, force: true }).catch(() => undefined);
  }
}

function plantedLink(dir: string): MovieShareError {
  return usageError(`${dir} was replaced by a link while the files arrived; movie-get never writes through one, so it stopped. Remove the link and run both commands again.`);
}

/** Whether names in `dir` ignore case (probed with a file of our own). */
async function caseInsensitive(dir: string): Promise<boolean> {
  const name = `.movie-share-case-${process.pid}-${Date.now()}`;
  const probe = join(dir, name);
  const fh = await open(probe, O_RDWR | O_CREAT | constants.O_EXCL | O_NOFOLLOW, 0o600).catch(() => undefined);
  if (!fh) return false;
  await fh.close();
  try {
    return (await lstat(join(dir, name.toUpperCase())).catch(() => null)) !== null;
  } finally {
    await unlink(probe).catch(() => undefined);
  }
}
