/**
 * The transfer protocol over an in-memory channel: every tamper mode ends in
 * an integrity error (exit 3) with nothing at OUT; a man in the middle that
 * swaps the RSA key or sits between two different DTLS sessions is caught by
 * key confirmation (exit 4) before any file byte is sent; resume works.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { FRAME_CHUNK, FRAME_CONTROL, encodeControl } from '../../common/protocol/framing.js';
import { generateReceiverKeyPair } from '../../common/crypto/key-transport.js';
import { memoryChannelPair, type FrameHook } from '../support/memory-channel.js';
import { FLOOD_SENTENCE, Link, MAX_QUEUED_MESSAGES } from '../../peer/transfer/link.js';
import { readSidecar } from '../../peer/node/resume.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';
import { errorText, runMemoryTransfer, sharedKeyPair } from '../support/memory-transfer.js';
import '../support/node-crypto.js';

let dir: string;
let removeDir: () => Promise<void>;
let src: string;
const SIZE = 1024 * 1024 + 7; // 65 chunks of 16 KiB, the last one short

before(async () => {
  ({ dir, remove: removeDir } = await tempDir());
  src = join(dir, 'src.bin');
  await randomFile(src, SIZE);
  await sharedKeyPair();
});
after(() => removeDir());

let n = 0;
const outPath = () => join(dir, `out-${n++}.bin`);

function assertFailed(r: unknown, code: number): void {
  assert.ok(r instanceof MovieShareError, `expected a MovieShareError, got ${JSON.stringify(r)}`);
  assert.equal(r.exitCode, code, r.message);
}

/** Apply `f` to the k-th chunk frame the sender emits. */
function onChunk(k: number, f: (frame: Uint8Array) => Uint8Array[]): FrameHook {
  let i = 0;
  return (frame, from) => {
    if (from !== 'host' || frame[0] !== FRAME_CHUNK) return [frame];
    return i++ === k ? f(frame) : [frame];
  };
}

test('happy path: sizes 0, 1, one chunk, many chunks', async () => {
  for (const size of [0, 1, 16 * 1024, SIZE]) {
    const s = join(dir, `sz-${size}.bin`);
    await randomFile(s, size);
    const out = outPath();
    const r = await runMemoryTransfer(s, out);
    assert.ok(!(r.receive instanceof Error), errorText(r.receive));
    assert.ok(!(r.send instanceof Error), errorText(r.send));
    assert.ok(await sameBytes(s, out));
    assert.equal(existsSync(`${out}.part`), false);
    assert.equal(existsSync(`${out}.part.json`), false);
  }
});

const tamper: [string, () => FrameHook][] = [
  ['drop a chunk', () => onChunk(5, () => [])],
  ['duplicate a chunk', () => onChunk(5, (f) => [f, f])],
  [
    'relabel a chunk with another index (the index is in the nonce and the AAD)',
    () =>
      onChunk(5, (f) => {
        const c = Uint8Array.from(f);
        new DataView(c.buffer).setUint32(2, 6);
        return [c];
      }),
  ],
  [
    'claim an index past the end',
    () =>
      onChunk(5, (f) => {
        const c = Uint8Array.from(f);
        new DataView(c.buffer).setUint32(2, 1_000_000);
        return [c];
      }),
  ],
  [
    'flip a ciphertext bit',
    () =>
      onChunk(5, (f) => {
        const c = Uint8Array.from(f);
        c[100] = c[100]! ^ 0x01;
        return [c];
      }),
  ],
  [
    'flip the last-chunk flag',
    () =>
      onChunk(3, (f) => {
        const c = Uint8Array.from(f);
        c[1] = c[1]! ^ 0x01;
        return [c];
      }),
  ],
  ['truncate a chunk frame', () => onChunk(5, (f) => [f.subarray(0, f.length - 1)])],
  [
    'truncate the stream (drop the tail)',
    () => {
      let i = 0;
      return (frame, from) => (from === 'host' && frame[0] === FRAME_CHUNK && i++ >= 62 ? [] : [frame]);
    },
  ],
  [
    'append a chunk after the last',
    () => {
      let first: Uint8Array | undefined;
      return (frame, from) => {
        if (from !== 'host') return [frame];
        if (frame[0] === FRAME_CHUNK) {
          first ??= frame;
          return [frame];
        }
        const isEnd = frame[0] === FRAME_CONTROL && Buffer.from(frame.subarray(1)).toString().includes('"end"');
        return isEnd ? [first!, frame] : [frame];
      };
    },
  ],
];

