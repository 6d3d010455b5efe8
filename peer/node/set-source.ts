/**
 * The host's side of a set (`movie-share DIR…`, `movie-share A B C`): the
 * paths walked into a list of entries, the files hashed (each one's SHA-256
 * for the manifest, and the stream's, all in one read), and the files read
 * back to back as one stream of chunks (docs/PROTOCOL.md §5a).
 *
 * Symbolic links are not followed, and neither they nor other non-files
 * (sockets, devices) are sent: they are listed in `skipped`, for the CLI to
 * say once. A file that changes size or time, or vanishes, between the walk
 * and its sending ends the transfer with a sentence naming it.
 */
import { createHash } from 'node:crypto';
import { lstat, open, readdir, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ExitCode, MovieShareError, usageError } from '../../common/errors.js';
import { badPath, MAX_ENTRIES, type Manifest, type ManifestEntry } from '../../common/protocol/manifest.js';
import type { FileSource } from '../transfer/files.js';

/** An entry as the host sees it: the manifest's fields, and where it is on disk. */
type LocalEntry = (Omit<Extract<ManifestEntry, { kind: 'file' }>, 'sha256'> | Extract<ManifestEntry, { kind: 'dir' }>) & { abs: string };

export interface SetInfo {
  /** the set's name for the receiver: the one folder's name, or "N items" */
  name: string;
  /** every file's bytes */
  size: number;
  entries: LocalEntry[];
  files: number;
  /** paths not sent (links, sockets…), for the CLI to say */
  skipped: string[];
}

const BLOCK = 4 * 1024 * 1024;

function cannotRead(path: string, e: unknown): MovieShareError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return usageError(`No such file or folder: ${path}. Check the path and try again.`);
  if (code === 'EACCES' || code === 'EPERM') return usageError(`Cannot read ${path}: permission denied.`);
  return usageError(`Cannot read ${path}: ${(e as Error).message}`);
}

/** Walk `paths` (files and folders, any mix) into the entries of a set, in a stable order. */
export async function inspectSet(paths: string[]): Promise<SetInfo> {
  const entries: LocalEntry[] = [];
  const skipped: string[] = [];
  let size = 0;
  const tops = new Set<string>();
  const add = (e: LocalEntry): void => {
    const bad = badPath(e.path);
    if (bad) throw usageError(`${e.abs} cannot be sent under its name (${bad}); rename it and try again.`);
    if (entries.length >= MAX_ENTRIES) throw usageError(`A set can hold at most ${MAX_ENTRIES} files and folders; send an archive (tar, zip) of it instead.`);
    entries.push(e);
  };
  const walk = async (abs: string, rel: string): Promise<void> => {
    const st = await lstat(abs).catch((e: unknown) => {
      throw cannotRead(abs, e);
    });
    if (st.isFile()) {
      size += st.size;
      add({ kind: 'file', path: rel, abs, size: st.size, exec: (st.mode & 0o111) !== 0, mtime: Math.max(0, Math.floor(st.mtimeMs)) });
    } else if (st.isDirectory()) {
      add({ kind: 'dir', path: rel, abs, mtime: Math.max(0, Math.floor(st.mtimeMs)) });
      const names = await readdir(abs).catch((e: unknown) => {
        throw cannotRead(abs, e);
      });
      for (const name of names.sort()) await walk(join(abs, name), `${rel}/${name}`);
    } else skipped.push(abs);
  };
  for (const p of paths) {
    const top = basename(resolve(p));
    if (tops.has(top)) throw usageError(`Two of the paths are both named "${top}"; the receiver could not keep both. Send them one after the other.`);
    tops.add(top);
    await walk(resolve(p), top);
  }
  const files = entries.filter((e) => e.kind === 'file').length;
  if (entries.length === 0) throw usageError('There is nothing to send: every path given is a link or not a regular file or folder.');
  const only = entries[0]!;
  const name = paths.length === 1 && only.kind === 'dir' ? only.path : `${tops.size} items`;
  return { name, size, entries, files, skipped };
}

