/** Chunk framing and the RSA-OAEP key transport, as pure functions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { CHUNK_OVERHEAD, chunkAad, chunkCount, chunkIndex, chunkNonce, classifyFrame, decodeChunk, encodeChunk, encodeControl } from '../../common/protocol/framing.js';
import { readU64, utf8 } from '../../common/bytes.js';
import { decryptKeyMessage, encryptKeyMessage, generateReceiverKeyPair, importReceiverPublicKey } from '../../common/crypto/key-transport.js';
import { MAX_TEXT_BYTES, parseKeyPayload, parseReceiverMessage, parseHostMessage, serializeKeyPayload } from '../../common/protocol/messages.js';
import { receiverMac, sdpFingerprint, hostMac, transcriptBytes } from '../../common/crypto/transcript.js';
import { now } from '../support/node-crypto.js';

const enc = (...a: Parameters<typeof encodeChunk>) => now(encodeChunk(...a));
const dec = (...a: Parameters<typeof decodeChunk>) => now(decodeChunk(...a));

const key = randomBytes(32);
const tid = randomBytes(16);

function code(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof MovieShareError) return e.exitCode;
    throw e;
  }
  return 0;
}

test('chunk round trip, empty and full chunks; the index travels in the frame', () => {
  for (const len of [0, 1, 1000, 65536]) {
    const pt = randomBytes(len);
    const frame = enc(key, tid, 7, len === 0, pt);
    assert.equal(frame.length, len + CHUNK_OVERHEAD);
    assert.equal(chunkIndex(frame), 7);
    const { index, plaintext, last } = dec(key, tid, len === 0 ? 8 : 9, frame);
    assert.equal(index, 7);
    assert.deepEqual(plaintext, pt);
    assert.equal(last, len === 0);
  }
});

test('a chunk claiming an index past the end, or the last flag on another chunk, is rejected', () => {
  const frame = enc(key, tid, 3, false, randomBytes(10));
  assert.equal(
    code(() => dec(key, tid, 3, frame)),
    ExitCode.Integrity,
  );
  assert.equal(
    code(() => dec(key, tid, 4, frame)),
    ExitCode.Integrity,
    'chunk 3 of 4 must be the last',
  );
  const last = enc(key, tid, 3, true, randomBytes(10));
  assert.equal(
    code(() => dec(key, tid, 10, last)),
    ExitCode.Integrity,
  );
});

test('chunk authentication binds key, transfer id, index and last flag', () => {
  const frame = enc(key, tid, 3, false, randomBytes(100));
  assert.equal(
    code(() => dec(randomBytes(32), tid, 10, frame)),
    ExitCode.Integrity,
  );
  assert.equal(
    code(() => dec(key, randomBytes(16), 10, frame)),
    ExitCode.Integrity,
  );
  assert.equal(
    code(() => {
      const moved = Buffer.from(frame);
      moved.writeUInt32BE(4, 2);
      return dec(key, tid, 10, moved);
    }),
    ExitCode.Integrity,
  );
  const flagged = Buffer.from(frame);
  flagged[1] = 1; // the last flag, on chunk 3 of 4: authentication fails
  flagged.writeUInt32BE(3, 2);
  assert.equal(
    code(() => dec(key, tid, 4, flagged)),
    ExitCode.Integrity,
  );
  const unknownFlag = Buffer.from(frame);
  unknownFlag[1] = 0x80;
  assert.equal(
    code(() => dec(key, tid, 10, unknownFlag)),
    ExitCode.Integrity,
  );
  for (let i = 2; i < frame.length; i += 17) {
    const bad = Buffer.from(frame);
    bad[i] = bad[i]! ^ 0x40;
    assert.equal(
      code(() => dec(key, tid, 10, bad)),
      ExitCode.Integrity,
      `bit flip at ${i}`,
    );
  }
  assert.equal(
    code(() => dec(key, tid, 10, frame.subarray(0, frame.length - 1))),
    ExitCode.Integrity,
  );
  assert.equal(
    code(() => dec(key, tid, 10, frame.subarray(0, 5))),
    ExitCode.Integrity,
  );
  assert.equal(
    code(() => dec(key, tid, 10, Buffer.concat([frame, Buffer.from([0])]))),
    ExitCode.Integrity,
  );
});

test('64-bit chunk indexes beyond 2^32 (files > 4 GiB at any chunk size)', () => {
  const big = 2 ** 32 + 5;
  assert.equal(readU64(chunkNonce(big), 4), big);
  assert.notDeepEqual(chunkNonce(big), chunkNonce(5), 'no wrap-around at 2^32');
  assert.notDeepEqual(chunkAad(tid, big, 0), chunkAad(tid, 5, 0));
  const huge = 2 ** 52 + 3;
  assert.equal(readU64(chunkNonce(huge), 4), huge);
  // the wire index is a u32: 2^32 chunks of 64 KiB is 256 TiB
  const frame = enc(key, tid, 2 ** 32 - 1, true, Buffer.from('x'));
  assert.equal(dec(key, tid, 2 ** 32, frame).plaintext.toString(), 'x');
  assert.equal(
    code(() => dec(key, tid, 5, frame)),
    ExitCode.Integrity,
  );
  // a 5 GiB file in 64 KiB chunks
  assert.equal(chunkCount(5 * 2 ** 30, 65536), 81920);
  assert.equal(chunkCount(0, 65536), 1);
  assert.equal(chunkCount(65536, 65536), 1);
  assert.equal(chunkCount(65537, 65536), 2);
});

test('control frames and classification', () => {
  const f = encodeControl('{"t":"ping"}');
  assert.deepEqual(classifyFrame(f), { kind: 'control', json: '{"t":"ping"}' });
  const c = enc(key, tid, 0, true, Buffer.alloc(0));
  assert.equal(classifyFrame(c).kind, 'chunk');
});

test('message validation rejects malformed and unknown messages', () => {
  assert.deepEqual(parseReceiverMessage('{"t":"ack","written":5}'), { t: 'ack', written: 5 });
  assert.deepEqual(parseHostMessage('{"t":"end"}'), { t: 'end' });
  for (const bad of [
    '',
    'null',
    '[]',
    '{"t":"ack","written":-1}',
    '{"t":"ack","written":1.5}',
    '{"t":"nope"}',
    '{"t":"hello","v":1,"rsaPublicKey":"!!"}',
    '{"t":"abort","code":99,"message":"x"}',
    `{"t":"done","sha256":"${'z'.repeat(64)}"}`,
  ]) {
    assert.equal(
      code(() => parseReceiverMessage(bad)),
      ExitCode.Other,
      bad,
    );
  }
  assert.equal(
    code(() => parseHostMessage('{"t":"key","v":1,"encryptedKey":5,"mac":"AA=="}')),
    ExitCode.Other,
  );
});

test('key transport: RSA-OAEP-3072 round trip; wrong key or tampering → exit 4', async () => {
  const kp = await generateReceiverKeyPair();
  const payload = {
    transferId: new Uint8Array(tid),
    key: new Uint8Array(key),
    sha256: 'ab'.repeat(32),
    size: 5 * 2 ** 30,
    name: 'film ünïcode ../../etc/passwd.mp4',
    chunkSize: 65536,
    kind: 'file' as const,
  };
  const msg = await encryptKeyMessage(await importReceiverPublicKey(kp.publicKeyDer), serializeKeyPayload(payload));
  assert.deepEqual(parseKeyPayload(await decryptKeyMessage(kp.privateKey, msg)), payload);
  const other = await generateReceiverKeyPair();
  const rejects = async (p: Promise<unknown>): Promise<number> =>
    p.then(
      () => 0,
      (e: unknown) => (e instanceof MovieShareError ? e.exitCode : -1),
    );
  assert.equal(await rejects(decryptKeyMessage(other.privateKey, msg)), ExitCode.Auth);
  const bad = Uint8Array.from(msg);
  bad[bad.length - 20] = bad[bad.length - 20]! ^ 1;
  assert.equal(await rejects(decryptKeyMessage(kp.privateKey, bad)), ExitCode.Auth);
  assert.equal(await rejects(decryptKeyMessage(kp.privateKey, msg.subarray(0, 10))), ExitCode.Auth);
  // W and the nonce complete, but no room for a tag after them
  const wLen = (msg[0]! << 8) | msg[1]!;
  assert.equal(await rejects(decryptKeyMessage(kp.privateKey, msg.subarray(0, 2 + wLen + 12 + 15))), ExitCode.Auth);
  assert.equal(await rejects(importReceiverPublicKey(Buffer.from('junk'))), ExitCode.Auth);
  // an RSA key of another size, or not RSA at all, is refused
  const { generateKeyPairSync } = await import('node:crypto');
  const spki = (k: import('node:crypto').KeyObject) => k.export({ type: 'spki', format: 'der' });
  assert.equal(await rejects(importReceiverPublicKey(spki(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey))), ExitCode.Auth);
  assert.equal(await rejects(importReceiverPublicKey(spki(generateKeyPairSync('ed25519').publicKey))), ExitCode.Auth);
});

test('transcript MACs change with every bound field', () => {
  const base = { version: 1, hostFingerprint: 'sha-256 AA', receiverFingerprint: 'sha-256 BB', rsaPublicKey: Buffer.from('rsa'), encryptedKey: Buffer.from('ek') };
  const k = randomBytes(32);
  const ref = hostMac(k, transcriptBytes(base));
  for (const change of [
    { version: 2 },
    { hostFingerprint: 'sha-256 AB' },
    { receiverFingerprint: 'sha-256 BA' },
    { rsaPublicKey: Buffer.from('rsb') },
    { encryptedKey: Buffer.from('el') },
  ]) {
    assert.notDeepEqual(hostMac(k, transcriptBytes({ ...base, ...change })), ref, JSON.stringify(change));
  }
  const t = transcriptBytes(base);
  const k0 = '0'.repeat(64);
  const terms = { have: [], maxRate: 0, kept: k0 };
  assert.notDeepEqual(receiverMac(k, t, terms), receiverMac(k, t, { have: [], maxRate: 1, kept: k0 }));
  assert.notDeepEqual(receiverMac(k, t, terms), receiverMac(k, t, { have: [0, 1], maxRate: 0, kept: k0 }));
  assert.notDeepEqual(receiverMac(k, t, { have: [0, 2], maxRate: 0, kept: k0 }), receiverMac(k, t, { have: [0, 1], maxRate: 0, kept: k0 }));
  assert.notDeepEqual(receiverMac(k, t, { have: [0, 1], maxRate: 0, kept: k0 }), receiverMac(k, t, { have: [0, 1], maxRate: 0, kept: '1'.repeat(64) }));
  assert.notDeepEqual(receiverMac(k, t, terms), hostMac(k, t));
});

test('DTLS fingerprint is read from the SDP', () => {
  const sdp = 'v=0\r\na=setup:actpass\r\na=fingerprint:sha-256 ab:CD:01\r\nm=application 9\r\n';
  assert.equal(sdpFingerprint(sdp), 'sha-256 AB:CD:01');
  assert.equal(
    code(() => sdpFingerprint('v=0\r\n')),
    ExitCode.Auth,
  );
});

test('key payload: kind is absent for a file, "text" for a text of at most MAX_TEXT_BYTES; anything else is refused', () => {
  const base = { transferId: new Uint8Array(16), key: new Uint8Array(32), sha256: 'ab'.repeat(32), size: 11, name: 'text', chunkSize: 65536 };
  const asFile = serializeKeyPayload({ ...base, kind: 'file' });
  assert.ok(!new TextDecoder().decode(asFile).includes('kind'), 'a file is sent as before');
  assert.equal(parseKeyPayload(asFile).kind, 'file');
  assert.equal(parseKeyPayload(serializeKeyPayload({ ...base, kind: 'text' })).kind, 'text');
  assert.equal(parseKeyPayload(serializeKeyPayload({ ...base, size: MAX_TEXT_BYTES, kind: 'text' })).size, MAX_TEXT_BYTES);
  const wire = (extra: Record<string, unknown>) =>
    utf8(
      JSON.stringify({
        transferId: Buffer.alloc(16).toString('base64'),
        key: Buffer.alloc(32).toString('base64'),
        sha256: base.sha256,
        size: 11,
        name: 'x',
        chunkSize: 65536,
        ...extra,
      }),
    );
  assert.throws(() => parseKeyPayload(wire({ kind: 'text', size: MAX_TEXT_BYTES + 1 })), /a text of more than/);
  assert.throws(() => parseKeyPayload(wire({ kind: 'folder' })), /field kind/);
  assert.throws(() => parseKeyPayload(wire({ kind: 1 })), /field kind/);
  assert.equal(parseKeyPayload(wire({ kind: 'file' })).kind, 'file');
});
