/**
 * Chunk framing and chunk encryption: the only place that knows how bytes sit
 * on the data channel.
 *
 *   control frame: 0x01 || utf8(JSON control message)
 *   chunk frame:   0x02 || flags(u8, bit0 = last) || u32be(i) || AES-256-GCM ciphertext || tag(16)
 *   stripe frame:  0x03 || utf8(JSON stripe message): only between two peers that
 *                  agreed on several connections (peer/transfer/stripes.ts); the
 *                  striping layer consumes them, the transfer never sees one
 *
 * Chunk i holds the file's bytes [i * chunkSize, (i + 1) * chunkSize). It is
 * sealed with the transfer's fresh key under
 *   nonce = 0x00000000 || u64be(i)
 *   aad   = "movie-share chunk v2" || transferId(16) || u64be(i) || flags
 * The index travels in clear so chunks can arrive in any order (a receiver
 * that seeks asks for a range first, docs/PROTOCOL.md §6), but it is bound
 * into the nonce and the AAD: a chunk moved to another index, or a flipped
 * last flag, fails authentication. The receiver checks the rest itself: an
 * index past the end, a chunk it already has, a last flag on any chunk but
 * the final one, and a stream that ends with chunks missing are all rejected.
 */
import { cryptoBackend, isPromise, type Awaitable } from '../crypto/backend.js';
import { fromUtf8, utf8, writeU64 } from '../bytes.js';
import { integrityError } from '../errors.js';

export const FRAME_CONTROL = 0x01;
export const FRAME_CHUNK = 0x02;
export const FRAME_STRIPE = 0x03;
export const FLAG_LAST = 0x01;
export const TAG_BYTES = 16;
/** type, flags, u32 index */
export const CHUNK_HEADER_BYTES = 6;
/** Bytes a chunk frame adds to its plaintext. */
export const CHUNK_OVERHEAD = CHUNK_HEADER_BYTES + TAG_BYTES;
export const TRANSFER_ID_BYTES = 16;
export const KEY_BYTES = 32;
/** the index is a u32 on the wire */
export const MAX_CHUNKS = 2 ** 32;

const AAD_LABEL = utf8('movie-share chunk v2');

export function chunkNonce(index: number): Uint8Array {
  const nonce = new Uint8Array(12);
  writeU64(nonce, 4, index);
  return nonce;
}

export function chunkAad(transferId: Uint8Array, index: number, flags: number): Uint8Array {
  const aad = new Uint8Array(AAD_LABEL.length + TRANSFER_ID_BYTES + 8 + 1);
  aad.set(AAD_LABEL, 0);
  aad.set(transferId, AAD_LABEL.length);
  writeU64(aad, AAD_LABEL.length + TRANSFER_ID_BYTES, index);
  aad[aad.length - 1] = flags;
  return aad;
}

/**
 * Seal chunk `index` into a ready-to-send frame. Synchronous with a
 * synchronous crypto backend (Node); a promise with WebCrypto.
 */
export function encodeChunk(key: Uint8Array, transferId: Uint8Array, index: number, last: boolean, plaintext: Uint8Array): Awaitable<Uint8Array> {
  const flags = last ? FLAG_LAST : 0;
  const frame = cryptoBackend().aesGcmSeal(key, chunkNonce(index), chunkAad(transferId, index, flags), plaintext, CHUNK_HEADER_BYTES);
  const header = (f: Uint8Array): Uint8Array => {
    f[0] = FRAME_CHUNK;
    f[1] = flags;
    new DataView(f.buffer, f.byteOffset, CHUNK_HEADER_BYTES).setUint32(2, index);
    return f;
  };
  return isPromise(frame) ? frame.then(header) : header(frame);
}

export interface OpenedChunk {
  index: number;
  plaintext: Uint8Array;
  last: boolean;
}

const damaged = (index: number) =>
  integrityError(`Piece ${index} of the file failed authentication (tampered, missing, repeated or out of order); nothing was saved. Try the transfer again.`);

/** The index a chunk frame claims (unauthenticated until decodeChunk opened it). */
export function chunkIndex(frame: Uint8Array): number {
  if (frame.length < CHUNK_OVERHEAD || frame[0] !== FRAME_CHUNK) {
    throw integrityError('A damaged piece of the file arrived (bad frame); nothing was saved. Try the transfer again.');
  }
  return new DataView(frame.buffer, frame.byteOffset, CHUNK_HEADER_BYTES).getUint32(2);
}

/**
 * Open a chunk frame of a transfer of `count` chunks. Throws (or rejects,
 * with an asynchronous backend) an integrity error (exit 3) when it does not
 * authenticate or claims a place it cannot have.
 */
export function decodeChunk(key: Uint8Array, transferId: Uint8Array, count: number, frame: Uint8Array): Awaitable<OpenedChunk> {
  const index = chunkIndex(frame);
  const flags = frame[1]!;
  if ((flags & ~FLAG_LAST) !== 0) {
    throw integrityError('A damaged piece of the file arrived (unknown flags); nothing was saved. Try the transfer again.');
  }
  const last = (flags & FLAG_LAST) !== 0;
  if (index >= count || last !== (index === count - 1)) throw damaged(index);
  let plaintext: Awaitable<Uint8Array>;
  try {
    plaintext = cryptoBackend().aesGcmOpen(key, chunkNonce(index), chunkAad(transferId, index, flags), frame.subarray(CHUNK_HEADER_BYTES));
  } catch {
    throw damaged(index);
  }
  if (!isPromise(plaintext)) return { index, plaintext, last };
  return plaintext.then(
    (p) => ({ index, plaintext: p, last }),
    () => {
      throw damaged(index);
    },
  );
}

export function encodeControl(json: string): Uint8Array {
  const body = utf8(json);
  const frame = new Uint8Array(1 + body.length);
  frame[0] = FRAME_CONTROL;
  frame.set(body, 1);
  return frame;
}

export type Frame = { kind: 'control'; json: string } | { kind: 'chunk'; frame: Uint8Array };

/** Classify an incoming frame without copying chunk payloads. */
export function classifyFrame(frame: Uint8Array): Frame {
  if (frame.length >= 1 && frame[0] === FRAME_CONTROL) {
    return { kind: 'control', json: fromUtf8(frame.subarray(1)) };
  }
  return { kind: 'chunk', frame };
}

/** Number of chunks for `bytes` of plaintext (an empty file is one empty last chunk). */
export function chunkCount(bytes: number, chunkSize: number): number {
  return bytes === 0 ? 1 : Math.ceil(bytes / chunkSize);
}
