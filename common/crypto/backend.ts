/**
 * The crypto the protocol needs, as one small interface, so the same protocol
 * code runs in Node and in a browser. Node's implementation is
 * peer/node/crypto.ts (node:crypto, synchronous per chunk: a promise per call
 * would cost throughput); a page supplies one built on WebCrypto, whose
 * AES-GCM and RSA calls return promises. Callers on the per-chunk path handle
 * both without awaiting a value that is already there (see `isPromise`).
 *
 * Each program installs its backend once at start-up with useCryptoBackend().
 */

export type Awaitable<T> = T | Promise<T>;

export const isPromise = <T>(v: Awaitable<T>): v is Promise<T> => typeof (v as { then?: unknown })?.then === 'function';

/** An incremental SHA-256. */
export interface Sha256 {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
}

declare const rsaPublic: unique symbol;
declare const rsaPrivate: unique symbol;
/** Opaque RSA key handles: whatever the backend keeps (a KeyObject, a CryptoKey). */
export type RsaPublicKey = { readonly [rsaPublic]: true };
export type RsaPrivateKey = { readonly [rsaPrivate]: true };

export interface RsaKeyPair {
  privateKey: RsaPrivateKey;
  /** DER SubjectPublicKeyInfo */
  publicKeyDer: Uint8Array;
}

export interface CryptoBackend {
  randomBytes(n: number): Uint8Array;
  /** a uniformly random integer in [0, max) */
  randomInt(max: number): number;
  sha256(): Sha256;
  /** HMAC-SHA256(key, parts[0] || parts[1] || ...) */
  hmacSha256(key: Uint8Array, parts: readonly Uint8Array[]): Uint8Array;
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  /**
   * AES-256-GCM with a 12-byte nonce and a 16-byte tag. Returns `headroom`
   * bytes of space (left for the caller's header), then ciphertext || tag.
   */
  aesGcmSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, headroom?: number): Awaitable<Uint8Array>;
  /** Opens ciphertext || tag; throws (any error) unless it authenticates. */
  aesGcmOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Awaitable<Uint8Array>;
  generateRsaKeyPair(bits: number): Promise<RsaKeyPair>;
  /** Parses an RSA SubjectPublicKeyInfo; `bits` is undefined for any other key type. Throws on malformed input. */
  importRsaPublicKey(spkiDer: Uint8Array): Awaitable<{ key: RsaPublicKey; bits: number | undefined }>;
  /** RSA-OAEP with SHA-256 (and MGF1-SHA-256) */
  rsaOaepEncrypt(key: RsaPublicKey, data: Uint8Array): Awaitable<Uint8Array>;
  rsaOaepDecrypt(key: RsaPrivateKey, data: Uint8Array): Awaitable<Uint8Array>;
}

let installed: CryptoBackend | undefined;

export function useCryptoBackend(backend: CryptoBackend): void {
  installed = backend;
}

export function cryptoBackend(): CryptoBackend {
  if (!installed) throw new Error('No crypto backend installed: call useCryptoBackend() at start-up.');
  return installed;
}
