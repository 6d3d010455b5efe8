/**
 * Sealing of signaling payloads (SDP, ICE candidates) with AES-256-GCM under
 * a key from the PAKE (common/crypto/session-keys.ts), so the signaling server
 * can neither read them nor substitute its own.
 *
 * Format: base64(u32be(seq) || nonce(12 random bytes) || ciphertext || tag(16)).
 * Use one key per direction (sealHostToReceiver / sealReceiverToHost) and put
 * the message kind and room in `aad`, so a sealed message cannot be replayed in
 * the other direction or as another kind of message. `seq` numbers the
 * sender's messages (of one kind, in one direction: 0, 1, 2, …); it travels in
 * clear and is bound into the AEAD's associated data (aad || u32be(seq)), so a
 * message opens only as the number it was sealed under: the receiver, which
 * expects exactly the next number, can tell a replay (an old number, see
 * sealedSeq) from the next message, and a message moved to another place does
 * not open. Random 96-bit nonces are safe for far more messages than one
 * transfer's signaling sends.
 */
import { cryptoBackend } from './backend.js';
import { AUTH_FAILURE_SENTENCE, ExitCode, MovieShareError } from '../errors.js';
import { concatBytes, fromBase64, isBase64, toBase64, u32 } from '../bytes.js';

const SEQ_BYTES = 4;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new TypeError(`seal/open need a ${KEY_BYTES}-byte AES-256-GCM key`);
  }
}

function checkSeq(seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > 0xffffffff) throw new RangeError('a sealed message number is a u32');
}

/** Encrypts and authenticates `plaintext` (binding `aad` and `seq`) under `key`; returns base64(u32be(seq) || nonce || ciphertext || tag). */
export async function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, seq: number): Promise<string> {
  checkKey(key);
  checkSeq(seq);
  const nonce = cryptoBackend().randomBytes(NONCE_BYTES);
  const sealed = await cryptoBackend().aesGcmSeal(key, nonce, concatBytes(aad, u32(seq)), plaintext);
  return toBase64(concatBytes(u32(seq), nonce, sealed));
}

/** The number a sealed message claims (unauthenticated until open() succeeds), or undefined if it is too short to have one. */
export function sealedSeq(sealed: string): number | undefined {
  if (!isBase64(sealed)) return undefined;
  const raw = fromBase64(sealed);
  if (raw.length < SEQ_BYTES + NONCE_BYTES + TAG_BYTES) return undefined;
  return new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getUint32(0);
}

/**
 * Decrypts a value from seal() made with the same key, aad and number `seq`.
 * Returns the plaintext only if it authenticates; on anything else (not a
 * string, not canonical base64, too short, another number, wrong key, wrong
 * aad, any modified byte) rejects with MovieShareError(ExitCode.Auth,
 * AUTH_FAILURE_SENTENCE).
 */
export async function open(key: Uint8Array, sealed: string, aad: Uint8Array, seq: number): Promise<Uint8Array> {
  checkKey(key);
  checkSeq(seq);
  const fail = (why: string): MovieShareError => new MovieShareError(ExitCode.Auth, AUTH_FAILURE_SENTENCE, { cause: new Error(`sealed signaling message: ${why}`) });
  if (!isBase64(sealed)) throw fail('not base64');
  const raw = fromBase64(sealed);
  if (raw.length < SEQ_BYTES + NONCE_BYTES + TAG_BYTES) throw fail('too short');
  if (sealedSeq(sealed) !== seq) throw fail(`number ${sealedSeq(sealed)} where ${seq} was expected (replayed or reordered)`);
  try {
    return await cryptoBackend().aesGcmOpen(key, raw.subarray(SEQ_BYTES, SEQ_BYTES + NONCE_BYTES), concatBytes(aad, u32(seq)), raw.subarray(SEQ_BYTES + NONCE_BYTES));
  } catch {
    throw fail('authentication failed');
  }
}
