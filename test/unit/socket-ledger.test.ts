/** Open connections per address (`signaling/server/limits.ts`): one node in memory, and the shared ledger over a fake of the Redis counts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memorySocketLedger, sharedSocketLedger, type SharedSocketCounts } from '../../signaling/server/limits.js';

test('memory ledger: max per address, ids counted once, a release frees a place, 0 = no limit', async () => {
  const l = memorySocketLedger(2);
  assert.equal(await l.admit('a', '1'), true);
  assert.equal(await l.admit('a', '2'), true);
  assert.equal(await l.admit('a', '3'), false);
  assert.equal(await l.admit('b', '3'), true, 'another address has its own count');
  l.release('a', '1');
  l.release('a', '1'); // twice: once counted, once released
  assert.equal(await l.admit('a', '4'), true);
  assert.equal(await l.admit('a', '5'), false);
  const none = memorySocketLedger(0);
  for (let i = 0; i < 100; i++) assert.equal(await none.admit('a', String(i)), true);
});

/** Redis's side as a map of address → member → lease end, on a clock the test moves. */
function fakeShared(): SharedSocketCounts & { now: number; down: boolean; size(addr: string): number } {
  const sets = new Map<string, Map<string, number>>();
  const set = (addr: string): Map<string, number> => sets.get(addr) ?? sets.set(addr, new Map()).get(addr)!;
  const f = {
    now: 0,
    down: false,
    size: (addr: string) => [...set(addr).values()].filter((until) => until > f.now).length,
    admitSocket(addr: string, member: string, max: number, leaseMs: number): Promise<boolean> {
      if (f.down) return Promise.reject(new Error('connection refused'));
      const s = set(addr);
      for (const [m, until] of s) if (until <= f.now) s.delete(m);
      if (max > 0 && s.size >= max) return Promise.resolve(false);
      s.set(member, f.now + leaseMs);
      return Promise.resolve(true);
    },
    renewSockets(addr: string, members: string[], leaseMs: number): Promise<void> {
      if (f.down) return Promise.reject(new Error('connection refused'));
      for (const m of members) set(addr).set(m, f.now + leaseMs);
      return Promise.resolve();
    },
    releaseSocket(addr: string, member: string): Promise<void> {
      if (f.down) return Promise.reject(new Error('connection refused'));
      set(addr).delete(member);
      return Promise.resolve();
    },
  };
  return f;
}

test('shared ledger: two nodes share the cap; a release on one frees a place on the other; a dead node stops counting when its leases end', async () => {
  const shared = fakeShared();
  const a = sharedSocketLedger(shared, 'A', 3, 30_000, () => undefined);
  const b = sharedSocketLedger(shared, 'B', 3, 30_000, () => undefined);
  try {
    assert.equal(await a.admit('x', 's1'), true);
    assert.equal(await a.admit('x', 's2'), true);
    assert.equal(await b.admit('x', 's1'), true, 'socket ids are per node: B may reuse one of A');
    assert.equal(await b.admit('x', 's2'), false);
    assert.equal(await a.admit('x', 's3'), false);
    b.release('x', 's1');
    await new Promise((r) => setImmediate(r));
    assert.equal(await a.admit('x', 's3'), true);
    assert.equal(shared.size('x'), 3);
    // node A dies: nothing is released, its leases end
    a.stop();
    assert.equal(await b.admit('x', 's4'), false);
    shared.now += 30_001;
    assert.equal(shared.size('x'), 0);
    assert.equal(await b.admit('x', 's4'), true);
  } finally {
    a.stop();
    b.stop();
  }
});

test('shared ledger: with Redis down a node still holds the cap on its own connections, and logs it', async () => {
  const shared = fakeShared();
  const lines: string[] = [];
  const a = sharedSocketLedger(shared, 'A', 2, 30_000, (l) => lines.push(l));
  try {
    shared.down = true;
    assert.equal(await a.admit('x', '1'), true);
    assert.equal(await a.admit('x', '2'), true);
    assert.equal(await a.admit('x', '3'), false);
    a.release('x', '1');
    await new Promise((r) => setImmediate(r));
    assert.equal(await a.admit('x', '4'), true);
    assert.equal(lines.length, 1, 'logged once, not per connection');
    assert.match(lines[0]!, /counting this node only/);
  } finally {
    a.stop();
  }
});

test('shared ledger: the node renews its connections every third of the lease, and re-adds them after Redis lost them', async () => {
  const shared = fakeShared();
  const a = sharedSocketLedger(shared, 'A', 5, 600, () => undefined);
  try {
    assert.equal(await a.admit('x', '1'), true);
    assert.equal(await a.admit('x', '2'), true);
    shared.down = true;
    assert.equal(await a.admit('x', '3'), true, 'admitted on the local count');
    shared.down = false;
    shared.now = 10_000; // every lease in the fake ended
    assert.equal(shared.size('x'), 0);
    await new Promise((r) => setTimeout(r, 450)); // one renewal (every 200 ms)
    assert.equal(shared.size('x'), 3, 'all three open connections count again');
  } finally {
    a.stop();
  }
});