for (const [name, hook] of tamper) {
  test(`integrity: ${name} → exit 3 on both sides, nothing at OUT`, async () => {
    const out = outPath();
    const r = await runMemoryTransfer(src, out, { hook: hook() });
    assertFailed(r.receive, ExitCode.Integrity);
    assertFailed(r.send, ExitCode.Integrity);
    assert.equal(existsSync(out), false, 'OUT must not exist');
    assert.equal(existsSync(`${out}.part`), false, 'the temp file is removed');
  });
}

test('wrong hash: the key message names a different SHA-256 → exit 3 on both sides, nothing at OUT', async () => {
  const out = outPath();
  const r = await runMemoryTransfer(src, out, { senderSha256: 'ab'.repeat(32) });
  assertFailed(r.receive, ExitCode.Integrity);
  assertFailed(r.send, ExitCode.Integrity);
  assert.ok(r.chunkFramesSent > 0, 'every chunk authenticated; only the whole-file hash differs');
  assert.equal(existsSync(out), false);
  assert.equal(existsSync(`${out}.part`), false);
  assert.equal(existsSync(`${out}.part.json`), false);
});

test('MITM replaces the RSA public key → exit 4 on both sides, no chunk sent', async () => {
  const mallory = await generateReceiverKeyPair();
  const hook: FrameHook = (frame, from) => {
    if (from !== 'receiver' || frame[0] !== FRAME_CONTROL) return [frame];
    const msg = JSON.parse(Buffer.from(frame.subarray(1)).toString()) as Record<string, unknown>;
    if (msg.t !== 'hello') return [frame];
    msg.rsaPublicKey = Buffer.from(mallory.publicKeyDer).toString('base64');
    return [encodeControl(JSON.stringify(msg))];
  };
  const out = outPath();
  const r = await runMemoryTransfer(src, out, { hook });
  assertFailed(r.receive, ExitCode.Auth);
  assertFailed(r.send, ExitCode.Auth);
  assert.equal(r.chunkFramesSent, 0);
  assert.equal(existsSync(out), false);
  assert.equal(existsSync(`${out}.part`), false);
});

test('MITM between two DTLS sessions (fingerprints differ) → exit 4, no chunk sent', async () => {
  const out = outPath();
  const r = await runMemoryTransfer(src, out, {
    hostView: { host: 'sha-256 AA:AA', receiver: 'sha-256 EE:EE' },
    receiverView: { host: 'sha-256 FF:FF', receiver: 'sha-256 CC:CC' },
  });
  assertFailed(r.receive, ExitCode.Auth);
  assertFailed(r.send, ExitCode.Auth);
  assert.equal(r.chunkFramesSent, 0);
  assert.equal(existsSync(out), false);
});

test('different PAKE keys (wrong code) → exit 4, no chunk sent', async () => {
  const out = outPath();
  const r = await runMemoryTransfer(src, out, { hostKeys: { confirmHost: randomBytes(32), confirmReceiver: randomBytes(32) } });
  assertFailed(r.receive, ExitCode.Auth);
  assertFailed(r.send, ExitCode.Auth);
  assert.equal(r.chunkFramesSent, 0);
});

