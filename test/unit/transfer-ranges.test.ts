/**
 * Protocol v3 over an in-memory channel: a player's read jumps the queue
 * (want) and the host then sends every chunk exactly once; a resume with
 * holes sends only what is missing; wants and confirms that lie are
 * rejected, and the confirm's terms are under the receiver's MAC; the
 * receiver's rate cap holds; chunks may arrive in any order, but never twice.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { chunkIndex, FRAME_CHUNK, FRAME_CONTROL, encodeControl } from '../../common/protocol/framing.js';
import { MAX_HAVE_RANGES } from '../../common/protocol/messages.js';
import type { FrameHook } from '../support/memory-channel.js';
import type { TransferReader } from '../../peer/transfer/files.js';
import { randomFile, sameBytes, sha256File, tempDir } from '../support/files.js';
import { errorText, runMemoryTransfer, sharedKeyPair, type MemoryRunOptions } from '../support/memory-transfer.js';
import '../support/node-crypto.js';

let dir: string;
let removeDir: () => Promise<void>;
let src: string;
let srcBytes: Buffer;
const CHUNK = 16 * 1024; // runMemoryTransfer's chunk size
const SIZE = 1024 * 1024 + 7; // 65 chunks, the last one short
const COUNT = Math.ceil(SIZE / CHUNK);

before(async () => {
  ({ dir, remove: removeDir } = await tempDir());
  src = join(dir, 'src.bin');
  await randomFile(src, SIZE);
  srcBytes = await readFile(src);
  await sharedKeyPair();
});
after(() => removeDir());

let n = 0;
const outPath = () => join(dir, `out-${n++}.bin`);
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

function assertFailed(r: unknown, code: number, message?: RegExp): void {
  assert.ok(r instanceof MovieShareError, `expected a MovieShareError, got ${JSON.stringify(r)}`);
  assert.equal(r.exitCode, code, r.message);
  if (message) assert.match(r.message, message);
}

function controlOf(frame: Uint8Array): Record<string, unknown> | undefined {
  if (frame[0] !== FRAME_CONTROL) return undefined;
  return JSON.parse(Buffer.from(frame.subarray(1)).toString()) as Record<string, unknown>;
}

/** Records the chunk indexes the host puts on the wire and the receiver's wants, in order, then hands over to `inner`. */
function recorder(inner?: FrameHook): { hook: FrameHook; wire: number[]; wants: { offset: number; length: number }[] } {
  const wire: number[] = [];
  const wants: { offset: number; length: number }[] = [];
  const hook: FrameHook = (frame, from) => {
    if (from === 'host' && frame[0] === FRAME_CHUNK) wire.push(chunkIndex(frame));
    const m = from === 'receiver' ? controlOf(frame) : undefined;
    if (m?.t === 'want') wants.push({ offset: m.offset as number, length: m.length as number });
    return inner ? inner(frame, from) : [frame];
  };
  return { hook, wire, wants };
}

/** Rewrites the receiver's confirm (leaving its MAC as it is). */
function rewriteConfirm(f: (m: Record<string, unknown>) => void): FrameHook {
  return (frame, from) => {
    const m = from === 'receiver' ? controlOf(frame) : undefined;
    if (m?.t !== 'confirm') return [frame];
    f(m);
    return [encodeControl(JSON.stringify(m))];
  };
}

async function assertNothingAtOut(out: string): Promise<void> {
  assert.equal(existsSync(out), false, 'OUT must not exist');
  assert.equal(existsSync(`${out}.part`), false, 'the temp file is removed');
  assert.equal(existsSync(`${out}.part.json`), false, 'the sidecar is removed');
  await Promise.resolve();
}

async function seekTest(when: 'next tick' | 'synchronously'): Promise<void> {
  const out = outPath();
  const offset = Math.floor(SIZE * 0.8) + 123; // inside chunk 51 of 65
  const length = 100_000; // into chunk 57
  const first = Math.floor(offset / CHUNK);
  let got: Promise<Uint8Array> | undefined;
  const onReader = (reader: TransferReader): void => {
    assert.equal(reader.size, SIZE);
    got = when === 'synchronously' ? reader.read(offset, length) : Promise.resolve().then(() => reader.read(offset, length));
  };
  const rec = recorder();
  // a credit window of 5 chunks: the stream in file order cannot get far before the want
  const r = await runMemoryTransfer(src, out, { hook: rec.hook, onReader, tuning: { windowBytes: 5 * CHUNK, ackBytes: 4 * CHUNK } });
  assert.ok(!(r.receive instanceof Error), errorText(r.receive));
  assert.ok(!(r.send instanceof Error), errorText(r.send));
  assert.ok(got, 'the reader was given');
  assert.deepEqual(Buffer.from(await got), srcBytes.subarray(offset, offset + length), 'the read resolves with the source bytes');
  assert.deepEqual(rec.wants, [{ offset: first * CHUNK, length: offset + length - first * CHUNK }], 'one want, from the first missing chunk');
  // The wire: a prefix in file order, then the wanted range, on to the end, then the hole left before it.
  const j = rec.wire.indexOf(first);
  assert.ok(j >= 0 && j <= 8, `the want was served right away (after ${j} chunks)`);
  assert.deepEqual(rec.wire, [...range(0, j), ...range(first, COUNT), ...range(j, first)], 'each chunk once, the wanted range first');
  assert.ok(await sameBytes(src, out), 'OUT is identical');
  assert.equal(existsSync(`${out}.part.json`), false);
}

