/**
 * Key transport: the receiver makes a fresh RSA-OAEP (3072-bit, SHA-256) key
 * pair per transfer; the host encrypts the key message to it. Because the
 * payload (key, hash, size, name) can exceed what one OAEP block holds, it is
 * sealed hybrid-style: OAEP wraps a fresh 32-byte wrapping key, and
 * AES-256-GCM under that key carries the payload.
 *
 *   encryptedKey = u16be(len(W)) || W || nonce(12) || GCM(wrapKey, payload) || tag(16)
 *   W            = RSA-OAEP-SHA256(receiverPublicKey, wrapKey)
 */
import { cryptoBackend, type RsaKeyPair, type RsaPrivateKey, type RsaPublicKey } from './backend.js';
import { authError, AUTH_FAILURE_SENTENCE } from '../errors.js';
import { concatBytes } from '../bytes.js';

export const RSA_BITS = 3072;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export type ReceiverKeyPair = RsaKeyPair;

export function generateReceiverKeyPair(): Promise<ReceiverKeyPair> {
  return cryptoBackend().generateRsaKeyPair(RSA_BITS);
}

/** Parse a peer's public key; only RSA keys of exactly RSA_BITS are accepted (else exit 4). */
export async function importReceiverPublicKey(der: Uint8Array): Promise<RsaPublicKey> {
  let parsed: { key: RsaPublicKey; bits: number | undefined };
  try {
    parsed = await cryptoBackend().importRsaPublicKey(der);
  } catch {
    throw authError(AUTH_FAILURE_SENTENCE);
  }
  if (parsed.bits !== RSA_BITS) throw authError(AUTH_FAILURE_SENTENCE);
  return parsed.key;
}

export async function encryptKeyMessage(publicKey: RsaPublicKey, payload: Uint8Array): Promise<Uint8Array> {
  const c = cryptoBackend();
  const wrapKey = c.randomBytes(32);
  const wrapped = await c.rsaOaepEncrypt(publicKey, wrapKey);
  const nonce = c.randomBytes(NONCE_BYTES);
  const sealed = await c.aesGcmSeal(wrapKey, nonce, new Uint8Array(0), payload);
  const len = new Uint8Array([wrapped.length >> 8, wrapped.length & 0xff]);
  return concatBytes(len, wrapped, nonce, sealed);
}

/** Rejects with an authentication error (exit 4) if the message was not made for this key. */
export async function decryptKeyMessage(privateKey: RsaPrivateKey, message: Uint8Array): Promise<Uint8Array> {
  try {
    if (message.length < 2) throw new Error('short');
    const len = (message[0]! << 8) | message[1]!;
    const wrapped = message.subarray(2, 2 + len);
    const nonce = message.subarray(2 + len, 2 + len + NONCE_BYTES);
    const sealed = message.subarray(2 + len + NONCE_BYTES);
    if (wrapped.length !== len || nonce.length !== NONCE_BYTES || sealed.length < TAG_BYTES) throw new Error('short');
    const c = cryptoBackend();
    const wrapKey = await c.rsaOaepDecrypt(privateKey, wrapped);
    return await c.aesGcmOpen(wrapKey, nonce, new Uint8Array(0), sealed);
  } catch {
    throw authError(AUTH_FAILURE_SENTENCE);
  }
}
