/**
 * 100 concurrent rooms across two movie-signal nodes sharing Redis, with
 * half of the receivers on the other node: every room pairs and relays.
 * No timing assertions (bench/signal-load.ts reports the numbers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSignalLoad } from '../../bench/signal-load.js';

test('100 rooms across 2 nodes: zero errors', { timeout: 60_000 }, async (t) => {
  const res = await runSignalLoad({ rooms: 100, nodes: 2 });
  t.diagnostic(JSON.stringify(res));
  assert.deepEqual(res.errorSamples, []);
  assert.equal(res.errors, 0);
  assert.equal(res.paired, 100);
  assert.equal(res.relayed, 100);
  assert.equal(res.roomsOpenSeen, 100);
});
