/**
 * Data-channel control messages, one discriminated union per direction, and
 * their validation. Every message from the peer is untrusted input: it is
 * parsed here into a typed value or rejected with a clear error.
 */
import { ExitCode, MovieShareError } from '../errors.js';
import { fromBase64, fromUtf8, isBase64, toBase64, utf8 } from '../bytes.js';

/** Receiver (movie-get) → host (movie-share). */
export type ReceiverMessage =
  | { t: 'hello'; v: number; rsaPublicKey: string }
  | { t: 'confirm'; mac: string; have: ChunkRanges; maxRate: number; kept: string }
  | { t: 'ack'; written: number }
  | { t: 'want'; offset: number; length: number }
  | { t: 'done'; sha256: string }
  | { t: 'ping' }
  | { t: 'abort'; code: ExitCode; message: string };

/**
 * Chunks the receiver already holds (from an interrupted download), as sorted,
 * disjoint, non-adjacent half-open index ranges [start, end), flattened:
 * [s0, e0, s1, e1, ...].
 */
export type ChunkRanges = number[];
/** at most this many ranges in a confirm (the receiver drops the rest and gets those chunks again) */
export const MAX_HAVE_RANGES = 1024;

/** Host (movie-share) → receiver (movie-get). */
export type HostMessage =
  | { t: 'key'; v: number; encryptedKey: string; mac: string }
  /**
   * The host's answer to the confirm, before any chunk: `resume` true when the
   * kept chunks hash as its file's do (it sends only the others), false when
   * they do not (it sends every chunk; the receiver drops what it kept).
   */
  | { t: 'start'; resume: boolean }
  /** a piece of a set's manifest, right after the key (the key payload names its length and SHA-256) */
  | { t: 'manifest'; data: string }
  | { t: 'end' }
  | { t: 'ping' }
  | { t: 'abort'; code: ExitCode; message: string };

const MAX_B64 = 8192;
/** a manifest piece's bytes at most (base64 on the wire: 4/3 of it) */
export const MANIFEST_PIECE_BYTES = 30 * 1024;
const MAX_MESSAGE = 2048;
const EXIT_CODES: ReadonlySet<number> = new Set(Object.values(ExitCode));

function protocolError(what: string): MovieShareError {
  return new MovieShareError(ExitCode.Other, `The other side sent an invalid message (${what}); it may be running an incompatible version of movie-share.`);
}

type Json = Record<string, unknown>;

function parseObject(json: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    throw protocolError('not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw protocolError('not an object');
  return v as Json;
}

function str(o: Json, k: string, max: number): string {
  const v = o[k];
  if (typeof v !== 'string' || v.length > max) throw protocolError(`field ${k}`);
  return v;
}

function b64(o: Json, k: string): string {
  const v = str(o, k, MAX_B64);
  if (!isBase64(v)) throw protocolError(`field ${k} is not base64`);
  return v;
}

function uint(o: Json, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw protocolError(`field ${k}`);
  return v;
}

function ranges(o: Json, k: string): ChunkRanges {
  const v = o[k];
  if (!Array.isArray(v) || v.length % 2 !== 0 || v.length > 2 * MAX_HAVE_RANGES) throw protocolError(`field ${k}`);
  let prev = -1;
  for (const x of v) {
    // strictly increasing: sorted, disjoint, non-empty and not touching
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x <= prev) throw protocolError(`field ${k}`);
    prev = x;
  }
  return v as number[];
}

function sha256Hex(o: Json, k: string): string {
  const v = str(o, k, 64);
  if (!/^[0-9a-f]{64}$/.test(v)) throw protocolError(`field ${k}`);
  return v;
}

function abortOf(o: Json): { t: 'abort'; code: ExitCode; message: string } {
  const code = o['code'];
  if (typeof code !== 'number' || !EXIT_CODES.has(code)) throw protocolError('abort code');
  return { t: 'abort', code: code as ExitCode, message: str(o, 'message', MAX_MESSAGE) };
}

export function parseReceiverMessage(json: string): ReceiverMessage {
  const o = parseObject(json);
  switch (o['t']) {
    case 'hello':
      return { t: 'hello', v: uint(o, 'v'), rsaPublicKey: b64(o, 'rsaPublicKey') };
    case 'confirm':
      return { t: 'confirm', mac: b64(o, 'mac'), have: ranges(o, 'have'), maxRate: uint(o, 'maxRate'), kept: sha256Hex(o, 'kept') };
    case 'ack':
      return { t: 'ack', written: uint(o, 'written') };
    case 'want': {
      const length = uint(o, 'length');
      if (length === 0) throw protocolError('field length');
      return { t: 'want', offset: uint(o, 'offset'), length };
    }
    case 'done':
      return { t: 'done', sha256: sha256Hex(o, 'sha256') };
    case 'ping':
      return { t: 'ping' };
    case 'abort':
      return abortOf(o);
    default:
      throw protocolError('unknown type');
  }
}