test('resume: an interrupted transfer keeps OUT.part and resumes from the verified offset', async () => {
  const out = outPath();
  // first run: the link goes silent after 30 chunks (as if the peer vanished)
  let i = 0;
  let cutting = false;
  const cut: FrameHook = (frame, from) => {
    if (from !== 'host') return [frame];
    if (frame[0] === FRAME_CHUNK && i++ >= 30) cutting = true;
    return cutting ? [] : [frame];
  };
  const r1 = await runMemoryTransfer(src, out, { hook: cut, peerTimeoutMs: 1000, tuning: { windowBytes: 1024 * 1024 } });
  assertFailed(r1.receive, ExitCode.Network);
  const sc = await readSidecar(out);
  assert.ok(sc && sc.have.length === 2 && sc.have[0] === 0 && sc.have[1]! > 0, `sidecar records progress: ${JSON.stringify(sc?.have)}`);
  assert.ok((await stat(`${out}.part`)).size >= sc.have[1]!);
  // second run resumes
  const r2 = await runMemoryTransfer(src, out);
  assert.ok(!(r2.receive instanceof Error), errorText(r2.receive));
  assert.ok(!(r2.send instanceof Error), errorText(r2.send));
  assert.equal(r2.send.resumedFrom, sc.have[1]);
  assert.ok(r2.send.sentBytes < SIZE);
  assert.ok(await sameBytes(src, out));
});

test('resume state of a different file is discarded and the transfer starts over', async () => {
  const out = outPath();
  await writeFile(`${out}.part`, randomBytes(50_000));
  await writeFile(`${out}.part.json`, JSON.stringify({ v: 1, sha256: '0'.repeat(64), size: SIZE, name: 'x', verified: 50_000 }));
  const r = await runMemoryTransfer(src, out);
  assert.ok(!(r.send instanceof Error), errorText(r.send));
  assert.equal(r.send.resumedFrom, 0);
  assert.deepEqual(await readFile(out), await readFile(src));
});

/** A hook that delivers the first control message `t` from `from` once more than the link's bound allows. */
function flood(from: 'host' | 'receiver', t: string, copies: number): FrameHook {
  let done = false;
  return (frame, by) => {
    if (by !== from || done || frame[0] !== FRAME_CONTROL) return [frame];
    const m = JSON.parse(Buffer.from(frame.subarray(1)).toString()) as { t: string };
    if (m.t !== t) return [frame];
    done = true;
    return Array.from({ length: copies }, () => frame);
  };
}

for (const [from, t] of [
  ['receiver', 'hello'],
  ['host', 'key'],
] as const) {
  test(`flood: the ${from} sends its ${t} ${MAX_QUEUED_MESSAGES + 2} times → the other side stops (exit 5, the flood sentence), no chunk sent`, async () => {
    const out = outPath();
    const r = await runMemoryTransfer(src, out, { hook: flood(from, t, MAX_QUEUED_MESSAGES + 2) });
    const victim = from === 'receiver' ? r.send : r.receive;
    const peer = from === 'receiver' ? r.receive : r.send;
    assertFailed(victim, ExitCode.Network);
    assert.equal((victim as MovieShareError).message, FLOOD_SENTENCE);
    assertFailed(peer, ExitCode.Network);
    assert.equal(r.chunkFramesSent, 0);
    assert.equal(existsSync(out), false, 'OUT must not exist');
  });
}

test(`the link queues up to ${MAX_QUEUED_MESSAGES} control messages nobody has taken yet; one more ends it with exit 5`, async () => {
  const [a, b] = memoryChannelPair();
  const link = new Link<{ t: string }, { t: string }>(b, (json) => JSON.parse(json) as { t: string }, { peerTimeoutMs: 60_000, pingIntervalMs: 60_000 });
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
  for (let i = 0; i < MAX_QUEUED_MESSAGES; i++) a.send(encodeControl(JSON.stringify({ t: 'x', i })));
  await tick();
  assert.equal(link.failed, undefined, 'at the bound: still fine');
  assert.deepEqual(await link.next(), { t: 'x', i: 0 });
  a.send(encodeControl(JSON.stringify({ t: 'x' })));
  await tick();
  assert.equal(link.failed, undefined, 'one was taken: room for one more');
  a.send(encodeControl(JSON.stringify({ t: 'x' })));
  await tick();
  const failed = (link as { failed: MovieShareError | undefined }).failed; // read again: the asserts above narrowed it
  assertFailed(failed, ExitCode.Network);
  assert.equal(failed?.message, FLOOD_SENTENCE);
  a.close();
});
