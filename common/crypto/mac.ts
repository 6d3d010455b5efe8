/**
 * MAC primitives for key confirmation (HMAC-SHA256 from the crypto backend),
 * the one constant-time comparison of the code base (@noble/curves'
 * equalBytes: it reads every byte whatever differs, on every platform), and an
 * unambiguous encoding for the transcripts the MACs cover.
 */
import { equalBytes } from '@noble/curves/utils.js';
import { cryptoBackend } from './backend.js';
import { u32 } from '../bytes.js';

/** Length of an HMAC-SHA256 tag. */
export const MAC_BYTES = 32;

/**
 * HMAC-SHA256(key, parts[0] || parts[1] || ...). The parts are simply
 * concatenated: pass lengthPrefixed(...) when their boundaries matter.
 */
export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  return cryptoBackend().hmacSha256(key, parts);
}

/**
 * Constant-time equality of two secrets (MACs, tokens, digests). Returns
 * false, without throwing, when either is not bytes or the lengths differ
 * (the length is not secret).
 */
export function constantTimeEqual(a: unknown, b: unknown): boolean {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) return false;
  if (a.length !== b.length) return false;
  return equalBytes(a, b);
}

/**
 * Injective encoding of a list of byte strings: for each part, its length as a
 * 32-bit big-endian integer, then its bytes. Two different lists never encode
 * to the same bytes, so a transcript built with it cannot be re-split.
 */
export function lengthPrefixed(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) {
    if (p.length > 0xffffffff) throw new RangeError('part too long for a u32 length prefix');
    total += 4 + p.length;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(u32(p.length), off);
    out.set(p, off + 4);
    off += 4 + p.length;
  }
  return out;
}