test('seek: a read at 80 % right after the start is sent first, resolves with the source bytes, and every chunk goes once', async () => {
  await seekTest('next tick');
});

test('seek: a read issued synchronously from onReader (before the confirm) works too', async () => {
  await seekTest('synchronously');
});

test('a read of a range that is already here sends no want', async () => {
  const out = outPath();
  let reader: TransferReader | undefined;
  let readBack: Promise<Uint8Array> | undefined;
  const rec = recorder((frame, from) => {
    // once chunk 40 reaches the receiver, chunks 0..40 are present: read some of them
    if (from === 'host' && frame[0] === FRAME_CHUNK && chunkIndex(frame) === 40) {
      setImmediate(() =>
        setImmediate(() => {
          readBack = reader!.read(5 * CHUNK + 3, 10 * CHUNK);
        }),
      );
    }
    return [frame];
  });
  const r = await runMemoryTransfer(src, out, { hook: rec.hook, onReader: (x) => (reader = x) });
  assert.ok(!(r.receive instanceof Error), errorText(r.receive));
  assert.ok(readBack);
  assert.deepEqual(Buffer.from(await readBack), srcBytes.subarray(5 * CHUNK + 3, 15 * CHUNK + 3));
  assert.deepEqual(rec.wants, []);
  assert.deepEqual(rec.wire, range(0, COUNT));
});

/** OUT.part with the source's bytes (or other bytes) in `ranges`, zeros elsewhere, and a v2 sidecar listing them. */
async function stageResume(out: string, ranges: number[], bytes: Buffer = srcBytes): Promise<void> {
  const fh = await open(`${out}.part`, 'w');
  try {
    await fh.truncate(SIZE);
    for (let r = 0; r + 1 < ranges.length; r += 2) {
      const [from, to] = [ranges[r] ?? 0, ranges[r + 1] ?? 0];
      await fh.write(bytes, from, to - from, from);
    }
  } finally {
    await fh.close();
  }
  await writeFile(`${out}.part.json`, JSON.stringify({ v: 2, sha256: await sha256File(src), size: SIZE, name: 'src.bin', have: ranges }));
}

test('resume with holes: only the missing chunks go on the wire, once each, and OUT is identical', async () => {
  const cases: [string, number[], number[]][] = [
    // byte ranges in the sidecar → the chunks they hold whole
    ['two chunk-aligned ranges, not a prefix', [0, 10 * CHUNK, 30 * CHUNK, 45 * CHUNK], [...range(0, 10), ...range(30, 45)]],
    ['ranges not on chunk boundaries keep only whole chunks', [0, 10 * CHUNK + 100, 30 * CHUNK - 50, 45 * CHUNK + 7], [...range(0, 10), ...range(30, 45)]],
    ['a range in the middle and the tail to the end of the file', [20 * CHUNK, 25 * CHUNK, 60 * CHUNK, SIZE], [...range(20, 25), ...range(60, COUNT)]],
  ];
  for (const [name, ranges, haveChunks] of cases) {
    const out = outPath();
    await stageResume(out, ranges);
    const rec = recorder();
    const r = await runMemoryTransfer(src, out, { hook: rec.hook });
    assert.ok(!(r.receive instanceof Error), `${name}: ${errorText(r.receive)}`);
    assert.ok(!(r.send instanceof Error), `${name}: ${errorText(r.send)}`);
    const missing = range(0, COUNT).filter((i) => !haveChunks.includes(i));
    assert.deepEqual(rec.wire, missing, `${name}: the missing chunks in file order, each once`);
    const haveBytes = haveChunks.reduce((s, i) => s + Math.min(CHUNK, SIZE - i * CHUNK), 0);
    assert.equal(r.send.resumedFrom, haveBytes, name);
    assert.equal(r.receive.resumedFrom, haveBytes, name);
    assert.equal(r.send.sentBytes, SIZE - haveBytes, name);
    assert.ok(await sameBytes(src, out), `${name}: OUT is identical`);
    assert.equal(existsSync(`${out}.part.json`), false);
  }
});

