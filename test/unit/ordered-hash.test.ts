/**
 * The receiver's whole-file SHA-256 in file order: chunks arriving in order
 * hash as one pass would; chunks that came early or were here from an
 * earlier run are read back through the callback, and a failed read surfaces
 * from digest().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cryptoBackend } from '../../common/crypto/backend.js';
import { ChunkSet } from '../../peer/transfer/chunk-set.js';
import { OrderedHash } from '../../peer/transfer/ordered-hash.js';
import '../support/node-crypto.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

let seed = 7;
function rand(n: number): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed % n;
}

function shuffled(xs: number[]): number[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = rand(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function reverseGroups(xs: number[], n: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < xs.length; k += n) out.push(...xs.slice(k, k + n).reverse());
  return out;
}

/**
 * A receiver in miniature: `file` is what the host sends; `disk` what the sink
 * holds (its read-back is asynchronous, taking a few ticks); `present` what
 * was written.
 */
function setup(size: number, chunkSize: number, haveRanges: number[] = []) {
  const file = randomBytes(size);
  const count = size === 0 ? 1 : Math.ceil(size / chunkSize);
  const present = ChunkSet.fromRanges(count, haveRanges);
  const disk = new Uint8Array(size);
  for (let i = 0; i < count; i++) if (present.has(i)) disk.set(file.subarray(i * chunkSize, (i + 1) * chunkSize), i * chunkSize);
  const reads: [number, number][] = [];
  let failRead: Error | undefined;
  const read = async (offset: number, length: number): Promise<Uint8Array> => {
    reads.push([offset, length]);
    for (let k = rand(3); k > 0; k--) await tick();
    if (failRead) throw failRead;
    return disk.slice(offset, offset + length);
  };
  const hash = new OrderedHash(cryptoBackend().sha256(), present, chunkSize, size, read);
  const chunk = (i: number): Uint8Array => file.subarray(i * chunkSize, Math.min((i + 1) * chunkSize, size));
  /** what the receiver does with an authenticated chunk */
  const arrive = (i: number): void => {
    assert.equal(present.add(i), true);
    disk.set(chunk(i), i * chunkSize);
    hash.arrived(i, chunk(i));
  };
  const expected = createHash('sha256').update(file).digest();
  return {
    count,
    present,
    hash,
    arrive,
    reads,
    expected,
    failReadsWith: (e: Error) => (failRead = e),
  };
}

test('in order: the same digest as hashing the file in one go, and nothing is read back', async () => {
  for (const [size, chunkSize] of [
    [0, 1024],
    [1, 1024],
    [1024, 1024],
    [10 * 1024 + 17, 1024],
  ] as const) {
    const t = setup(size, chunkSize);
    for (let i = 0; i < t.count; i++) t.arrive(i);
    assert.deepEqual(Buffer.from(await t.hash.digest()), t.expected, `size ${size}`);
    assert.deepEqual(t.reads, [], 'in-order chunks are hashed from memory');
  }
});

test('out of order (reversed, shuffled, a seek ahead), with ticks between arrivals: the right digest', async () => {
  const size = 200 * 1024 + 5;
  const chunkSize = 1024;
  const count = Math.ceil(size / chunkSize);
  const all = Array.from({ length: count }, (_, i) => i);
  const orders: [string, number[]][] = [
    ['reversed', all.slice().reverse()],
    ['shuffled', shuffled(all)],
    ['a seek to 80 % and back', [0, 1, 2, ...all.slice(160), ...all.slice(3, 160)]],
    ['groups of 8 reversed', reverseGroups(all, 8)],
  ];
  for (const [name, order] of orders) {
    const missing = all.filter((i) => !order.includes(i));
    const t = setup(size, chunkSize);
    for (const i of [...order, ...missing]) {
      t.arrive(i);
      if (rand(4) === 0) await tick(); // let read-backs run in between, sometimes
    }
    assert.deepEqual(Buffer.from(await t.hash.digest()), t.expected, name);
    for (const [, length] of t.reads) assert.ok(length <= 1024 * 1024 && length > 0);
  }
});

test('read-back covers runs of early chunks, each byte of the file hashed once', async () => {
  const chunkSize = 1024;
  const size = 64 * chunkSize;
  const t = setup(size, chunkSize);
  // chunks 10..63 first, then 0..9: the hash reads back 10..63 once chunk 9 is in
  for (let i = 10; i < 64; i++) t.arrive(i);
  for (let i = 0; i < 10; i++) t.arrive(i);
  assert.deepEqual(Buffer.from(await t.hash.digest()), t.expected);
  let readBytes = 0;
  for (const [offset, length] of t.reads) {
    assert.ok(offset >= 10 * chunkSize, `only early chunks are read back (offset ${offset})`);
    readBytes += length;
  }
  assert.equal(readBytes, 54 * chunkSize, 'each early chunk read back once');
});

test('read-back goes in runs of at most 1 MiB', async () => {
  const chunkSize = 16 * 1024;
  const size = 3 * 1024 * 1024 + 100;
  const t = setup(size, chunkSize);
  for (let i = t.count - 1; i >= 0; i--) t.arrive(i);
  assert.deepEqual(Buffer.from(await t.hash.digest()), t.expected);
  assert.ok(t.reads.length >= 3, `${t.reads.length} reads`);
  for (const [, length] of t.reads) assert.ok(length <= 1024 * 1024, `a read of ${length} bytes`);
});

test('resume: chunks present from an earlier run (not a prefix) are read back; the rest arrive in any order', async () => {
  const chunkSize = 1024;
  const size = 100 * chunkSize - 3;
  for (const have of [
    [0, 30],
    [0, 30, 60, 80],
    [10, 20, 50, 100],
    [0, 100],
  ]) {
    const t = setup(size, chunkSize, have);
    t.hash.catchUp(); // as the receiver does right after open
    const rest = Array.from({ length: t.count }, (_, i) => i).filter((i) => !t.present.has(i));
    for (const i of shuffled(rest)) {
      t.arrive(i);
      if (rand(3) === 0) await tick();
    }
    assert.deepEqual(Buffer.from(await t.hash.digest()), t.expected, `have ${JSON.stringify(have)}`);
  }
});

test('a failed read-back surfaces from digest()', async () => {
  const chunkSize = 1024;
  const t = setup(20 * chunkSize, chunkSize);
  t.failReadsWith(new Error('disk on fire'));
  for (let i = 19; i >= 0; i--) t.arrive(i);
  await assert.rejects(t.hash.digest(), /disk on fire/);
});

test('a read-back failing after some succeeded still fails digest()', async () => {
  const chunkSize = 16 * 1024;
  const t = setup(4 * 1024 * 1024, chunkSize);
  for (let i = t.count - 1; i >= 1; i--) t.arrive(i);
  const read = t.reads.length;
  t.arrive(0); // starts reading back 1..255 in 1 MiB runs
  await tick();
  t.failReadsWith(new Error('gone'));
  await assert.rejects(t.hash.digest(), /gone/);
  assert.ok(t.reads.length > read);
});

test('digest() with chunks still missing rejects instead of returning a wrong digest', async () => {
  const t = setup(10 * 1024, 1024);
  for (const i of [0, 1, 2, 4, 5]) t.arrive(i);
  await assert.rejects(t.hash.digest(), /missing/);
});