/** The file's size and time must be what the walk saw: anything else means it is being changed. */
async function openUnchanged(e: Extract<LocalEntry, { kind: 'file' }>): Promise<FileHandle> {
  const fh = await open(e.abs, 'r').catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new MovieShareError(ExitCode.Other, `${e.abs} vanished while it was being sent; send the set again.`);
    throw cannotRead(e.abs, err);
  });
  const st = await fh.stat();
  if (st.size !== e.size || Math.floor(st.mtimeMs) !== e.mtime) {
    await fh.close();
    throw changed(e.abs);
  }
  return fh;
}

const changed = (path: string): MovieShareError =>
  new MovieShareError(ExitCode.Other, `${path} changed while it was being sent; send the set again when nothing is writing to it.`);

/** Hash every file (its own SHA-256, and the stream's), reading each once. */
export async function hashSet(set: SetInfo): Promise<{ sha256: string; manifest: Manifest }> {
  const whole = createHash('sha256');
  const out: ManifestEntry[] = [];
  const buf = Buffer.allocUnsafe(BLOCK);
  for (const e of set.entries) {
    if (e.kind === 'dir') {
      out.push({ kind: 'dir', path: e.path, mtime: e.mtime });
      continue;
    }
    const h = createHash('sha256');
    const fh = await openUnchanged(e);
    try {
      let at = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, BLOCK, at);
        if (bytesRead === 0) break;
        h.update(buf.subarray(0, bytesRead));
        whole.update(buf.subarray(0, bytesRead));
        at += bytesRead;
      }
      if (at !== e.size) throw changed(e.abs);
    } finally {
      await fh.close();
    }
    out.push({ kind: 'file', path: e.path, size: e.size, sha256: h.digest('hex'), exec: e.exec, mtime: e.mtime });
  }
  return { sha256: whole.digest('hex'), manifest: { entries: out } };
}

/**
 * The stream [from, size) in slices of `chunkSize`: the files back to back,
 * each slice possibly spanning several (small) files. Each slice is valid
 * until the next step.
 */
async function* readStream(set: SetInfo, from: number, chunkSize: number): AsyncGenerator<Uint8Array> {
  if (from >= set.size) {
    yield new Uint8Array(0);
    return;
  }
  const files = set.entries.filter((e): e is Extract<LocalEntry, { kind: 'file' }> => e.kind === 'file');
  let start = 0;
  let i = 0;
  while (i < files.length && start + files[i]!.size <= from) start += files[i++]!.size;
  let pos = from;
  /** file i, open while its bytes are read */
  let fh: FileHandle | undefined;
  try {
    while (pos < set.size) {
      const chunk = Buffer.allocUnsafe(Math.min(chunkSize, set.size - pos));
      let filled = 0;
      while (filled < chunk.length) {
        const f = files[i]!;
        const local = pos + filled - start;
        if (local >= f.size) {
          await fh?.close();
          fh = undefined;
          start += f.size;
          i++;
          continue;
        }
        fh ??= await openUnchanged(f);
        const want = Math.min(chunk.length - filled, f.size - local);
        let got = 0;
        while (got < want) {
          const { bytesRead } = await fh.read(chunk, filled + got, want - got, local + got);
          if (bytesRead === 0) throw changed(f.abs);
          got += bytesRead;
        }
        filled += want;
      }
      pos += chunk.length;
      yield chunk;
    }
  } finally {
    await fh?.close();
  }
}

/** The set as the host's protocol core reads it; the manifest and hash may still be computing. */
export function setSource(set: SetInfo, hashed: Promise<{ sha256: string; manifest: Manifest }>): FileSource {
  return {
    name: set.name,
    size: set.size,
    kind: 'set',
    sha256: hashed.then((h) => h.sha256),
    manifest: hashed.then((h) => h.manifest),
    chunks: (from, chunkSize) => readStream(set, from, chunkSize),
  };
}
