/**
 * The delay line (test/support/delay-line.ts) on the lossy profile: 50 Mbit/s,
 * 40 ms RTT, 1 % loss each way, between namespaces A and B through R.
 *  1. it really delays and drops: UDP probes from A to an echo in B come back
 *     after ≥ 40 ms, and about 2 % of round trips (1 % each way) are lost;
 *  2. the real CLIs (product defaults) move a few MiB across it, byte-identical:
 *     movie-share in A, movie-get in B, movie-signal on R's own address (its
 *     traffic is not delayed; the data channel's is).
 * Skips with the reason when not root, or without /dev/net/tun or gcc.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BIN, DIST, Procs } from '../support/procs.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';
import { ADDR, Topology } from '../support/netns.js';
import { DelayLine, delayLineUnavailable, PROFILES } from '../support/delay-line.js';
import { lastEvent } from '../support/reliability.js';

const skip = delayLineUnavailable();
if (skip) process.stderr.write(`delay-line.test: skipped: ${skip}\n`);

const PROBE = join(DIST, 'test/support/udp-probe.js');
const procs = new Procs();
let topo: Topology | undefined;
let line: DelayLine | undefined;
let dir: string;
let removeDir: (() => Promise<void>) | undefined;

before(async () => {
  if (skip) return;
  ({ dir, remove: removeDir } = await tempDir('movie-share-delay-'));
  topo = await Topology.create('msd');
  line = await DelayLine.start(topo, PROFILES.lossy);
});

after(async () => {
  await procs.cleanup(); // every child, by PID, even on failure
  await line?.stop();
  await topo?.destroy();
  await removeDir?.();
});

test('lossy profile: UDP round trips take ≥ 40 ms and ~2 % are lost (1 % each way)', { skip, timeout: 30_000 }, async (t) => {
  const topology = topo!;
  const before = await line!.stats();
  const echo = procs.spawn('ip', ['netns', 'exec', topology.b, process.execPath, PROBE, 'echo', ADDR.b]);
  const port = (await echo.waitFor(/"port":(\d+)/))[1]!;
  const COUNT = 2000;
  const ping = procs.spawn('ip', ['netns', 'exec', topology.a, process.execPath, PROBE, 'ping', ADDR.b, port, String(COUNT), '1']);
  const done = JSON.parse((await ping.waitFor(/\{"t":"done".*\}/, 20_000))[0]) as { received: number; rttMs: { min: number; median: number } };
  const after = await line!.stats();
  echo.kill();
  const lostRound = 1 - done.received / COUNT;
  const ab = { in: after.ab.in - before.ab.in, lost: after.ab.lost - before.ab.lost };
  t.diagnostic(`RTT min ${done.rttMs.min} ms, median ${done.rttMs.median} ms; round trips lost ${(lostRound * 100).toFixed(2)} %; A→B dropped ${ab.lost}/${ab.in}`);
  // the line never delivers early (only load can add time: no upper bound beyond a loose one)
  assert.ok(done.rttMs.min >= 39.9, `min RTT ${done.rttMs.min} ms < 40 ms`);
  assert.ok(done.rttMs.median < 100, `median RTT ${done.rttMs.median} ms`);
  // 1 - 0.99² ≈ 2 %: expected 40 of 2000 (sd ~6); the bounds are ±5 sd and more
  assert.ok(lostRound > 0.005 && lostRound < 0.045, `round-trip loss ${lostRound}`);
  assert.ok(ab.lost > 0 && ab.lost / ab.in < 0.03, `A→B dropped ${ab.lost} of ${ab.in}`);
});

test('lossy profile: movie-share in A → movie-get in B (product defaults), 3 MiB, byte-identical', { skip, timeout: 60_000 }, async (t) => {
  const topology = topo!;
  const src = join(dir, 'src.bin');
  const out = join(dir, 'out.bin');
  await randomFile(src, 3 * 1024 * 1024);
  const sig = procs.spawn('ip', ['netns', 'exec', topology.r, process.execPath, BIN.signal, '--host', ADDR.rA, '--port', '0']);
  const url = (await sig.waitFor(/listening on (http:\/\/\S+)/))[1]!;
  const before = await line!.stats();
  const s = procs.spawn('ip', ['netns', 'exec', topology.a, process.execPath, BIN.share, src, '--signal', url, '--json']);
  const code = (await s.waitFor(/"event":"code","code":"([^"]+)"/))[1]!;
  const g = procs.spawn('ip', ['netns', 'exec', topology.b, process.execPath, BIN.get, code, '-o', out, '--signal', url, '--json']);
  const [gc, sc] = await Promise.all([g.exited, s.exited]);
  assert.equal(gc, 0, `movie-get (in B) failed: ${g.stderr()}`);
  assert.equal(sc, 0, `movie-share (in A) failed: ${s.stderr()}`);
  assert.ok(await sameBytes(src, out), 'byte-identical');
  const after = await line!.stats();
  const lost = after.ab.lost - before.ab.lost + after.ba.lost - before.ba.lost;
  // the bytes crossed the line (and lost packets on the way): not a path around it
  assert.ok(after.ab.out - before.ab.out > 2000, `only ${after.ab.out - before.ab.out} packets A→B through the line`);
  assert.ok(lost > 0, 'no packet of the transfer was dropped');
  const connected = lastEvent(g, 'connected');
  t.diagnostic(`${Number(lastEvent(g, 'done')?.seconds).toFixed(1)} s; ${lost} packets dropped by the line; ${JSON.stringify(connected)}`);
});
