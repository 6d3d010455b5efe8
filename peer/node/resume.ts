/**
 * Resume state of an interrupted download: `OUT.part` holds the bytes so far
 * and `OUT.part.json` (the sidecar) says which byte ranges of it were
 * authenticated and written (after a seek they need not be a prefix), and for
 * which file (its SHA-256 and size from the authenticated key message).
 */
import { open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
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

export async function readSidecar(out: string): Promise<Sidecar | null> {
  try {
    const o = JSON.parse(await readFile(sidecarPath(out), 'utf8')) as Record<string, unknown>;
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
      const tmp = `${sidecarPath(out)}.tmp`;
      await writeFile(tmp, JSON.stringify(s));
      await rename(tmp, sidecarPath(out));
    });
  sidecarWrites.set(out, next);
  const forget = (): void => {
    if (sidecarWrites.get(out) === next) sidecarWrites.delete(out);
  };
  next.then(forget, forget);
  return next;
}

export async function removeResumeState(out: string): Promise<void> {
  // a sidecar write still in flight would bring the sidecar back after we removed it
  await sidecarWrites.get(out)?.catch(() => undefined);
  await rm(partPath(out), { force: true });
  await rm(sidecarPath(out), { force: true });
  await rm(`${sidecarPath(out)}.tmp`, { force: true });
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
 * over.
 */
export async function prepareResume(out: string, payload: IncomingFile): Promise<ResumePoint> {
  const sc = await readSidecar(out);
  if (sc && sc.sha256 === payload.sha256 && sc.size === payload.size) {
    const fh = await open(partPath(out), 'r+').catch(() => null);
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
  await removeResumeState(out);
  const fh = await open(partPath(out), 'w+');
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
