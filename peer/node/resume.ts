/**
 * Resume state of an interrupted download: `OUT.part` holds the bytes so far
 * and `OUT.part.json` (the sidecar) says which byte ranges of it were
 * authenticated and written (after a seek they need not be a prefix), and for
 * which file (its SHA-256 and size from the authenticated key message).
 *
 * None of the three files (`OUT.part`, `OUT.part.json`, `OUT.part.json.tmp`)
 * is ever opened through a symbolic link: every open carries O_NOFOLLOW, and
 * a file made new carries O_CREAT | O_EXCL, so a link planted there (even
 * between a check and the open) cannot send a write anywhere else. A link
 * there is refused with a sentence (exit 2); see checkResumeFiles.
 */
import { constants } from 'node:fs';
import { lstat, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { MovieShareError, usageError } from '../../common/errors.js';
import type { IncomingFile } from '../transfer/files.js';

export interface Sidecar {
  v: 2;
  sha256: string;
  size: number;
  name: string;
  /** byte ranges of OUT.part that were authenticated and written, flattened [s0, e0, s1, e1, ...], sorted */
  have: number[];
}

export const partPath = (out: string): string => `${out}.part`;
export const sidecarPath = (out: string): string => `${out}.part.json`;
export const sidecarTmpPath = (out: string): string => `${out}.part.json.tmp`;

const { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;
/** OUT.part, an existing one (resume) */
export const PART_EXISTING = O_RDWR | O_NOFOLLOW;
/** OUT.part or the sidecar's temp file, made new: fails if anything (a link too) is there */
const CREATE_NEW = O_CREAT | O_EXCL | O_NOFOLLOW;
/** OUT.part (or OUT, which is a link to the same file after commit) read back */
export const READ_NOFOLLOW = O_RDONLY | O_NOFOLLOW;

/** The sentence for a symbolic link (or another non-file) where movie-get keeps its resume state. */
export function notAFileError(path: string, what: 'link' | 'other'): MovieShareError {
  return what === 'link'
    ? usageError(`${path} is a symbolic link; movie-get never writes through a link there. Remove it or choose another -o path.`)
    : usageError(`${path} is not a regular file; remove it or choose another -o path.`);
}

/** ELOOP (O_NOFOLLOW met a link) or EEXIST (O_EXCL met something) from an open of `path`, as a sentence; other errors as they are. */
function openError(path: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ELOOP' || code === 'EMLINK') return notAFileError(path, 'link');
  if (code === 'EEXIST') return usageError(`${path} appeared while movie-get was creating it (another program?); nothing was written to it. Choose another -o path.`);
  return e;
}

/**
 * Before joining the room (so a refusal does not use up the code): refuse a
 * link or a non-file at OUT.part, the sidecar or its temp file, and an
 * OUT.part without a sidecar (not ours: another program's file, or a copy
 * someone left) unless `force`.
 */
export async function checkResumeFiles(out: string, force: boolean): Promise<void> {
  const kinds = await Promise.all([partPath(out), sidecarPath(out), sidecarTmpPath(out)].map((p) => lstat(p).catch(() => null)));
  [partPath(out), sidecarPath(out), sidecarTmpPath(out)].forEach((p, i) => {
    const st = kinds[i];
    if (st?.isSymbolicLink()) throw notAFileError(p, 'link');
    if (st && !st.isFile()) throw notAFileError(p, 'other');
  });
  if (kinds[0] && !kinds[1] && !force) throw partWithoutSidecar(out);
}

function partWithoutSidecar(out: string): MovieShareError {
  return usageError(
    `${partPath(out)} exists but ${sidecarPath(out)} (the record of an interrupted download) does not, so it is not movie-get's; move it away, choose another -o path, or add --force to replace it.`,
  );
}

export async function readSidecar(out: string): Promise<Sidecar | null> {
  try {
    const fh = await open(sidecarPath(out), O_RDONLY | O_NOFOLLOW);
    let text: string;
    try {
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
    const o = JSON.parse(text) as Record<string, unknown>;
    if (typeof o['sha256'] !== 'string' || typeof o['size'] !== 'number') return null;
    const base = { v: 2 as const, sha256: o['sha256'], size: o['size'], name: typeof o['name'] === 'string' ? o['name'] : '' };
    // version 1 recorded a verified prefix
    if (o['v'] === 1 && typeof o['verified'] === 'number') return { ...base, have: o['verified'] > 0 ? [0, o['verified']] : [] };
    const have = o['have'];
    if (o['v'] !== 2 || !Array.isArray(have) || have.length % 2 !== 0) return null;
    let prev = -1;
    for (const x of have) {
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < prev) return null;
      prev = x;
    }
    return { ...base, have: have as number[] };
  } catch {
    return null;
  }
}

/** Adds [start, end) to flattened sorted ranges, merging neighbours (in place). */
export function addRange(ranges: number[], start: number, end: number): void {
  let i = 0;
  while (i < ranges.length && ranges[i + 1]! < start) i += 2;
  let j = i;
  while (j < ranges.length && ranges[j]! <= end) {
    start = Math.min(start, ranges[j]!);
    end = Math.max(end, ranges[j + 1]!);
    j += 2;
  }
  ranges.splice(i, j - i, start, end);
}

/** Sidecar writes in flight, per OUT: one at a time, in order (they share the .tmp file). */
const sidecarWrites = new Map<string, Promise<void>>();

/** Atomically replace the sidecar. Writes to the same OUT are serialized: the last one called wins. */
export function writeSidecar(out: string, s: Sidecar): Promise<void> {
  const next = (sidecarWrites.get(out) ?? Promise.resolve())
    .catch(() => undefined)
    .then(async () => {
      const tmp = sidecarTmpPath(out);
      // a .tmp left by a crash (or anything planted there) is removed, never written through: rm does not follow a link
      await rm(tmp, { force: true });
      const fh = await open(tmp, O_WRONLY | CREATE_NEW, 0o666).catch((e: unknown) => {
        throw openError(tmp, e);
      });
      try {
        await fh.writeFile(JSON.stringify(s));
      } finally {
        await fh.close();
      }
      // rename replaces whatever is at the sidecar's name, a link included, without following it
      await rename(tmp, sidecarPath(out));
    });
  sidecarWrites.set(out, next);
  const forget = (): void => {
    if (sidecarWrites.get(out) === next) sidecarWrites.delete(out);
  };
  next.then(forget, forget);
  return next;
}

/** Remove OUT.part (unless `keepPart`: commit already moved it), the sidecar and its temp file. */
export async function removeResumeState(out: string, keepPart = false): Promise<void> {
  // a sidecar write still in flight would bring the sidecar back after we removed it
  await sidecarWrites.get(out)?.catch(() => undefined);
  if (!keepPart) await rm(partPath(out), { force: true });
  await rm(sidecarPath(out), { force: true });
  await rm(sidecarTmpPath(out), { force: true });
}

export interface ResumePoint {
  /** byte ranges already in OUT.part, flattened */
  have: number[];
  /** OUT.part, open for reading and writing */
  fh: FileHandle;
  /** a sentence for the user, if resume state was used or discarded */
  notice?: string;
}

/**
 * Decide what is kept: the ranges the sidecar lists when it describes the
 * same file (same SHA-256 and size) and OUT.part holds them; otherwise start
 * over. An OUT.part without any sidecar is not ours: refused unless `force`
 * (checkResumeFiles said so before the transfer; this holds if it appeared since).
 */
export async function prepareResume(out: string, payload: IncomingFile, force = false): Promise<ResumePoint> {
  const sc = await readSidecar(out);
  if (sc && sc.sha256 === payload.sha256 && sc.size === payload.size) {
    const fh = await open(partPath(out), PART_EXISTING).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw openError(partPath(out), e);
    });
    if (fh) {
      const { size: onDisk } = await fh.stat();
      const limit = Math.min(onDisk, payload.size);
      const have: number[] = [];
      for (let r = 0; r + 1 < sc.have.length; r += 2) {
        const e = Math.min(sc.have[r + 1]!, limit);
        if (sc.have[r]! < e) addRange(have, sc.have[r]!, e);
      }
      let kept = 0;
      for (let r = 0; r + 1 < have.length; r += 2) kept += have[r + 1]! - have[r]!;
      return { have, fh, notice: kept > 0 ? `Resuming an earlier download: ${kept} of ${payload.size} bytes are already here.` : undefined };
    }
  }
  const discarded = sc !== null;
  const sidecarThere = (await lstat(sidecarPath(out)).catch(() => null)) !== null;
  const partThere = (await lstat(partPath(out)).catch(() => null)) !== null;
  if (partThere && !sidecarThere && !force) throw partWithoutSidecar(out);
  await removeResumeState(out);
  const fh = await open(partPath(out), O_RDWR | CREATE_NEW, 0o666).catch((e: unknown) => {
    throw openError(partPath(out), e);
  });
  await writeSidecar(out, { v: 2, sha256: payload.sha256, size: payload.size, name: payload.name, have: [] });
  return {
    have: [],
    fh,
    notice: discarded ? 'An earlier partial download was of a different file; starting over.' : undefined,
  };
}

/** How many bytes the sidecar's ranges hold. */
export function sidecarBytes(sc: Pick<Sidecar, 'have'>): number {
  let n = 0;
  for (let r = 0; r + 1 < sc.have.length; r += 2) n += sc.have[r + 1]! - sc.have[r]!;
  return n;
}
