/**
 * Key transport: the receiver makes a fresh RSA-OAEP
 * (3072-bit, SHA-256) key pair per transfer; the sender encrypts the key
 * message to it. Because the payload (key, hash, size, name) can exceed what
 * one OAEP block holds, it is sealed hybrid-style: OAEP wraps a fresh 32-byte
 * wrapping key, and AES-256-GCM under that key carries the payload.
 *
 *   encryptedKey = u16be(len(W)) || W || nonce(12) || GCM(wrapKey, payload) || tag(16)
 *   W            = RSA-OAEP-SHA256(receiverPublicKey, wrapKey)
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  generateKeyPair,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import { authError, AUTH_FAILURE_SENTENCE } from './errors.js';

export const RSA_BITS = 3072;
const generateKeyPairAsync = promisify(generateKeyPair);

export interface ReceiverKeyPair {
  privateKey: KeyObject;
  /** DER SubjectPublicKeyInfo, as sent in `hello` and bound into the transcript */
  publicKeyDer: Buffer;
}

export async function generateReceiverKeyPair(): Promise<ReceiverKeyPair> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: RSA_BITS, publicExponent: 0x10001 });
  return { privateKey, publicKeyDer: publicKey.export({ type: 'spki', format: 'der' }) };
}

/** Parse a peer's public key; only RSA keys of exactly RSA_BITS are accepted. */
export function importReceiverPublicKey(der: Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    throw authError(AUTH_FAILURE_SENTENCE);
  }
  if (key.asymmetricKeyType !== 'rsa' || key.asymmetricKeyDetails?.modulusLength !== RSA_BITS) {
    throw authError(AUTH_FAILURE_SENTENCE);
  }
  return key;
}

const oaep = (key: KeyObject) => ({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' });

export function encryptKeyMessage(publicKey: KeyObject, payload: Buffer): Buffer {
  const wrapKey = randomBytes(32);
  const wrapped = publicEncrypt(oaep(publicKey), wrapKey);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', wrapKey, nonce);
  const body = Buffer.concat([cipher.update(payload), cipher.final()]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(wrapped.length);
  return Buffer.concat([len, wrapped, nonce, body, cipher.getAuthTag()]);
}

/** Throws an authentication error (exit 4) if the message was not made for this key. */
export function decryptKeyMessage(privateKey: KeyObject, message: Buffer): Buffer {
  try {
    const len = message.readUInt16BE(0);
    // room for W, the nonce and the tag (the body may be empty): a shorter message would let the tag overlap them
    if (message.length < 2 + len + 12 + 16) throw new Error('short');
    const wrapped = message.subarray(2, 2 + len);
    const nonce = message.subarray(2 + len, 14 + len);
    const tag = message.subarray(message.length - 16);
    const body = message.subarray(14 + len, message.length - 16);
    const wrapKey = privateDecrypt(oaep(privateKey), wrapped);
    const decipher = createDecipheriv('aes-256-gcm', wrapKey, nonce);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw authError(AUTH_FAILURE_SENTENCE);
  }
}
