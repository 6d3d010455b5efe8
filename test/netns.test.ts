/**
 * Separate hosts: network namespaces the test creates (root only).
 * A and B each link to a router namespace R that runs coturn and movie-signal
 * on its own addresses (198.18.0.0/15). movie-share runs in A, movie-get in B.
 * With R's nftables forward chain dropping A<->B, the transfer can only go
 * through TURN (reported `relay`); with the rule removed it goes direct.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BIN, Procs, type Proc } from './support/procs.js';
import { randomFile, sameBytes, tempDir } from './support/files.js';
import { startCoturn, type Coturn } from './support/coturn.js';
import { ADDR, netnsUnavailable, Topology } from './support/netns.js';

const skip = netnsUnavailable();
if (skip) process.stderr.write(`netns.test: skipped: ${skip}\n`);

const procs = new Procs();
let topo: Topology | undefined;
let dir: string;
let removeDir: (() => Promise<void>) | undefined;
let turn: Coturn;
let signalUrl: string;
let src: string;
const SIZE = 8 * 1024 * 1024;

before(async () => {
  if (skip) return;
  ({ dir, remove: removeDir } = await tempDir('movie-share-netns-'));
  src = join(dir, 'src.bin');
  await randomFile(src, SIZE);
  topo = await Topology.create();
  // coturn on the router's A-side address, relaying from the same address:
  // both hosts reach it (it is R's own address, not forwarded traffic)
  turn = await startCoturn({ procs, dir, netns: topo.r, listenIp: ADDR.rA, relayIp: ADDR.rA, port: 3478, auth: { user: 'alice', pass: 'wonderland' } });
  const sig = procs.spawn('ip', ['netns', 'exec', topo.r, process.execPath, BIN.signal, '--host', ADDR.rA, '--port', '0']);
  signalUrl = (await sig.waitFor(/listening on (http:\/\/\S+)/))[1]!;
});

after(async () => {
  await procs.cleanup(); // every child, by PID, even on failure
  await topo?.destroy();
  await removeDir?.();
});

type Ev = Record<string, unknown> & { event: string };
const event = (p: Proc, name: string): Ev | undefined =>
  p
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Ev)
    .find((e) => e.event === name);

/** movie-share in A, movie-get in B, TURN settings from the environment; returns the pair types both reported. */
async function transfer(name: string): Promise<{ share: Ev; get: Ev; mbps: number }> {
  const t = topo!;
  const out = join(dir, `${name}.out`);
  const env = { MOVIE_TURN_URL: turn.url, MOVIE_TURN_USER: 'alice', MOVIE_TURN_PASS: 'wonderland' };
  const s = procs.spawn('ip', ['netns', 'exec', t.a, process.execPath, BIN.share, src, '--signal', signalUrl, '--bind-address', ADDR.a, '--json'], env);
  const code = (await s.waitFor(/"event":"code","code":"([^"]+)"/))[1]!;
  const g = procs.spawn('ip', ['netns', 'exec', t.b, process.execPath, BIN.get, code, '-o', out, '--signal', signalUrl, '--bind-address', ADDR.b, '--json'], env);
  const [gc, sc] = await Promise.all([g.exited, s.exited]);
  assert.equal(gc, 0, `movie-get (in B) failed: ${g.stderr()}`);
  assert.equal(sc, 0, `movie-share (in A) failed: ${s.stderr()}`);
  assert.ok(await sameBytes(src, out), 'byte-identical');
  const share = event(s, 'connected');
  const get = event(g, 'connected');
  assert.ok(share && get, 'both report the connection');
  return { share, get, mbps: SIZE / 1e6 / Number(event(g, 'done')?.seconds) };
}

test('A and B cannot reach each other (R drops forwarded A<->B traffic): the transfer goes through TURN', { skip, timeout: 60_000 }, async (t) => {
  await topo!.blockDirect();
  const r = await transfer('relayed');
  assert.equal(r.share.candidateType, 'relay', JSON.stringify(r.share));
  assert.equal(r.get.candidateType, 'relay', JSON.stringify(r.get));
  t.diagnostic(`relay through coturn in R: ${r.mbps.toFixed(1)} MB/s (${JSON.stringify(r.get)})`);
});

test('the drop rule removed: the same setup goes direct, not through the relay', { skip, timeout: 60_000 }, async (t) => {
  await topo!.allowDirect();
  const r = await transfer('direct');
  for (const c of [r.share, r.get]) {
    assert.notEqual(c.candidateType, 'relay', JSON.stringify(c));
    assert.match(String(c.candidateType), /^(host|srflx|prflx)$/, JSON.stringify(c));
  }
  // A's own address on one end, B's on the other: routed by R, not relayed
  assert.match(String(r.share.local), new RegExp(`${ADDR.a.replace(/\./g, '\\.')}:`));
  assert.match(String(r.share.remote), new RegExp(`${ADDR.b.replace(/\./g, '\\.')}:`));
  t.diagnostic(`direct A<->B through R's routing: ${r.mbps.toFixed(1)} MB/s (${JSON.stringify(r.get)})`);
});
