/**
 * The Node crypto backend (common/crypto/backend.ts): node:crypto, OpenSSL
 * underneath, synchronous wherever it can be (AES-GCM per chunk, SHA-256,
 * HMAC, HKDF); RSA key generation runs on the thread pool.
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  generateKeyPair,
  hkdfSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  randomInt,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import type { CryptoBackend, RsaPrivateKey, RsaPublicKey } from '../../common/crypto/backend.js';

const TAG_BYTES = 16;
const generateKeyPairAsync = promisify(generateKeyPair);
const oaep = (key: KeyObject) => ({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' });

export const nodeCrypto: CryptoBackend = {
  randomBytes: (n) => randomBytes(n),
  randomInt: (max) => randomInt(max),
  sha256: () => createHash('sha256'),
  hmacSha256(key, parts) {
    const h = createHmac('sha256', key);
    for (const p of parts) h.update(p);
    return h.digest();
  },
  hkdfSha256: (ikm, salt, info, length) => new Uint8Array(hkdfSync('sha256', ikm, salt, info, length)),
  aesGcmSeal(key, nonce, aad, plaintext, headroom = 0) {
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const out = Buffer.allocUnsafe(headroom + plaintext.length + TAG_BYTES);
    let at = headroom;
    at += cipher.update(plaintext).copy(out, at);
    at += cipher.final().copy(out, at);
    cipher.getAuthTag().copy(out, at);
    return out;
  },
  aesGcmOpen(key, nonce, aad, sealed) {
    if (sealed.length < TAG_BYTES) throw new Error('sealed data shorter than its tag');
    const tagAt = sealed.length - TAG_BYTES;
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(tagAt));
    const body = decipher.update(sealed.subarray(0, tagAt));
    const fin = decipher.final();
    return fin.length === 0 ? body : Buffer.concat([body, fin]);
  },
  async generateRsaKeyPair(bits) {
    const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
    return { privateKey: privateKey as unknown as RsaPrivateKey, publicKeyDer: publicKey.export({ type: 'spki', format: 'der' }) };
  },
  importRsaPublicKey(spkiDer) {
    const key = createPublicKey({ key: Buffer.from(spkiDer.buffer, spkiDer.byteOffset, spkiDer.byteLength), format: 'der', type: 'spki' });
    const bits = key.asymmetricKeyType === 'rsa' ? key.asymmetricKeyDetails?.modulusLength : undefined;
    return { key: key as unknown as RsaPublicKey, bits };
  },
  rsaOaepEncrypt: (key, data) => publicEncrypt(oaep(key as unknown as KeyObject), data),
  rsaOaepDecrypt: (key, data) => privateDecrypt(oaep(key as unknown as KeyObject), data),
};
