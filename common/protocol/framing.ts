/**
 * Chunk framing and chunk encryption: the only place that knows how bytes sit
 * on the data channel.
 *
 *   control frame: 0x01 || utf8(JSON control message)
 *   chunk frame:   0x02 || flags(u8, bit0 = last) || AES-256-GCM ciphertext || tag(16)
 *
 * Chunk i of a transfer is sealed with the transfer's fresh key under
 *   nonce = 0x00000000 || u64be(i)
 *   aad   = "movie-share chunk v1" || transferId(16) || u64be(i) || flags
 * The receiver computes i itself (it counts), so a dropped, duplicated,
 * reordered or flag-flipped chunk fails authentication, and a stream that ends
 * without an authenticated last chunk, or goes on after it, is rejected.
 */
import { cryptoBackend, isPromise, type Awaitable } from '../crypto/backend.js';
import { fromUtf8, utf8, writeU64 } from '../bytes.js';
import { integrityError } from '../errors.js';

export const FRAME_CONTROL = 0x01;
export const FRAME_CHUNK = 0x02;
export const FLAG_LAST = 0x01;
export const TAG_BYTES = 16;
export const CHUNK_HEADER_BYTES = 2;
/** Bytes a chunk frame adds to its plaintext. */
export const CHUNK_OVERHEAD = CHUNK_HEADER_BYTES + TAG_BYTES;
export const TRANSFER_ID_BYTES = 16;
export const KEY_BYTES = 32;

const AAD_LABEL = utf8('movie-share chunk v1');

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
    return f;
  };
  return isPromise(frame) ? frame.then(header) : header(frame);
}

export interface OpenedChunk {
  plaintext: Uint8Array;
  last: boolean;
}

const damaged = (index: number) =>
  integrityError(`Piece ${index} of the file failed authentication (tampered, missing, repeated or out of order); nothing was saved. Try the transfer again.`);

/**
 * Open a chunk frame that the receiver expects to be chunk `index`. Throws
 * (or rejects, with an asynchronous backend) an integrity error (exit 3) when
 * it does not authenticate.
 */
export function decodeChunk(key: Uint8Array, transferId: Uint8Array, index: number, frame: Uint8Array): Awaitable<OpenedChunk> {
  if (frame.length < CHUNK_OVERHEAD || frame[0] !== FRAME_CHUNK) {
    throw integrityError('A damaged piece of the file arrived (bad frame); nothing was saved. Try the transfer again.');
  }
  const flags = frame[1]!;
  if ((flags & ~FLAG_LAST) !== 0) {
    throw integrityError('A damaged piece of the file arrived (unknown flags); nothing was saved. Try the transfer again.');
  }
  const last = (flags & FLAG_LAST) !== 0;
  let plaintext: Awaitable<Uint8Array>;
  try {
    plaintext = cryptoBackend().aesGcmOpen(key, chunkNonce(index), chunkAad(transferId, index, flags), frame.subarray(CHUNK_HEADER_BYTES));
  } catch {
    throw damaged(index);
  }
  if (!isPromise(plaintext)) return { plaintext, last };
  return plaintext.then(
    (p) => ({ plaintext: p, last }),
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
