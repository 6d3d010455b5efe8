/**
 * The host's send order: file order, resume holes skipped, a want jumps and
 * the stream goes on after it, the end wraps around to the holes, and every
 * missing chunk goes exactly once whatever the receiver asks for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkSet } from '../../peer/transfer/chunk-set.js';
import { MAX_WANTS, Schedule } from '../../peer/transfer/schedule.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

/** Take up to `n` chunks (all that are left by default). */
function drain(s: Schedule, n = Infinity): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const i = s.next();
    if (i < 0) break;
    out.push(i);
  }
  return out;
}

/** The private wants queue, read for its bound only. */
const wantsOf = (s: Schedule): unknown[] => (s as unknown as { wants: unknown[] }).wants;

test('no wants: every chunk in file order, then -1 (and -1 again)', () => {
  const s = new Schedule(10, new ChunkSet(10));
  assert.deepEqual(drain(s), range(0, 10));
  assert.equal(s.next(), -1);
  assert.equal(s.next(), -1);
  assert.equal(s.sent.complete, true);
});

test('a one-chunk file (also what an empty file is) sends chunk 0 once', () => {
  const s = new Schedule(1, new ChunkSet(1));
  assert.deepEqual(drain(s), [0]);
});

test('resume: chunks the receiver has are skipped, the holes go in file order', () => {
  const s = new Schedule(20, ChunkSet.fromRanges(20, [0, 5, 8, 12, 19, 20]));
  assert.deepEqual(drain(s), [...range(5, 8), ...range(12, 19)]);
});

test('resume of a complete file sends nothing', () => {
  const s = new Schedule(8, ChunkSet.fromRanges(8, [0, 8]));
  assert.equal(s.next(), -1);
});

test('a want jumps ahead, the stream goes on after the wanted range, then wraps around to fill the holes', () => {
  const s = new Schedule(20, new ChunkSet(20));
  assert.deepEqual(drain(s, 3), [0, 1, 2]);
  s.want(12, 15);
  assert.deepEqual(drain(s), [...range(12, 20), ...range(3, 12)]);
});

test('a want over chunks already sent only sends what is missing of it', () => {
  const s = new Schedule(20, ChunkSet.fromRanges(20, [10, 12]));
  assert.deepEqual(drain(s, 2), [0, 1]);
  s.want(10, 14); // 10 and 11 are at the receiver
  assert.deepEqual(drain(s, 2), [12, 13]);
  s.want(0, 2); // all sent: the stream just goes on
  assert.deepEqual(drain(s), [...range(14, 20), ...range(2, 10)]);
});

test('wants are served oldest first, each to its end', () => {
  const s = new Schedule(30, new ChunkSet(30));
  s.want(20, 22);
  s.want(5, 7);
  s.want(25, 26);
  assert.deepEqual(drain(s, 5), [20, 21, 5, 6, 25]);
  assert.deepEqual(drain(s), [...range(26, 30), ...range(0, 5), ...range(7, 20), 22, 23, 24]);
});

test('a want is clipped to the file; one past the end is ignored', () => {
  const s = new Schedule(10, new ChunkSet(10));
  s.want(8, 1000);
  assert.deepEqual(drain(s, 2), [8, 9]);
  s.want(50, 60);
  s.want(10, 11);
  assert.deepEqual(drain(s), range(0, 8));
});

test('the wants queue keeps only the newest MAX_WANTS', () => {
  const count = 1000;
  const s = new Schedule(count, new ChunkSet(count));
  for (let k = 0; k < MAX_WANTS * 4; k++) {
    s.want(k * 10, k * 10 + 1);
    assert.ok(wantsOf(s).length <= MAX_WANTS);
  }
  assert.equal(wantsOf(s).length, MAX_WANTS);
  // the oldest were dropped: the first chunk sent is the oldest want kept
  const oldestKept = (MAX_WANTS * 4 - MAX_WANTS) * 10;
  assert.equal(s.next(), oldestKept);
});

test('every chunk exactly once under a flood of overlapping and out-of-range wants', () => {
  let seed = 42;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 50; round++) {
    const count = 1 + rand(300);
    const haveRanges: number[] = [];
    for (let at = rand(20); at < count; at += 1 + rand(40)) {
      const end = Math.min(count, at + 1 + rand(20));
      haveRanges.push(at, end);
      at = end;
    }
    const have = ChunkSet.fromRanges(count, haveRanges);
    const expected = range(0, count).filter((i) => !have.has(i));
    const missing = new Set(expected);
    const s = new Schedule(count, have);
    const seen = new Set<number>();
    const order: number[] = [];
    for (;;) {
      for (let w = rand(4); w > 0; w--) {
        const start = rand(count + 50);
        s.want(start, start + 1 + rand(count)); // overlapping, often past the end
        assert.ok(wantsOf(s).length <= MAX_WANTS, 'the wants queue stays bounded');
      }
      const i = s.next();
      if (i < 0) break;
      assert.ok(i >= 0 && i < count, `index ${i} inside the file`);
      assert.ok(!seen.has(i), `chunk ${i} sent twice`);
      assert.ok(missing.has(i), `chunk ${i} was at the receiver already`);
      seen.add(i);
      order.push(i);
      assert.ok(order.length <= count, 'terminates');
    }
    assert.deepEqual(
      order.slice().sort((a, b) => a - b),
      expected,
      `round ${round}: each missing chunk exactly once`,
    );
    assert.equal(s.next(), -1);
  }
});
