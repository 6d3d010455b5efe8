/**
 * Sealing of signaling payloads (SDP, ICE candidates) with AES-256-GCM under
 * a key from the PAKE (common/crypto/session-keys.ts), so the signaling server
 * can neither read them nor substitute its own.
 *
 * Format: base64(nonce(12 random bytes) || ciphertext || tag(16)).
 * Use one key per direction (sealHostToReceiver / sealReceiverToHost) and put
 * the message kind and room in `aad`, so a sealed message cannot be replayed in
 * the other direction or as another kind of message. Random 96-bit nonces are
 * safe for far more messages than one transfer's signaling sends.
 */
import { cryptoBackend } from './backend.js';
import { AUTH_FAILURE_SENTENCE, ExitCode, MovieShareError } from '../errors.js';
import { concatBytes, fromBase64, isBase64, toBase64 } from '../bytes.js';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new TypeError(`seal/open need a ${KEY_BYTES}-byte AES-256-GCM key`);
  }
}

/** Encrypts and authenticates `plaintext` (binding `aad`) under `key`; returns base64(nonce || ciphertext || tag). */
export async function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<string> {
  checkKey(key);
  const nonce = cryptoBackend().randomBytes(NONCE_BYTES);
  const sealed = await cryptoBackend().aesGcmSeal(key, nonce, aad, plaintext);
  return toBase64(concatBytes(nonce, sealed));
}

/**
 * Decrypts a value from seal() made with the same key and aad. Returns the
 * plaintext only if it authenticates; on anything else (not a string, not
 * canonical base64, too short, wrong key, wrong aad, any modified byte)
 * rejects with MovieShareError(ExitCode.Auth, AUTH_FAILURE_SENTENCE).
 */
export async function open(key: Uint8Array, sealed: string, aad: Uint8Array): Promise<Uint8Array> {
  checkKey(key);
  const fail = (why: string): MovieShareError => new MovieShareError(ExitCode.Auth, AUTH_FAILURE_SENTENCE, { cause: new Error(`sealed signaling message: ${why}`) });
  if (!isBase64(sealed)) throw fail('not base64');
  const raw = fromBase64(sealed);
  if (raw.length < NONCE_BYTES + TAG_BYTES) throw fail('too short');
  try {
    return await cryptoBackend().aesGcmOpen(key, raw.subarray(0, NONCE_BYTES), aad, raw.subarray(NONCE_BYTES));
  } catch {
    throw fail('authentication failed');
  }
}