export function parseHostMessage(json: string): HostMessage {
  const o = parseObject(json);
  switch (o['t']) {
    case 'key':
      return { t: 'key', v: uint(o, 'v'), encryptedKey: b64(o, 'encryptedKey'), mac: b64(o, 'mac') };
    case 'start':
      if (typeof o['resume'] !== 'boolean') throw protocolError('field resume');
      return { t: 'start', resume: o['resume'] };
    case 'manifest': {
      const data = str(o, 'data', (MANIFEST_PIECE_BYTES / 3) * 4);
      if (!isBase64(data) || data === '') throw protocolError('field data is not base64');
      return { t: 'manifest', data };
    }
    case 'end':
      return { t: 'end' };
    case 'ping':
      return { t: 'ping' };
    case 'abort':
      return abortOf(o);
    default:
      throw protocolError('unknown type');
  }
}

/**
 * What a transfer carries: a file (saved), a short text (`movie-share
 * --text`: printed by the receiver, at most MAX_TEXT_BYTES of UTF-8), or a
 * set of files and folders (the stream carries its files back to back; the
 * manifest, common/protocol/manifest.ts, says which is which).
 */
export type TransferKind = 'file' | 'text' | 'set';

/** What the key payload says of a set's manifest, which follows in `manifest` messages. */
export interface ManifestRef {
  bytes: number;
  /** SHA-256 of the manifest's bytes, hex */
  sha256: string;
}
/** the largest text a `text` transfer may carry, in bytes (both sides check) */
export const MAX_TEXT_BYTES = 64 * 1024;

/** The secret part of the key message, readable only with the receiver's RSA private key. */
export interface KeyPayload {
  /** 16 random bytes naming this transfer; bound into every chunk's AAD */
  transferId: Uint8Array;
  /** fresh AES-256-GCM key for the chunks */
  key: Uint8Array;
  /** SHA-256 of the whole file (of a set: of its stream, every file back to back), hex */
  sha256: string;
  size: number;
  /** the host's file name (of a set: its name for the set): metadata only, never used as a path */
  name: string;
  chunkSize: number;
  /** absent on the wire for a file (what hosts before it sent) */
  kind: TransferKind;
  /** a set's manifest: present exactly when kind is `set` */
  manifest?: ManifestRef;
}

export function serializeKeyPayload(p: KeyPayload): Uint8Array {
  return utf8(
    JSON.stringify({
      transferId: toBase64(p.transferId),
      key: toBase64(p.key),
      sha256: p.sha256,
      size: p.size,
      name: p.name,
      chunkSize: p.chunkSize,
      ...(p.kind !== 'file' ? { kind: p.kind } : {}),
      ...(p.manifest ? { manifest: p.manifest } : {}),
    }),
  );
}

export function parseKeyPayload(bytes: Uint8Array): KeyPayload {
  const o = parseObject(fromUtf8(bytes));
  const transferId = fromBase64(b64(o, 'transferId'));
  const key = fromBase64(b64(o, 'key'));
  const sha256 = str(o, 'sha256', 64);
  if (transferId.length !== 16 || key.length !== 32 || !/^[0-9a-f]{64}$/.test(sha256)) throw protocolError('key payload');
  const chunkSize = uint(o, 'chunkSize');
  if (chunkSize < 1024 || chunkSize > 16 * 1024 * 1024) throw protocolError('chunk size');
  const kind = o['kind'] ?? 'file';
  if (kind !== 'file' && kind !== 'text' && kind !== 'set') throw protocolError('field kind');
  const size = uint(o, 'size');
  if (kind === 'text' && size > MAX_TEXT_BYTES) throw protocolError(`a text of more than ${MAX_TEXT_BYTES} bytes`);
  const payload: KeyPayload = { transferId, key, sha256, size, name: str(o, 'name', 1024), chunkSize, kind };
  if (kind === 'set') {
    const m = o['manifest'];
    if (typeof m !== 'object' || m === null) throw protocolError('field manifest');
    const ref = m as Json;
    payload.manifest = { bytes: uint(ref, 'bytes'), sha256: sha256Hex(ref, 'sha256') };
    if (payload.manifest.bytes === 0) throw protocolError('field manifest');
  }
  return payload;
}
