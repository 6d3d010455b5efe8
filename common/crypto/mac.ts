/**
 * MAC primitives for key confirmation (node:crypto HMAC-SHA256) and an
 * unambiguous encoding for the transcripts they cover.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Length of an HMAC-SHA256 tag. */
export const MAC_BYTES = 32;

/**
 * HMAC-SHA256(key, parts[0] || parts[1] || ...). The parts are simply
 * concatenated: pass lengthPrefixed(...) when their boundaries matter.
 */
export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * Constant-time equality of two tags (crypto.timingSafeEqual). Returns false,
 * without throwing, when the lengths differ (the length is not secret).
 */
export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) return false;
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/**
 * Injective encoding of a list of byte strings: for each part, its length as a
 * 32-bit big-endian integer, then its bytes. Two different lists never encode
 * to the same bytes, so a transcript built with it cannot be re-split.
 */
export function lengthPrefixed(...parts: Uint8Array[]): Buffer {
  let total = 0;
  for (const p of parts) {
    if (p.length > 0xffffffff) throw new RangeError('part too long for a u32 length prefix');
    total += 4 + p.length;
  }
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  for (const p of parts) {
    off = out.writeUInt32BE(p.length, off);
    out.set(p, off);
    off += p.length;
  }
  return out;
}
