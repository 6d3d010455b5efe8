/**
 * Per-address rate limits on create and join: a flood of joins from one
 * address gets `rate-limited`, the server stays up, and a room paired before
 * the flood keeps relaying. The window resets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import { spawnSignalNode } from '../../bench/signal-load.js';
import { startSignalServer } from '../../signaling/server/index.js';
import { SignalClient } from '../../peer/rendezvous/signal-client.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { SIGNAL_PROTOCOL_VERSION as V } from '../../common/protocol/signal-protocol.js';
import { ROOM_ALPHABET } from '../../common/code/room-id.js';
import { eventually } from '../support/eventually.js';

function connectRaw(url: string, sockets: Set<Socket>): Promise<Socket> {
  const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
  sockets.add(s);
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

const randomRoom = (): string => Array.from({ length: 4 }, () => ROOM_ALPHABET[Math.floor(Math.random() * ROOM_ALPHABET.length)]).join('');

test('a flood of joins from one address is rate-limited; the server stays up; a paired room is undisturbed', { timeout: 30_000 }, async (t) => {
  const node = await spawnSignalNode(['--rate-limit-joins', '20', '--rate-limit-creates', '5', '--rate-limit-window', '60']);
  t.after(() => node.kill());
  const sockets = new Set<Socket>();
  t.after(() => sockets.forEach((s) => s.disconnect()));
  const clients: SignalClient[] = [];
  t.after(() => clients.forEach((c) => c.close()));

  const host = await SignalClient.connect({ url: node.url });
  const recv = await SignalClient.connect({ url: node.url });
  clients.push(host, recv);
  const { room } = await host.createRoom(); // create 1 of 5
  await recv.joinRoom(room); // join 1 of 20

  // creates: 4 more succeed, then rate-limited
  const creators = await Promise.all(Array.from({ length: 6 }, () => connectRaw(node.url, sockets)));
  const created = await Promise.all(creators.map((s) => s.emitWithAck('create', { v: V })));
  assert.equal(created.filter((r) => r.ok).length, 4);
  const limitedCreate = created.find((r) => !r.ok);
  assert.equal(limitedCreate.reason, 'rate-limited');

  // the flood: 600 joins over 6 connections, all at once
  const flooders = await Promise.all(Array.from({ length: 6 }, () => connectRaw(node.url, sockets)));
  const replies = await Promise.all(Array.from({ length: 600 }, (_, i) => flooders[i % flooders.length]!.timeout(10_000).emitWithAck('join', { v: V, room: randomRoom() })));
  const byReason = new Map<string, number>();
  for (const r of replies) byReason.set(r.reason ?? 'ok', (byReason.get(r.reason ?? 'ok') ?? 0) + 1);
  t.diagnostic(JSON.stringify(Object.fromEntries(byReason)));
  // fixed windows: a slow run may straddle one window boundary, which allows one more window's worth
  assert.ok((byReason.get('rate-limited') ?? 0) >= 600 - 19 - 20, 'at most 19 more joins (+20 across a window boundary) are looked up');
  assert.equal(byReason.get('ok') ?? 0, 0);

  // the client turns it into one sentence and exit 5
  const late = await SignalClient.connect({ url: node.url });
  clients.push(late);
  await assert.rejects(late.joinRoom(randomRoom()), (e: unknown) => {
    assert.ok(e instanceof MovieShareError);
    assert.equal(e.exitCode, ExitCode.Network);
    assert.match(e.message, /rate limit/);
    return true;
  });

  // up and healthy; the paired room still relays both ways
  assert.equal(node.proc.exitCode, null);
  assert.equal((await fetch(`${node.url}/healthz`)).status, 200);
  const a = new Promise<string>((r) => recv.onSignal((m) => r(m.data)));
  host.send({ kind: 'pake', data: 'aGk=' });
  assert.equal(await a, 'aGk=');
  const b = new Promise<string>((r) => host.onSignal((m) => r(m.data)));
  recv.send({ kind: 'pake', data: 'aG8=' });
  assert.equal(await b, 'aG8=');

  const metrics = await (await fetch(`${node.url}/metrics`)).text();
  const m = /^movie_signal_rejects_total\{reason="rate-limited"\} (\d+)$/m.exec(metrics);
  // every rate-limited reply counted once: the flood's joins, the 2 creates over the limit, the late join
  assert.equal(Number(m?.[1]), (byReason.get('rate-limited') ?? 0) + 2 + 1, `rate-limited rejects: ${m?.[1]}`);
});

test('the rate-limit window resets', async (t) => {
  const s = await startSignalServer({ host: '127.0.0.1', port: 0, rateLimit: { windowMs: 400, maxCreates: 1, maxJoins: 2, joinMissCost: 1 } });
  t.after(() => s.close());
  const sockets = new Set<Socket>();
  t.after(() => sockets.forEach((x) => x.disconnect()));
  const r = await connectRaw(s.url, sockets);
  // three joins inside one fixed 400 ms window; on a loaded machine the window
  // may roll over between them, so take the first run of three that fits one
  const window = (): number => Math.floor(Date.now() / 400);
  let results: string[] = [];
  for (let attempt = 0; attempt < 10; attempt++) {
    results = [];
    const w = window();
    for (let i = 0; i < 3; i++) results.push((await r.emitWithAck('join', { v: V, room: 'zzzz' })).reason);
    const end = window();
    if (end === w && results[0] === 'not-found') break;
    // the attempt straddled two windows: wait for one that none of its joins reached, then try again
    await eventually(() => assert.notEqual(window(), end), 1000, 10);
  }
  assert.deepEqual(results, ['not-found', 'not-found', 'rate-limited']);
  // once the window has passed, joins are allowed again
  await eventually(async () => assert.equal((await r.emitWithAck('join', { v: V, room: 'zzzz' })).reason, 'not-found'), 5000, 100);
});
