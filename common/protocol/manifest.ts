/**
 * The manifest of a set (`movie-share DIR`, `movie-share A B C`): every entry
 * of the set, in the order the chunk stream carries the files, back to back
 * (docs/PROTOCOL.md §5a). It travels sealed: the key payload names its length
 * and SHA-256, and the `manifest` messages right after the key carry its bytes,
 * so the receiver holds and checks all of it before it writes anything.
 *
 * Everything in it comes from the host and is untrusted: `parseManifest`
 * refuses, with one sentence (exit 3), any entry that could put a byte
 * outside the receiver's folder or make two entries land on one path, and a
 * manifest whose file sizes do not add up to the stream.
 */
import { ExitCode, MovieShareError } from '../errors.js';
import { fromUtf8, utf8 } from '../bytes.js';

/** One entry: a regular file (its bytes are in the stream) or a directory (possibly empty). */
export type ManifestEntry =
  | {
      kind: 'file';
      /** relative path, segments joined by `/` */
      path: string;
      size: number;
      /** SHA-256 of the file, hex: checked before the file appears under its name */
      sha256: string;
      /** the executable bit was set on the host */
      exec: boolean;
      /** modification time, ms since the epoch */
      mtime: number;
    }
  | { kind: 'dir'; path: string; mtime: number };

export interface Manifest {
  entries: ManifestEntry[];
}

/** a manifest of more entries is refused (send an archive instead) */
export const MAX_ENTRIES = 100_000;
/** a manifest of more bytes (serialized) is refused before any of it is received */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
/** the longest path, in UTF-8 bytes (Linux's PATH_MAX) */
export const MAX_PATH_BYTES = 4096;
/** the longest segment, in UTF-8 bytes (the usual NAME_MAX) */
export const MAX_SEGMENT_BYTES = 255;

// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
/** names Windows reserves for devices, with any extension */
const WINDOWS_RESERVED = /^(?:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(?:\..*)?$/i;
/** characters Windows does not allow in a name */
const WINDOWS_FORBIDDEN = /[<>:"|?*]/;

const refused = (why: string): MovieShareError =>
  new MovieShareError(ExitCode.Integrity, `The sender's list of files was refused (${why}); nothing was written. Ask the sender to check what they are sending.`);

const byteLength = (s: string): number => utf8(s).length;

/** Why `segment` cannot be one name of a path, or undefined when it can. */
export function badSegment(segment: string): string | undefined {
  if (segment === '') return 'an empty name';
  if (segment === '.' || segment === '..') return `a "${segment}" segment`;
  if (segment.includes('\\')) return 'a name with a backslash';
  if (CONTROLS.test(segment)) return 'a name with a control character';
  if (WINDOWS_FORBIDDEN.test(segment)) return 'a name with a character Windows forbids';
  if (WINDOWS_RESERVED.test(segment)) return 'a name Windows reserves for a device';
  if (/[. ]$/.test(segment)) return 'a name ending in a dot or a space';
  if (byteLength(segment) > MAX_SEGMENT_BYTES) return `a name longer than ${MAX_SEGMENT_BYTES} bytes`;
  return undefined;
}

/** Why `path` cannot be an entry's path, or undefined when it can. */
export function badPath(path: string): string | undefined {
  if (typeof path !== 'string' || path === '') return 'an empty path';
  if (byteLength(path) > MAX_PATH_BYTES) return `a path longer than ${MAX_PATH_BYTES} bytes`;
  if (path.startsWith('/')) return 'an absolute path';
  for (const s of path.split('/')) {
    const bad = badSegment(s);
    if (bad) return bad;
  }
  return undefined;
}

/**
 * The checks that hold whatever the target: valid paths, no path twice, no
 * file where another entry needs a directory. Returns the first problem.
 */
function conflicts(entries: readonly ManifestEntry[], fold: (s: string) => string): string | undefined {
  const kinds = new Map<string, 'file' | 'dir'>();
  for (const e of entries) {
    const key = fold(e.path);
    if (kinds.has(key)) return fold === identity ? `"${e.path}" twice` : `"${e.path}" and another name that differ only in case`;
    kinds.set(key, e.kind);
  }
  for (const e of entries) {
    const parts = fold(e.path).split('/');
    for (let i = 1; i < parts.length; i++) {
      if (kinds.get(parts.slice(0, i).join('/')) === 'file') return `"${e.path}" inside the file "${parts.slice(0, i).join('/')}"`;
    }
  }
  return undefined;
}
const identity = (s: string): string => s;

/**
 * Entries whose paths differ only in case (or Unicode normalization): they would
 * land on one file on a case-insensitive file system. The sentence, or undefined.
 */
export function caseConflict(m: Manifest): MovieShareError | undefined {
  const why = conflicts(m.entries, (s) => s.normalize('NFC').toLowerCase());
  return why ? refused(why) : undefined;
}

export function serializeManifest(m: Manifest): Uint8Array {
  return utf8(
    JSON.stringify({
      entries: m.entries.map((e) => (e.kind === 'file' ? { k: 'f', p: e.path, s: e.size, h: e.sha256, x: e.exec ? 1 : 0, t: e.mtime } : { k: 'd', p: e.path, t: e.mtime })),
    }),
  );
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * The manifest in `bytes` (already checked against the SHA-256 the key payload
 * carries), validated: at most MAX_ENTRIES entries, every path safe, no
 * conflicts, and file sizes that add up to `streamSize`.
 */
export function parseManifest(bytes: Uint8Array, streamSize: number): Manifest {
  let o: unknown;
  try {
    o = JSON.parse(fromUtf8(bytes));
  } catch {
    throw refused('not JSON');
  }
  const list = (o as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(list)) throw refused('no entries');
  if (list.length === 0) throw refused('no entries');
  if (list.length > MAX_ENTRIES) throw refused(`more than ${MAX_ENTRIES} entries`);
  const entries: ManifestEntry[] = [];
  let total = 0;
  for (const raw of list as unknown[]) {
    if (typeof raw !== 'object' || raw === null) throw refused('an entry that is not an object');
    const r = raw as Record<string, unknown>;
    const path = r['p'];
    if (typeof path !== 'string') throw refused('an entry without a path');
    const bad = badPath(path);
    if (bad) throw refused(bad);
    const mtime = r['t'];
    if (!isUint(mtime)) throw refused(`a bad time for "${path}"`);
    if (r['k'] === 'd') {
      entries.push({ kind: 'dir', path, mtime });
      continue;
    }
    if (r['k'] !== 'f') throw refused(`an entry of unknown kind at "${path}"`);
    const size = r['s'];
    const sha256 = r['h'];
    if (!isUint(size)) throw refused(`a bad size for "${path}"`);
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw refused(`a bad SHA-256 for "${path}"`);
    if (r['x'] !== 0 && r['x'] !== 1) throw refused(`a bad mode for "${path}"`);
    total += size;
    if (total > streamSize) break;
    entries.push({ kind: 'file', path, size, sha256, exec: r['x'] === 1, mtime });
  }
  if (total !== streamSize) throw refused(`the files' sizes add up to ${total} bytes, not the ${streamSize} being sent`);
  const why = conflicts(entries, identity);
  if (why) throw refused(why);
  return { entries };
}

/** The files of a set with where each starts in the stream (files back to back, in manifest order). */
export interface StreamFile {
  /** index in the manifest's entries */
  entry: number;
  path: string;
  size: number;
  sha256: string;
  /** offset of its first byte in the stream */
  start: number;
}

export function streamFiles(m: Manifest): StreamFile[] {
  const out: StreamFile[] = [];
  let at = 0;
  m.entries.forEach((e, entry) => {
    if (e.kind !== 'file') return;
    out.push({ entry, path: e.path, size: e.size, sha256: e.sha256, start: at });
    at += e.size;
  });
  return out;
}

/** The index in `files` of the file holding stream byte `offset`: the last one starting at or before it (an empty file before it holds none). */
export function fileAt(files: readonly StreamFile[], offset: number): number {
  let lo = 0;
  let hi = files.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (files[mid]!.start <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
