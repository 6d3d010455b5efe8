/**
 * Sealing of signaling payloads (SDP, ICE candidates) with AES-256-GCM
 * (node:crypto) under a key from the PAKE (common/session-keys.ts), so the
 * signaling server can neither read them nor substitute its own.
 *
 * Format: base64(nonce(12 random bytes) || ciphertext || tag(16)).
 * Use one key per direction (sealHostToReceiver / sealReceiverToHost) and put
 * the message kind and room in `aad`, so a sealed message cannot be replayed in
 * the other direction or as another kind of message. Random 96-bit nonces are
 * safe for far more messages than one transfer's signaling sends.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AUTH_FAILURE_SENTENCE, ExitCode, MovieShareError } from '../errors.js';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function checkKey(key: Buffer): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new TypeError(`seal/open need a ${KEY_BYTES}-byte AES-256-GCM key`);
  }
}

/** Encrypts and authenticates `plaintext` (binding `aad`) under `key`; returns base64(nonce || ciphertext || tag). */
export function seal(key: Buffer, plaintext: Uint8Array, aad: Uint8Array): string {
  checkKey(key);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, ct, cipher.getAuthTag()]).toString('base64');
}

/**
 * Decrypts a value from seal() made with the same key and aad. Returns the
 * plaintext only if it authenticates; on anything else (not a string, not
 * canonical base64, too short, wrong key, wrong aad, any modified byte) throws
 * MovieShareError(ExitCode.Auth, AUTH_FAILURE_SENTENCE).
 */
export function open(key: Buffer, sealed: string, aad: Uint8Array): Buffer {
  checkKey(key);
  const fail = (why: string): MovieShareError =>
    new MovieShareError(ExitCode.Auth, AUTH_FAILURE_SENTENCE, { cause: new Error(`sealed signaling message: ${why}`) });
  if (typeof sealed !== 'string' || !BASE64.test(sealed)) throw fail('not base64');
  const raw = Buffer.from(sealed, 'base64');
  if (raw.length < NONCE_BYTES + TAG_BYTES) throw fail('too short');
  const nonce = raw.subarray(0, NONCE_BYTES);
  const tag = raw.subarray(raw.length - TAG_BYTES);
  const ct = raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ct), decipher.final()]);
  } catch {
    throw fail('authentication failed');
  }
}
