/**
 * The page's crypto backend (peer/web/crypto.ts: WebCrypto + @noble/hashes)
 * against Node's (peer/node/crypto.ts): every primitive agrees byte for byte,
 * what one side seals the other opens, and a whole transfer runs with the
 * page's backend, its asynchronous AES-GCM included. Node has WebCrypto too
 * (globalThis.crypto), so the very module the page bundles runs here: esbuild
 * bundles it for the browser, as `npm run bundle:web` does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createHash, randomBytes } from 'node:crypto';
import { build } from 'esbuild';
import { useCryptoBackend, type CryptoBackend } from '../../common/crypto/backend.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { nodeCrypto } from '../../peer/node/crypto.js';
import { errorText, runMemoryTransfer } from '../support/memory-transfer.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

async function loadWebCrypto(): Promise<CryptoBackend> {
  const dir = mkdtempSync(join(tmpdir(), 'web-crypto-'));
  await build({
    absWorkingDir: ROOT,
    entryPoints: ['peer/web/crypto.ts'],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    outfile: join(dir, 'crypto.mjs'),
    logLevel: 'silent',
  });
  return ((await import(pathToFileURL(join(dir, 'crypto.mjs')).href)) as { webCrypto: CryptoBackend }).webCrypto;
}

const web = await loadWebCrypto();
const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

test('hashes, HMAC and HKDF agree with Node', () => {
  for (const n of [0, 1, 63, 64, 65, 100_000]) {
    const data = bytes(n);
    const h = web.sha256();
    h.update(data.subarray(0, n >> 1));
    h.update(data.subarray(n >> 1));
    assert.deepEqual(Buffer.from(h.digest()), createHash('sha256').update(data).digest());
  }
  const key = bytes(32);
  const parts = [bytes(5), bytes(0), bytes(70)];
  assert.deepEqual(Buffer.from(web.hmacSha256(key, parts)), Buffer.from(nodeCrypto.hmacSha256(key, parts)));
  const [ikm, salt, info] = [bytes(32), bytes(16), bytes(9)];
  assert.deepEqual(Buffer.from(web.hkdfSha256(ikm, salt, info, 96)), Buffer.from(nodeCrypto.hkdfSha256(ikm, salt, info, 96)));
});

test('random bytes and integers: lengths, bounds, and every value reachable', () => {
  assert.equal(web.randomBytes(0).length, 0);
  assert.equal(web.randomBytes(200_000).length, 200_000); // more than one getRandomValues call
  assert.notDeepEqual(web.randomBytes(32), web.randomBytes(32));
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const v = web.randomInt(7);
    assert.ok(Number.isInteger(v) && v >= 0 && v < 7);
    seen.add(v);
  }
  assert.equal(seen.size, 7);
  assert.throws(() => web.randomInt(0), RangeError);
});

test('AES-256-GCM: what one backend seals the other opens (headroom included); a changed byte or AAD is refused', async () => {
  const key = bytes(32);
  const nonce = bytes(12);
  const aad = bytes(13);
  for (const n of [0, 1, 65536]) {
    const plain = bytes(n);
    const w = await web.aesGcmSeal(key, nonce, aad, plain, 2);
    const nd = await nodeCrypto.aesGcmSeal(key, nonce, aad, plain, 2);
    assert.equal(w.length, 2 + n + 16);
    assert.deepEqual(Buffer.from(w.subarray(2)), Buffer.from(nd.subarray(2)), 'same ciphertext and tag');
    assert.deepEqual(Buffer.from(await nodeCrypto.aesGcmOpen(key, nonce, aad, w.subarray(2))), Buffer.from(plain));
    assert.deepEqual(Buffer.from(await web.aesGcmOpen(key, nonce, aad, nd.subarray(2))), Buffer.from(plain));
    const bad = Uint8Array.from(w.subarray(2));
    bad[bad.length - 1]! ^= 1;
    await assert.rejects(async () => web.aesGcmOpen(key, nonce, aad, bad));
    await assert.rejects(async () => web.aesGcmOpen(key, nonce, bytes(13), w.subarray(2)));
  }
});

test('RSA-OAEP-3072: keys and ciphertexts cross between the backends; a non-RSA key is refused', async () => {
  const [wk, nk] = await Promise.all([web.generateRsaKeyPair(3072), nodeCrypto.generateRsaKeyPair(3072)]);
  const secret = bytes(32);
  const nodePub = await nodeCrypto.importRsaPublicKey(wk.publicKeyDer);
  assert.equal(nodePub.bits, 3072);
  assert.deepEqual(Buffer.from(await web.rsaOaepDecrypt(wk.privateKey, await nodeCrypto.rsaOaepEncrypt(nodePub.key, secret))), Buffer.from(secret));
  const webPub = await web.importRsaPublicKey(nk.publicKeyDer);
  assert.equal(webPub.bits, 3072);
  assert.deepEqual(Buffer.from(await nodeCrypto.rsaOaepDecrypt(nk.privateKey, await web.rsaOaepEncrypt(webPub.key, secret))), Buffer.from(secret));
  const { generateKeyPairSync } = await import('node:crypto');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
  await assert.rejects(async () => web.importRsaPublicKey(new Uint8Array(ec)));
  await assert.rejects(async () => web.importRsaPublicKey(bytes(40)));
});

test('a whole transfer with the page backend on both sides; a tampered chunk is still exit 3', async () => {
  useCryptoBackend(web);
  try {
    const dir = mkdtempSync(join(tmpdir(), 'web-transfer-'));
    const src = join(dir, 'in.bin');
    writeFileSync(src, randomBytes(300_000));
    const ok = await runMemoryTransfer(src, join(dir, 'ok.bin'));
    assert.ok(!(ok.send instanceof Error), errorText(ok.send));
    assert.ok(!(ok.receive instanceof Error), errorText(ok.receive));
    assert.deepEqual(readFileSync(join(dir, 'ok.bin')), readFileSync(src));

    let n = 0;
    const bad = await runMemoryTransfer(src, join(dir, 'bad.bin'), {
      hook: (frame, from) => {
        if (from === 'host' && frame[0] === 0x02 && ++n === 3) {
          const f = Uint8Array.from(frame);
          f[f.length - 20]! ^= 0x40;
          return [f];
        }
        return [frame];
      },
    });
    assert.ok(bad.receive instanceof MovieShareError && bad.receive.exitCode === ExitCode.Integrity, errorText(bad.receive));
    assert.ok(!existsSync(join(dir, 'bad.bin')));
  } finally {
    useCryptoBackend(nodeCrypto);
  }
});
