/**
 * Separate hosts: network namespaces the test creates (root only).
 * A and B each link to a router namespace R that runs coturn and movie-signal
 * on its own addresses (198.18.0.0/15). movie-share runs in A, movie-get in B.
 * With R's nftables forward chain dropping A<->B, the transfer can only go
 * through TURN (reported `relay`); with the rule removed it goes direct.
 * The MTU (peer/rtc/path-mtu.ts): 1280 whenever TURN is configured or the path is
 * routed; the link's MTU (up to 4096) when A and B share one link.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BIN, Procs, type Proc } from '../support/procs.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';
import { startCoturn, type Coturn } from '../support/coturn.js';
import { ADDR, netnsUnavailable, Topology } from '../support/netns.js';

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

/**
 * movie-share in A, movie-get in B (bound to `bind`), TURN settings from the
 * environment unless `withTurn` is false; returns what both reported.
 */
async function transfer(
  name: string,
  bind: { a: string; b: string } = { a: ADDR.a, b: ADDR.b },
  withTurn = true,
  t?: { diagnostic(m: string): void },
): Promise<{ share: Ev; get: Ev; mbps: number }> {
  const topology = topo!;
  const out = join(dir, `${name}.out`);
  const env = withTurn ? { MOVIE_TURN_URL: turn.url, MOVIE_TURN_USER: 'alice', MOVIE_TURN_PASS: 'wonderland' } : {};
  const once = async (): Promise<[Proc, Proc, number, number]> => {
    const s = procs.spawn('ip', ['netns', 'exec', topology.a, process.execPath, BIN.share, src, '--signal', signalUrl, '--bind-address', bind.a, '--json'], env);
    const code = (await s.waitFor(/"event":"code","code":"([^"]+)"/))[1]!;
    const g = procs.spawn('ip', ['netns', 'exec', topology.b, process.execPath, BIN.get, code, '-o', out, '--signal', signalUrl, '--bind-address', bind.b, '--json'], env);
    const [gc, sc] = await Promise.all([g.exited, s.exited]);
    return [s, g, gc, sc];
  };
  let [s, g, gc, sc] = await once();
  if (withTurn && gc === 5 && /handshake \(DTLS\) did not complete/.test(g.stderr())) {
    // TURN as a fallback: the path, and so the safe DTLS roles, are not known in
    // advance; libdatachannel 0.24 can then stall the handshake (peer/rtc/dtls-role.ts).
    // The CLIs exit 5 with a sentence (asserted here); a user runs them again.
    assert.equal(sc, 5, s.stderr());
    t?.diagnostic(`${name}: DTLS handshake stalled (libdatachannel lock cycle); both exited 5; retrying once`);
    [s, g, gc, sc] = await once();
  }
  assert.equal(gc, 0, `movie-get (in B) failed: ${g.stderr()}`);
  assert.equal(sc, 0, `movie-share (in A) failed: ${s.stderr()}`);
  assert.ok(await sameBytes(src, out), 'byte-identical');
  // the connection that carried the transfer: with TURN as a fallback the first
  // attempt goes direct only, and a blocked path is reached by a reconnection (PROTOCOL.md §4a)
  const share = event(s, 'reconnected') ?? event(s, 'connected');
  const get = event(g, 'reconnected') ?? event(g, 'connected');
  assert.ok(share && get, 'both report the connection');
  return { share, get, mbps: SIZE / 1e6 / Number(event(g, 'done')?.seconds) };
}

test('A and B cannot reach each other (R drops forwarded A<->B traffic): the transfer goes through TURN', { skip, timeout: 60_000 }, async (t) => {
  await topo!.blockDirect();
  const r = await transfer('relayed', undefined, true, t);
  assert.equal(r.share.candidateType, 'relay', JSON.stringify(r.share));
  assert.equal(r.get.candidateType, 'relay', JSON.stringify(r.get));
  for (const c of [r.share, r.get]) assert.equal(c.mtu, 1280, `TURN configured: the safe MTU (${JSON.stringify(c)})`);
  t.diagnostic(`relay through coturn in R: ${r.mbps.toFixed(1)} MB/s (${JSON.stringify(r.get)})`);
});

test('the drop rule removed: the same setup goes direct, not through the relay', { skip, timeout: 60_000 }, async (t) => {
  await topo!.allowDirect();
  const r = await transfer('direct', undefined, true, t);
  for (const c of [r.share, r.get]) {
    assert.notEqual(c.candidateType, 'relay', JSON.stringify(c));
    assert.match(String(c.candidateType), /^(host|srflx|prflx)$/, JSON.stringify(c));
  }
  // A's own address on one end, B's on the other: routed by R, not relayed
  assert.match(String(r.share.local), new RegExp(`${ADDR.a.replace(/\./g, '\\.')}:`));
  assert.match(String(r.share.remote), new RegExp(`${ADDR.b.replace(/\./g, '\\.')}:`));
  for (const c of [r.share, r.get]) assert.equal(c.mtu, 1280, JSON.stringify(c));
  t.diagnostic(`direct A<->B through R's routing: ${r.mbps.toFixed(1)} MB/s (${JSON.stringify(r.get)})`);
});

test('routed A<->B without TURN: no shared link, so the safe MTU 1280', { skip, timeout: 60_000 }, async () => {
  const r = await transfer('routed', { a: ADDR.a, b: ADDR.b }, false);
  for (const c of [r.share, r.get]) {
    assert.equal(c.candidateType, 'host', JSON.stringify(c));
    assert.equal(c.mtu, 1280, JSON.stringify(c));
    assert.match(String(c.mtuReason), /no shared link/);
  }
});

test('A and B on one shared link (a LAN): its MTU, 1500; with jumbo frames (9000), 4096; the file arrives intact', { skip, timeout: 90_000 }, async (t) => {
  await topo!.addLan(1500);
  const lan = { a: ADDR.lanA, b: ADDR.lanB };
  const r = await transfer('lan-1500', lan, false);
  for (const c of [r.share, r.get]) {
    assert.equal(c.mtu, 1500, JSON.stringify(c));
    assert.match(String(c.mtuReason), /shared link \(MTU 1500\)/);
  }
  assert.match(String(r.share.remote), new RegExp(`${ADDR.lanB.replace(/\./g, '\\.')}:`));
  await topo!.setLanMtu(9000);
  const j = await transfer('lan-9000', lan, false);
  for (const c of [j.share, j.get]) assert.equal(c.mtu, 4096, JSON.stringify(c));
  t.diagnostic(`shared link: ${r.mbps.toFixed(1)} MB/s at MTU 1500, ${j.mbps.toFixed(1)} MB/s at 4096 (jumbo link)`);
});