test('resume with holes whose bytes are junk (left by an earlier sender): the host sends every chunk, OUT is identical, no exit 3', async () => {
  const out = outPath();
  await stageResume(out, [0, 10 * CHUNK, 30 * CHUNK, 45 * CHUNK], randomBytes(SIZE));
  const rec = recorder();
  let notice: string | undefined;
  const r = await runMemoryTransfer(src, out, { hook: rec.hook, onStart: (i) => (notice = i.notice) });
  assert.ok(!(r.receive instanceof Error), errorText(r.receive));
  assert.ok(!(r.send instanceof Error), errorText(r.send));
  assert.deepEqual(rec.wire, range(0, COUNT), 'every chunk, in file order, once');
  assert.equal(r.send.sentBytes, SIZE);
  assert.equal(r.send.resumedFrom, 0);
  assert.equal(r.receive.resumedFrom, 0);
  assert.match(notice ?? '', /does not match/);
  assert.ok(await sameBytes(src, out), 'OUT is identical');
  assert.equal(existsSync(`${out}.part.json`), false);
});

test('resume where only one kept chunk is junk: still every chunk goes, and OUT is identical', async () => {
  const out = outPath();
  const bytes = Buffer.from(srcBytes);
  bytes.writeUInt8(bytes.readUInt8(31 * CHUNK + 5) ^ 0xff, 31 * CHUNK + 5);
  await stageResume(out, [0, 10 * CHUNK, 30 * CHUNK, 45 * CHUNK], bytes);
  const rec = recorder();
  const r = await runMemoryTransfer(src, out, { hook: rec.hook });
  assert.ok(!(r.receive instanceof Error), errorText(r.receive));
  assert.ok(!(r.send instanceof Error), errorText(r.send));
  assert.deepEqual(rec.wire, range(0, COUNT));
  assert.ok(await sameBytes(src, out), 'OUT is identical');
});

test('a transfer of junk-kept chunks interrupted after the restart resumes only from what this run wrote', async () => {
  const out = outPath();
  await stageResume(out, [0, 40 * CHUNK], randomBytes(SIZE));
  // the host falls silent after the first 5 chunks of the new run: the receiver times out (exit 5, keeps what it wrote)
  let chunks = 0;
  const hook: FrameHook = (frame, from) => {
    if (from !== 'host') return [frame];
    if (frame[0] === FRAME_CHUNK) chunks++;
    return chunks > 5 ? [] : [frame];
  };
  const r1 = await runMemoryTransfer(src, out, { hook, peerTimeoutMs: 1000 });
  assertFailed(r1.receive, ExitCode.Network);
  const sidecar = JSON.parse(await readFile(`${out}.part.json`, 'utf8')) as { have: number[] };
  assert.deepEqual(sidecar.have, [0, 5 * CHUNK], 'the junk ranges are forgotten; the 5 written chunks are kept');
  const rec = recorder();
  const r2 = await runMemoryTransfer(src, out, { hook: rec.hook });
  assert.ok(!(r2.receive instanceof Error), errorText(r2.receive));
  assert.deepEqual(rec.wire, range(5, COUNT), 'the genuine kept chunks are not sent again');
  assert.ok(await sameBytes(src, out));
});

test('the host aborts with an integrity code: the receiver keeps nothing for a resume', async () => {
  const out = outPath();
  let chunks = 0;
  const hook: FrameHook = (frame, from) => {
    if (from !== 'host' || frame[0] !== FRAME_CHUNK || ++chunks !== 10) return [frame];
    return [frame, encodeControl(JSON.stringify({ t: 'abort', code: ExitCode.Integrity, message: 'bad' }))];
  };
  const r = await runMemoryTransfer(src, out, { hook });
  assertFailed(r.receive, ExitCode.Integrity);
  await assertNothingAtOut(out);
  assert.equal(existsSync(`${out}.part.json`), false, 'no resume state');
});

test('a want past the end of the file: the host stops with exit 1 and the receiver is told', async () => {
  const out = outPath();
  let injected = false;
  const hook: FrameHook = (frame, from) => {
    // with the first ack (the host is mid-stream), a want that reaches past the end
    if (from !== 'receiver' || injected || controlOf(frame)?.t !== 'ack') return [frame];
    injected = true;
    return [frame, encodeControl(JSON.stringify({ t: 'want', offset: SIZE - 10, length: 11 }))];
  };
  const r = await runMemoryTransfer(src, out, { hook });
  assert.ok(injected);
  assertFailed(r.send, ExitCode.Other, /past the end/);
  assertFailed(r.receive, ExitCode.Other, /past the end/);
  assert.equal(existsSync(out), false, 'OUT must not exist');
});

const badHave: [string, unknown][] = [
  ['not increasing', [5, 3]],
  ['an empty range (start = end)', [2, 2]],
  ['touching ranges', [0, 2, 2, 4]],
  ['odd length', [0, 2, 4]],
  ['too many ranges', range(0, 2 * MAX_HAVE_RANGES + 2)],
  ['not integers', [0.5, 2]],
  ['negative', [-1, 2]],
  ['not an array', { 0: 0, 1: 2 }],
];

