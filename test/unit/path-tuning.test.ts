/**
 * The transport sized from the path (peer/rtc/path-tuning.ts, sctp-buffers.ts):
 * connections by round-trip time and cores, each extra association's share of
 * one SCTP buffer budget, the credit window, the primary's buffers by MTU.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultStreams, sctpBufferFor, windowFor } from '../../peer/rtc/path-tuning.js';
import { primarySctpBuffer, SACK_DELAY_MS, sctpSettings } from '../../peer/rtc/sctp-buffers.js';
import { DEFAULT_TUNING } from '../../common/config.js';

const MiB = 1024 * 1024;

test('one machine or a LAN: one connection on two or three cores, one more per two cores beyond, at most 4', () => {
  assert.equal(defaultStreams(0, 2), 1);
  assert.equal(defaultStreams(1, 3), 1);
  assert.equal(defaultStreams(1, 4), 2);
  assert.equal(defaultStreams(1, 8), 4);
  assert.equal(defaultStreams(1, 64), 4);
  assert.equal(defaultStreams(undefined, 2), 1, 'no round-trip time: as on a LAN');
});

test('longer paths: 4 connections, whatever the cores', () => {
  for (const rtt of [5, 20, 40, 120, 600]) assert.equal(defaultStreams(rtt, 2), 4);
});

test('SCTP buffers: the library default locally; a share of a 1-4 MiB budget per association, at least 256 KiB', () => {
  assert.equal(sctpBufferFor(1, 4), undefined);
  assert.equal(sctpBufferFor(undefined, 4), undefined);
  assert.equal(sctpBufferFor(120, 1), 4 * MiB);
  assert.equal(sctpBufferFor(120, 4), 1 * MiB);
  assert.equal(sctpBufferFor(20, 4), 256 * 1024);
  assert.equal(sctpBufferFor(1000, 8), 512 * 1024, 'the budget is capped');
});

test('credit window: the default up to 40 ms, the bandwidth-delay product at 200 MB/s above, at most 32 MiB', () => {
  assert.equal(windowFor(undefined), DEFAULT_TUNING.windowBytes);
  assert.equal(windowFor(1), DEFAULT_TUNING.windowBytes);
  assert.equal(windowFor(120), 24e6);
  assert.equal(windowFor(1000), 32 * MiB);
});

test("the primary's buffers: the library's on one machine (mtu 4096), when striped, or toward a page; 2 MiB on any other path", () => {
  const cli = { striped: false, cliPeer: true };
  assert.equal(primarySctpBuffer(4096, cli), undefined);
  assert.equal(primarySctpBuffer(1500, cli), 2 * MiB);
  assert.equal(primarySctpBuffer(1280, cli), 2 * MiB);
  assert.equal(primarySctpBuffer(1280, { striped: true, cliPeer: true }), undefined);
  assert.equal(primarySctpBuffer(1280, { striped: false, cliPeer: false }), undefined, 'toward a page: the library default');
});

test("every association acknowledges within SACK_DELAY_MS (1 ms), not the library's 20 ms, whatever its buffers", () => {
  // with 20 ms, one association on a 120 ms path with no loss fell to 0.2-0.4 MB/s (docs/PERFORMANCE.md, "Delayed acknowledgements")
  assert.equal(SACK_DELAY_MS, 1);
  assert.deepEqual(sctpSettings(undefined), { delayedSackTime: 1 });
  assert.deepEqual(sctpSettings(2 * MiB), { delayedSackTime: 1, recvBufferSize: 2 * MiB, sendBufferSize: 2 * MiB });
});
