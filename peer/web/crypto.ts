/**
 * The page's crypto backend (common/crypto/backend.ts): WebCrypto for
 * AES-256-GCM and RSA-OAEP (asynchronous, run by the browser off the page's
 * thread), @noble/hashes for what the interface needs synchronously
 * (incremental SHA-256, HMAC, HKDF: WebCrypto has no incremental hash and
 * answers everything with a promise). Random bytes come from
 * crypto.getRandomValues. The RSA private key is generated non-extractable:
 * page scripts can use it but never read it.
 *
 * WebCrypto exists only in a secure context (https, or http on loopback):
 * the page checks `isSecureContext` before it installs this backend.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import type { CryptoBackend, RsaPrivateKey, RsaPublicKey } from '../../common/crypto/backend.js';

const TAG_BITS = 128;
/** getRandomValues fills at most this many bytes per call */
const RANDOM_CHUNK = 65536;
const RSA_OAEP = { name: 'RSA-OAEP', hash: 'SHA-256' } as const;

/** WebCrypto's types want an ArrayBuffer-backed view; ours always are. */
const bs = (u: Uint8Array): Uint8Array<ArrayBuffer> => u as Uint8Array<ArrayBuffer>;

/**
 * AES keys imported once per key: the transfer seals every chunk under the
 * same key object, and importKey per chunk would cost a round trip each.
 */
const aesKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();
function aesKey(raw: Uint8Array): Promise<CryptoKey> {
  let k = aesKeys.get(raw);
  if (!k) {
    k = crypto.subtle.importKey('raw', bs(raw), 'AES-GCM', false, ['encrypt', 'decrypt']);
    aesKeys.set(raw, k);
  }
  return k;
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += RANDOM_CHUNK) crypto.getRandomValues(out.subarray(at, Math.min(n, at + RANDOM_CHUNK)));
  return out;
}

export const webCrypto: CryptoBackend = {
  randomBytes,
  randomInt(max) {
    if (!Number.isInteger(max) || max <= 0 || max > 2 ** 32) throw new RangeError('randomInt: max must be an integer in (0, 2^32]');
    // rejection sampling: no modulo bias
    const limit = 2 ** 32 - (2 ** 32 % max);
    const word = new Uint32Array(1);
    for (;;) {
      crypto.getRandomValues(word);
      if (word[0]! < limit) return word[0]! % max;
    }
  },
  sha256() {
    const h = sha256.create();
    return {
      update: (data) => void h.update(data),
      digest: () => h.digest(),
    };
  },
  hmacSha256(key, parts) {
    const h = hmac.create(sha256, key);
    for (const p of parts) h.update(p);
    return h.digest();
  },
  hkdfSha256: (ikm, salt, info, length) => hkdf(sha256, ikm, salt, info, length),
  async aesGcmSeal(key, nonce, aad, plaintext, headroom = 0) {
    const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: bs(nonce), additionalData: bs(aad), tagLength: TAG_BITS }, await aesKey(key), bs(plaintext));
    if (headroom === 0) return new Uint8Array(sealed);
    const out = new Uint8Array(headroom + sealed.byteLength);
    out.set(new Uint8Array(sealed), headroom);
    return out;
  },
  async aesGcmOpen(key, nonce, aad, sealed) {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bs(nonce), additionalData: bs(aad), tagLength: TAG_BITS }, await aesKey(key), bs(sealed));
    return new Uint8Array(plain);
  },
  async generateRsaKeyPair(bits) {
    const pair = await crypto.subtle.generateKey({ ...RSA_OAEP, modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]) }, false, ['encrypt', 'decrypt']);
    const spki = await crypto.subtle.exportKey('spki', pair.publicKey);
    return { privateKey: pair.privateKey as unknown as RsaPrivateKey, publicKeyDer: new Uint8Array(spki) };
  },
  async importRsaPublicKey(spkiDer) {
    // importKey refuses a key that is not RSA (or not SPKI): the caller maps the throw to exit 4
    const key = await crypto.subtle.importKey('spki', bs(spkiDer), RSA_OAEP, false, ['encrypt']);
    const { modulusLength } = key.algorithm as RsaHashedKeyAlgorithm;
    return { key: key as unknown as RsaPublicKey, bits: modulusLength };
  },
  async rsaOaepEncrypt(key, data) {
    return new Uint8Array(await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, key as unknown as CryptoKey, bs(data)));
  },
  async rsaOaepDecrypt(key, data) {
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'RSA-OAEP' }, key as unknown as CryptoKey, bs(data)));
  },
};