for (const [name, have] of badHave) {
  test(`malformed confirm: have ${name} → rejected (exit 1 on both sides), no chunk sent`, async () => {
    const out = outPath();
    const r = await runMemoryTransfer(src, out, { hook: rewriteConfirm((m) => (m.have = have)) });
    assertFailed(r.send, ExitCode.Other, /invalid message/);
    assertFailed(r.receive, ExitCode.Other, /invalid message/);
    assert.equal(r.chunkFramesSent, 0);
    assert.equal(existsSync(out), false, 'OUT must not exist');
  });
}

const mitm: [string, MemoryRunOptions, (m: Record<string, unknown>) => void][] = [
  ['claims chunks the receiver lacks (have [] → [0, 30])', {}, (m) => (m.have = [0, 30])],
  ['drops the chunks the receiver has (have → [])', {}, (m) => (m.have = [])],
  ['lifts the rate cap (maxRate → 0)', { receiverMaxRate: 1024 * 1024 }, (m) => (m.maxRate = 0)],
  ['sets a rate cap (maxRate 0 → 1)', {}, (m) => (m.maxRate = 1)],
  ['changes the hash of the kept bytes', {}, (m) => (m.kept = 'f'.repeat(64))],
];

for (const [name, opts, f] of mitm) {
  test(`MITM rewrites the confirm: ${name} → exit 4 on both sides, no file bytes sent`, async () => {
    const out = outPath();
    if (name.includes('drops') || name.includes('kept')) await stageResume(out, [0, 10 * CHUNK]);
    const r = await runMemoryTransfer(src, out, { ...opts, hook: rewriteConfirm(f) });
    assertFailed(r.send, ExitCode.Auth);
    assertFailed(r.receive, ExitCode.Auth);
    assert.equal(r.chunkFramesSent, 0);
    assert.equal(existsSync(out), false, 'OUT must not exist');
  });
}

test("the receiver's rate cap: 2 MiB at 1 MiB/s takes at least 1.5 s, and the host's higher cap does not lift it", async () => {
  const big = join(dir, 'big.bin');
  await randomFile(big, 2 * 1024 * 1024);
  const out = outPath();
  const t0 = performance.now();
  const r = await runMemoryTransfer(big, out, { receiverMaxRate: 1024 * 1024, hostMaxRate: 64 * 1024 * 1024 });
  const seconds = (performance.now() - t0) / 1000;
  assert.ok(!(r.receive instanceof Error), errorText(r.receive));
  assert.ok(!(r.send instanceof Error), errorText(r.send));
  assert.ok(seconds >= 1.5, `took ${seconds.toFixed(2)} s`);
  assert.ok(await sameBytes(big, out));
});

test('a chunk sent again later (same index twice) → exit 3 on both sides, nothing at OUT', async () => {
  const out = outPath();
  let third: Uint8Array | undefined;
  const hook: FrameHook = (frame, from) => {
    if (from !== 'host' || frame[0] !== FRAME_CHUNK) return [frame];
    const i = chunkIndex(frame);
    if (i === 3) third = frame;
    return i === 10 ? [frame, third!] : [frame];
  };
  const r = await runMemoryTransfer(src, out, { hook });
  assertFailed(r.receive, ExitCode.Integrity, /arrived twice/);
  assertFailed(r.send, ExitCode.Integrity);
  await assertNothingAtOut(out);
});

test('chunks delivered out of order (each group of 8 reversed) → completes and verifies', async () => {
  const out = outPath();
  const delivered: number[] = [];
  let held: Uint8Array[] = [];
  const hook: FrameHook = (frame, from) => {
    if (from !== 'host') return [frame];
    let frames: Uint8Array[];
    if (frame[0] === FRAME_CHUNK) {
      held.push(frame);
      if (held.length < 8) return [];
      frames = held.reverse();
      held = [];
    } else {
      // a control frame (ping, end) lets the chunks held so far go first
      frames = [...held.reverse(), frame];
      held = [];
    }
    for (const f of frames) if (f[0] === FRAME_CHUNK) delivered.push(chunkIndex(f));
    return frames;
  };
  const r = await runMemoryTransfer(src, out, { hook });
  assert.ok(!(r.receive instanceof Error), errorText(r.receive));
  assert.ok(!(r.send instanceof Error), errorText(r.send));
  assert.deepEqual(
    delivered.slice().sort((a, b) => a - b),
    range(0, COUNT),
  );
  assert.notDeepEqual(delivered, range(0, COUNT), 'the order really changed');
  assert.deepEqual(delivered.slice(0, 8), range(0, 8).reverse());
  assert.ok(await sameBytes(src, out));
});
