/** ChunkSet: the bitmap of chunks sent (host) or written (receiver), and its range operations. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkSet } from '../../peer/transfer/chunk-set.js';

/** The reference answer for firstMissing, one chunk at a time. */
function slowFirstMissing(s: ChunkSet, from: number, end = s.count): number {
  for (let i = from; i < end; i++) if (!s.has(i)) return i;
  return -1;
}

test('add and has: each chunk once, across byte boundaries; size and complete follow', () => {
  const s = new ChunkSet(19);
  assert.equal(s.size, 0);
  assert.equal(s.complete, false);
  for (const i of [0, 7, 8, 15, 16, 18]) {
    assert.equal(s.has(i), false);
    assert.equal(s.add(i), true, `first add of ${i}`);
    assert.equal(s.has(i), true);
    assert.equal(s.add(i), false, `second add of ${i}`);
  }
  assert.equal(s.size, 6);
  for (const i of [1, 6, 9, 14, 17]) assert.equal(s.has(i), false, `${i} was never added`);
  for (let i = 0; i < 19; i++) s.add(i);
  assert.equal(s.size, 19);
  assert.equal(s.complete, true);
});

test('an empty set of zero chunks is complete; one of one chunk is not until added', () => {
  assert.equal(new ChunkSet(0).complete, true);
  assert.equal(new ChunkSet(0).firstMissing(0), -1);
  const one = new ChunkSet(1);
  assert.equal(one.complete, false);
  assert.equal(one.firstMissing(0), 0);
  one.add(0);
  assert.equal(one.complete, true);
  assert.equal(one.firstMissing(0), -1);
});

test('firstMissing skips full bytes and finds gaps at every bit position and byte edge', () => {
  const count = 43; // five full bytes and a partial one
  for (let gap = 0; gap < count; gap++) {
    const s = new ChunkSet(count);
    for (let i = 0; i < count; i++) if (i !== gap) s.add(i);
    for (const from of [0, 1, 7, 8, 9, 16, gap, gap + 1]) {
      if (from > count) continue;
      assert.equal(s.firstMissing(from), slowFirstMissing(s, from), `gap ${gap}, from ${from}`);
    }
    assert.equal(s.firstMissing(0), gap);
    assert.equal(s.firstMissing(gap + 1), -1);
    assert.equal(s.firstMissing(0, gap), -1, 'the end bound is exclusive');
    assert.equal(s.firstMissing(0, gap + 1), gap);
  }
});

test('firstMissing and covers agree with a chunk-by-chunk scan on random sets', () => {
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 200; round++) {
    const count = 1 + rand(70);
    const s = new ChunkSet(count);
    const density = rand(10);
    for (let i = 0; i < count; i++) if (rand(10) < density) s.add(i);
    // whole runs of full bytes, too
    if (round % 3 === 0) for (let i = 8; i < Math.min(count, 32); i++) s.add(i);
    for (let k = 0; k < 20; k++) {
      const from = rand(count + 1);
      const end = from + rand(count + 1 - from);
      assert.equal(s.firstMissing(from, end), slowFirstMissing(s, from, end), `count ${count} [${from}, ${end})`);
      assert.equal(s.covers(from, end), slowFirstMissing(s, from, end) === -1);
    }
  }
});

test('covers: an empty range is covered; a range with one missing chunk is not', () => {
  const s = ChunkSet.fromRanges(20, [2, 9, 10, 17]);
  assert.equal(s.covers(5, 5), true);
  assert.equal(s.covers(2, 9), true);
  assert.equal(s.covers(10, 17), true);
  assert.equal(s.covers(2, 10), false);
  assert.equal(s.covers(8, 11), false);
  assert.equal(s.covers(0, 3), false);
  assert.equal(s.covers(16, 18), false);
});

test('ranges: flattened half-open runs, and only the first `max` of them', () => {
  const s = new ChunkSet(30);
  assert.deepEqual(s.ranges(), []);
  for (const i of [0, 1, 2, 7, 8, 9, 10, 16, 20, 21, 29]) s.add(i);
  assert.deepEqual(s.ranges(), [0, 3, 7, 11, 16, 17, 20, 22, 29, 30]);
  assert.deepEqual(s.ranges(2), [0, 3, 7, 11]);
  assert.deepEqual(s.ranges(1), [0, 3]);
  assert.deepEqual(s.ranges(0), []);
  assert.deepEqual(s.ranges(5), s.ranges());
  const full = new ChunkSet(17);
  for (let i = 0; i < 17; i++) full.add(i);
  assert.deepEqual(full.ranges(), [0, 17]);
});

test('fromRanges: round-trips ranges(), clips to the set, ignores a dangling start', () => {
  const r = [0, 3, 7, 11, 16, 17, 29, 30];
  const s = ChunkSet.fromRanges(30, r);
  assert.deepEqual(s.ranges(), r);
  assert.equal(s.size, 3 + 4 + 1 + 1);
  const clipped = ChunkSet.fromRanges(10, [5, 100]);
  assert.deepEqual(clipped.ranges(), [5, 10]);
  assert.equal(clipped.size, 5);
  assert.deepEqual(ChunkSet.fromRanges(10, [2, 4, 6]).ranges(), [2, 4]);
  assert.deepEqual(ChunkSet.fromRanges(10, [20, 30]).ranges(), []);
  assert.equal(ChunkSet.fromRanges(10, [20, 30]).size, 0);
});
