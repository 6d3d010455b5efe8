/**
 * Resume state of an interrupted download: `OUT.part` holds the bytes so far
 * and `OUT.part.json` (the sidecar) says how many of them were authenticated
 * and written, and for which file (its SHA-256 and size from the
 * authenticated key message).
 */
import { open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import type { Sha256 } from '../../common/crypto/backend.js';
import type { IncomingFile } from '../transfer/files.js';

export interface Sidecar {
  v: 1;
  sha256: string;
  size: number;
  name: string;
  /** bytes at the start of OUT.part that were authenticated and written */
  verified: number;
}

export const partPath = (out: string): string => `${out}.part`;
export const sidecarPath = (out: string): string => `${out}.part.json`;

export async function readSidecar(out: string): Promise<Sidecar | null> {
  try {
    const o = JSON.parse(await readFile(sidecarPath(out), 'utf8')) as Partial<Sidecar>;
    if (o.v !== 1 || typeof o.sha256 !== 'string' || typeof o.size !== 'number' || typeof o.verified !== 'number') return null;
    return { v: 1, sha256: o.sha256, size: o.size, name: String(o.name ?? ''), verified: o.verified };
  } catch {
    return null;
  }
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
  /** where the host should start */
  offset: number;
  /** OUT.part, open for writing at `offset` */
  fh: FileHandle;
  /** a sentence for the user, if resume state was used or discarded */
  notice?: string;
}

/**
 * Decide where to start: resume when the sidecar describes the same file
 * (same SHA-256 and size), feeding the kept prefix into `hash`; otherwise
 * start over.
 */
export async function prepareResume(out: string, payload: IncomingFile, hash: Sha256): Promise<ResumePoint> {
  const sc = await readSidecar(out);
  if (sc && sc.sha256 === payload.sha256 && sc.size === payload.size) {
    const fh = await open(partPath(out), 'r+').catch(() => null);
    if (fh) {
      const { size: onDisk } = await fh.stat();
      const offset = Math.min(sc.verified, onDisk, payload.size);
      const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
      for (let pos = 0; pos < offset;) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, offset - pos), pos);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
      await fh.truncate(offset);
      return { offset, fh, notice: offset > 0 ? `Resuming an earlier download: ${offset} of ${payload.size} bytes are already here.` : undefined };
    }
  }
  const discarded = sc !== null;
  await removeResumeState(out);
  const fh = await open(partPath(out), 'w');
  await writeSidecar(out, { v: 1, sha256: payload.sha256, size: payload.size, name: payload.name, verified: 0 });
  return {
    offset: 0,
    fh,
    notice: discarded ? 'An earlier partial download was of a different file; starting over.' : undefined,
  };
}
