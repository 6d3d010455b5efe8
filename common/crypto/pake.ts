/**
 * CPace over ristretto255 with SHA-512 (cipher suite CPACE-RISTR255-SHA512),
 * as specified in draft-irtf-cfrg-cpace-21 (CFRG, 23 April 2026), §7 (the
 * protocol), §8.1 (generator string), §8.3 (ristretto255 group) and Appendix A
 * (string utilities). Checked against the draft's Appendix B.3 test vectors in
 * test/unit/pake.test.ts.
 *
 * Transcript variant: initiator-responder, transcript_ir(Ya,ADa,Yb,ADb) =
 * lv_cat(Ya,ADa) || lv_cat(Yb,ADb), where A (Ya, ADa) is always the
 * initiator = the host and B the responder = the receiver. Roles are fixed by
 * the application (never negotiated), which the draft (§10.1.2) names as the
 * defence against relay/loop-back confusion. The messages are still
 * independent: both sides may send theirs at once (CPace is one round).
 *
 * Built only on @noble/curves (ristretto255 encode/decode, element
 * derivation, scalar multiplication) and @noble/hashes (SHA-512).
 */
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { bytesToNumberLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { cryptoBackend } from './backend.js';
import { AUTH_FAILURE_SENTENCE, ExitCode, MovieShareError } from '../errors.js';
import type { Role } from '../protocol/signal-protocol.js';

/** A ristretto255 group element (noble's RistrettoPoint). */
export type RistrettoPoint = InstanceType<typeof ristretto255.Point>;

const Point = ristretto255.Point;
const Fn = Point.Fn;
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const EMPTY = new Uint8Array(0);

/** G.DSI for G_Ristretto255 (draft §8.3). */
export const DSI: Uint8Array = utf8('CPaceRistretto255');
/** G.DSI || "_ISK", the ISK domain separator (draft §7.2). */
export const DSI_ISK: Uint8Array = utf8('CPaceRistretto255_ISK');
/** H.s_in_bytes: SHA-512's input block size (draft §6.2). */
export const SHA512_BLOCK_BYTES = 128;
/** Length of an encoded ristretto255 element. */
export const ELEMENT_BYTES = 32;
/** G.I: the encoding of the neutral element (32 zero bytes). */
export const IDENTITY: Uint8Array = new Uint8Array(ELEMENT_BYTES);

/** Our vocabulary: the host is CPace's initiator (its share comes first in the transcript), the receiver its responder. */
export type PakeRole = Role;

export interface PakeStart {
  /** This side's CPace message, Y || AD (32-byte element, then the caller's ad, if any). Send it to the peer. */
  message: Uint8Array;
  /**
   * Takes the peer's message and returns the 64-byte ISK. Throws
   * MovieShareError(ExitCode.Auth, AUTH_FAILURE_SENTENCE) if the peer's
   * element is short, not a canonical ristretto255 encoding, or yields the
   * identity. One shot: a second call throws (the scalar is discarded).
   */
  finish(peerMessage: Uint8Array): Uint8Array;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** prepend_len (draft A.1.1): the LEB128 encoding of len(data), then data. */
export function prependLen(data: Uint8Array): Uint8Array {
  const len: number[] = [];
  let n = data.length;
  do {
    const low = n & 0x7f;
    n = Math.floor(n / 128);
    len.push(n > 0 ? low | 0x80 : low);
  } while (n > 0);
  return concat(Uint8Array.from(len), data);
}

/** lv_cat (draft A.1.3): the concatenation of prepend_len of each argument. */
export function lvCat(...parts: Uint8Array[]): Uint8Array {
  return concat(...parts.map(prependLen));
}

/**
 * generator_string (draft §8.1, A.2): lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid)
 * with len_zpad = max(0, s_in_bytes - 1 - len(prepend_len(PRS)) - len(prepend_len(DSI))).
 */
export function generatorString(dsi: Uint8Array, prs: Uint8Array, ci: Uint8Array, sid: Uint8Array, sInBytes: number): Uint8Array {
  const zpad = Math.max(0, sInBytes - 1 - prependLen(prs).length - prependLen(dsi).length);
  return lvCat(dsi, prs, new Uint8Array(zpad), ci, sid);
}

/**
 * G.calculate_generator (draft §8.3): element_derivation (RFC 9496 §4.3.4,
 * noble's deriveToCurve) of SHA-512(generator_string(DSI, PRS, CI, sid, 128)).
 * Deterministic; the result is secret (it depends on the password).
 */
export function calculateGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): RistrettoPoint {
  if (ristretto255_hasher.deriveToCurve === undefined) throw new Error('@noble/curves lacks ristretto255 element derivation');
  const g = ristretto255_hasher.deriveToCurve(sha512(generatorString(DSI, prs, ci, sid, SHA512_BLOCK_BYTES)));
  if (g.is0()) throw new Error('CPace generator is the identity'); // probability ~2^-252
  return g;
}

/**
 * G.sample_scalar: a uniform scalar in [1, order-1], by reducing 64 random
 * bytes modulo the group order (draft §10.7's oversample-and-reduce option;
 * bias < 2^-250), retried in the negligible case it is zero.
 */
export function sampleScalar(): bigint {
  for (;;) {
    const y = Fn.create(bytesToNumberLE(cryptoBackend().randomBytes(64)));
    if (y !== 0n) return y;
  }
}

/** Interprets little-endian bytes as a scalar reduced modulo the group order (test vectors give scalars this way). */
export function scalarFromBytesLE(bytes: Uint8Array): bigint {
  return Fn.create(bytesToNumberLE(bytes));
}

/** G.scalar_mult(y, g) (draft §8.3): encode(y * g). `y` is reduced mod the order and must not be 0. */
export function scalarMult(y: bigint, g: RistrettoPoint): Uint8Array {
  const s = Fn.create(y);
  if (s === 0n) throw new RangeError('CPace scalar must not be zero');
  return g.multiply(s).toBytes();
}

/**
 * G.scalar_mult_vfy(y, X) (draft §8.3): encode(y * decode(X)), or IDENTITY
 * (G.I) if X is not exactly 32 bytes, does not decode as a canonical
 * ristretto255 encoding, or the product is the neutral element.
 */
export function scalarMultVfy(y: bigint, X: Uint8Array): Uint8Array {
  if (!(X instanceof Uint8Array) || X.length !== ELEMENT_BYTES) return IDENTITY.slice();
  let P: RistrettoPoint;
  try {
    P = Point.fromBytes(X);
  } catch {
    return IDENTITY.slice();
  }
  const s = Fn.create(y);
  if (P.is0() || s === 0n) return IDENTITY.slice();
  const K = P.multiply(s);
  return K.is0() ? IDENTITY.slice() : K.toBytes();
}

/** True iff `x` is the encoding of the neutral element (constant-time over 32 bytes). */
export function isIdentity(x: Uint8Array): boolean {
  if (x.length !== ELEMENT_BYTES) return false;
  let acc = 0;
  for (const b of x) acc |= b;
  return acc === 0;
}

/** transcript_ir (draft A.3.4): lv_cat(Ya, ADa) || lv_cat(Yb, ADb). Initiator/responder, as movie-share runs CPace (host first). */
export function transcriptIr(Ya: Uint8Array, ADa: Uint8Array, Yb: Uint8Array, ADb: Uint8Array): Uint8Array {
  return concat(lvCat(Ya, ADa), lvCat(Yb, ADb));
}

/** ISK = SHA-512(lv_cat(DSI_ISK, sid, K) || transcript) (draft §7.2). 64 bytes. */
export function intermediateSessionKey(sid: Uint8Array, K: Uint8Array, transcript: Uint8Array): Uint8Array {
  return sha512(concat(lvCat(DSI_ISK, sid, K), transcript));
}

/** Bytes of the random nonce each side contributes to the session id. */
export const SID_NONCE_BYTES = 32;
const SID_LABEL: Uint8Array = utf8('movie-share/v2/sid');

/**
 * The CPace session id of one rendezvous: H(lv_cat("movie-share/v2/sid",
 * room, nonce_host, nonce_receiver)) with H = SHA-512, the suite's hash. Each
 * side contributes a fresh random nonce (in a message before its share), so
 * the sid is unique to this run even though the room id is short and
 * public, as the draft asks of a sid: both sides compute the same one
 * only from both nonces as sent.
 */
export function sessionId(room: string, nonceHost: Uint8Array, nonceReceiver: Uint8Array): Uint8Array {
  if (nonceHost.length !== SID_NONCE_BYTES || nonceReceiver.length !== SID_NONCE_BYTES) throw new RangeError(`sid nonces are ${SID_NONCE_BYTES} bytes`);
  return sha512(lvCat(SID_LABEL, utf8(room), nonceHost, nonceReceiver));
}

export interface PakeOptions {
  /** PRS: the shared password, movie-share passes UTF-8 of ParsedCode.canonical. */
  password: Uint8Array;
  role: PakeRole;
  /** Public session id both sides know; movie-share passes sessionId(room, nonce_host, nonce_receiver). */
  sid: Uint8Array;
  /** Channel identifier, secret-or-public context both sides share (default empty). */
  ci?: Uint8Array;
  /** This side's associated data, sent in clear after Y and authenticated by the ISK (default empty). */
  ad?: Uint8Array;
}

/**
 * Starts one CPace run: derives the password generator, samples a fresh
 * scalar, and returns this side's message and a one-shot finish(). Both sides
 * derive the same ISK iff they used the same password, sid and ci, opposite
 * roles, and each received the other's unmodified message.
 */
export function pakeStart(opts: PakeOptions): PakeStart {
  return pakeStartWithScalar(opts, sampleScalar());
}

/**
 * pakeStart with a caller-chosen scalar. For test vectors only: a scalar must
 * never be used twice, and must come from sampleScalar() in real runs.
 */
export function pakeStartWithScalar(opts: PakeOptions, scalar: bigint): PakeStart {
  const { password, role, sid } = opts;
  const ci = opts.ci ?? EMPTY;
  const ownAd = (opts.ad ?? EMPTY).slice();
  if (role !== 'host' && role !== 'receiver') throw new TypeError(`unknown PAKE role ${String(role)}`);
  const g = calculateGenerator(password, ci, sid);
  let y: bigint | undefined = scalar;
  const ownY = scalarMult(y, g);
  const message = concat(ownY, ownAd);
  const sidCopy = sid.slice();
  return {
    message,
    finish(peerMessage: Uint8Array): Uint8Array {
      if (y === undefined) throw new Error('PakeStart.finish() may be called only once');
      const mine = y;
      y = undefined;
      if (!(peerMessage instanceof Uint8Array) || peerMessage.length < ELEMENT_BYTES) {
        throw new MovieShareError(ExitCode.Auth, AUTH_FAILURE_SENTENCE, {
          cause: new Error('the peer’s PAKE message is too short'),
        });
      }
      const peerY = peerMessage.slice(0, ELEMENT_BYTES);
      const peerAd = peerMessage.slice(ELEMENT_BYTES);
      const K = scalarMultVfy(mine, peerY);
      if (isIdentity(K)) {
        throw new MovieShareError(ExitCode.Auth, AUTH_FAILURE_SENTENCE, {
          cause: new Error('the peer’s PAKE element is invalid or the identity'),
        });
      }
      const transcript = role === 'host' ? transcriptIr(ownY, ownAd, peerY, peerAd) : transcriptIr(peerY, peerAd, ownY, ownAd);
      return intermediateSessionKey(sidCopy, K, transcript);
    },
  };
}
