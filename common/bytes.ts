/**
 * Bytes for the platform-neutral core. Everything at the core's boundaries is
 * a Uint8Array (Node's Buffer is one; the browser has no Buffer), and each
 * encoding that crosses the wire lives here once: UTF-8, base64 with its one
 * validator, hex, and big-endian unsigned integers (u64 up to 2^53 - 1).
 */
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';

export { bytesToHex, concatBytes, hexToBytes };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const utf8 = (s: string): Uint8Array => encoder.encode(s);
export const fromUtf8 = (b: Uint8Array): string => decoder.decode(b);

/** Canonical, padded base64 (what toBase64 writes): the one validator of base64 input. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isBase64(v: unknown, maxLength = Number.POSITIVE_INFINITY): v is string {
  return typeof v === 'string' && v.length <= maxLength && BASE64.test(v);
}

export function toBase64(b: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < b.length; i += 0x8000) bin += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** Decodes base64; throws a TypeError unless `s` is canonical base64 (isBase64). */
export function fromBase64(s: string): Uint8Array {
  if (!isBase64(s)) throw new TypeError('not canonical base64');
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Writes `value` (a safe integer >= 0) as a big-endian u64 at `offset`. */
export function writeU64(out: Uint8Array, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`bad u64 ${value}`);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint32(offset, Math.floor(value / 0x1_0000_0000));
  dv.setUint32(offset + 4, value >>> 0);
}

/** Reads a big-endian u64 at `offset` (exact up to 2^53 - 1). */
export function readU64(b: Uint8Array, offset: number): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return dv.getUint32(offset) * 0x1_0000_0000 + dv.getUint32(offset + 4);
}

export function u64(value: number): Uint8Array {
  const b = new Uint8Array(8);
  writeU64(b, 0, value);
  return b;
}

export function u32(value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value);
  return b;
}
