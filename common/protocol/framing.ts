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
import { createCipheriv, createDecipheriv } from 'node:crypto';
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

const AAD_LABEL = Buffer.from('movie-share chunk v1', 'ascii');

function writeU64(buf: Buffer, value: number, offset: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`bad u64 ${value}`);
  buf.writeUInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

export function readU64(buf: Uint8Array, offset: number): number {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return b.readUInt32BE(offset) * 0x1_0000_0000 + b.readUInt32BE(offset + 4);
}

export function chunkNonce(index: number): Buffer {
  const nonce = Buffer.alloc(12);
  writeU64(nonce, index, 4);
  return nonce;
}

export function chunkAad(transferId: Uint8Array, index: number, flags: number): Buffer {
  const aad = Buffer.alloc(AAD_LABEL.length + TRANSFER_ID_BYTES + 8 + 1);
  AAD_LABEL.copy(aad, 0);
  aad.set(transferId, AAD_LABEL.length);
  writeU64(aad, index, AAD_LABEL.length + TRANSFER_ID_BYTES);
  aad[aad.length - 1] = flags;
  return aad;
}

/** Seal chunk `index` into a ready-to-send frame. */
export function encodeChunk(key: Uint8Array, transferId: Uint8Array, index: number, last: boolean, plaintext: Uint8Array): Buffer {
  const flags = last ? FLAG_LAST : 0;
  const cipher = createCipheriv('aes-256-gcm', key, chunkNonce(index));
  cipher.setAAD(chunkAad(transferId, index, flags));
  const frame = Buffer.allocUnsafe(CHUNK_HEADER_BYTES + plaintext.length + TAG_BYTES);
  frame[0] = FRAME_CHUNK;
  frame[1] = flags;
  const body = cipher.update(plaintext);
  body.copy(frame, CHUNK_HEADER_BYTES);
  const fin = cipher.final();
  fin.copy(frame, CHUNK_HEADER_BYTES + body.length);
  cipher.getAuthTag().copy(frame, CHUNK_HEADER_BYTES + plaintext.length);
  return frame;
}

export interface OpenedChunk {
  plaintext: Buffer;
  last: boolean;
}

/**
 * Open a chunk frame that the receiver expects to be chunk `index`.
 * Throws an integrity error (exit 3) when it does not authenticate.
 */
export function decodeChunk(key: Uint8Array, transferId: Uint8Array, index: number, frame: Uint8Array): OpenedChunk {
  if (frame.length < CHUNK_OVERHEAD || frame[0] !== FRAME_CHUNK) {
    throw integrityError('A damaged piece of the file arrived (bad frame); nothing was saved. Try the transfer again.');
  }
  const flags = frame[1]!;
  if ((flags & ~FLAG_LAST) !== 0) {
    throw integrityError('A damaged piece of the file arrived (unknown flags); nothing was saved. Try the transfer again.');
  }
  const tagStart = frame.length - TAG_BYTES;
  const decipher = createDecipheriv('aes-256-gcm', key, chunkNonce(index));
  decipher.setAAD(chunkAad(transferId, index, flags));
  decipher.setAuthTag(frame.subarray(tagStart));
  try {
    const body = decipher.update(frame.subarray(CHUNK_HEADER_BYTES, tagStart));
    const fin = decipher.final();
    const plaintext = fin.length === 0 ? body : Buffer.concat([body, fin]);
    return { plaintext, last: (flags & FLAG_LAST) !== 0 };
  } catch {
    throw integrityError(
      `Piece ${index} of the file failed authentication (tampered, missing, repeated or out of order); nothing was saved. Try the transfer again.`,
    );
  }
}

export function encodeControl(json: string): Buffer {
  const body = Buffer.from(json, 'utf8');
  const frame = Buffer.allocUnsafe(1 + body.length);
  frame[0] = FRAME_CONTROL;
  body.copy(frame, 1);
  return frame;
}

export type Frame = { kind: 'control'; json: string } | { kind: 'chunk'; frame: Uint8Array };

/** Classify an incoming frame without copying chunk payloads. */
export function classifyFrame(frame: Uint8Array): Frame {
  if (frame.length >= 1 && frame[0] === FRAME_CONTROL) {
    return { kind: 'control', json: Buffer.from(frame.buffer, frame.byteOffset + 1, frame.byteLength - 1).toString('utf8') };
  }
  return { kind: 'chunk', frame };
}

/** Number of chunks for `bytes` of plaintext (an empty file is one empty last chunk). */
export function chunkCount(bytes: number, chunkSize: number): number {
  return bytes === 0 ? 1 : Math.ceil(bytes / chunkSize);
}
