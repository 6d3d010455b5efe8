/**
 * Meeting rooms (`meet`) against the real `movie-signal` on 127.0.0.1 (port
 * 0): two SignalClients meet by an id of their own (host first, receiver
 * first), relay both ways, get what was sent before the other arrived, see
 * each other leave and come back; a newer meet with the same role replaces
 * the older connection (which gives up, and whose token no longer rejoins);
 * malformed ids are refused, `join` never reaches a meeting room, and a meet
 * counts as a create for the limits. The server restarted with its rooms in
 * memory (all lost): the peers meet again and relay. Two nodes behind Redis:
 * members on different nodes relay, a newer meet on the other node replaces,
 * and a rolling restart of one node keeps the meeting room (rejoin).
 *
 * The Redis test needs the Debian package redis-server; it fails, not
 * skips, without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { withTimeout } from '../../common/timeout.js';
import { spawnRedis, spawnSignalNode, type RedisProc, type SignalNode } from '../../bench/signal-load.js';
import { SignalClient, type SignalClientOptions } from '../../peer/rendezvous/signal-client.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { SIGNAL_PROTOCOL_VERSION as V, type SignalPayload } from '../../common/protocol/signal-protocol.js';
import { MEET_ALPHABET, isValidMeetId } from '../../common/code/room-id.js';
import { eventually } from '../support/eventually.js';

type Ctx = { after: (fn: () => unknown) => void };

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => withTimeout(p, ms, `timed out after ${ms} ms waiting for ${what}`);
const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** A fresh meeting id, as the peers would derive one: `m` + 26 base32 characters. */
function meetingId(): string {
  const bytes = randomBytes(26);
  const id = `m${Array.from(bytes, (b) => MEET_ALPHABET[b & 31]).join('')}`;
  assert.ok(isValidMeetId(id));
  return id;
}

async function node(t: Ctx, args: string[] = []): Promise<SignalNode> {
  const n = await spawnSignalNode(args);
  t.after(() => n.kill());
  return n;
}

/** What one SignalClient saw: its signals in order, how often the other peer appeared and left, why it gave up. */
interface Peer {
  c: SignalClient;
  next(what: string, ms?: number): Promise<SignalPayload>;
  joined: number;
  left: number;
  lost: string[];
  rejoined: number;
  /** resolves when `cond` holds, checked after every event of this client */
  until(cond: (p: Peer) => boolean, what: string, ms?: number): Promise<void>;
}

async function peer(t: Ctx, url: string, opts: Partial<SignalClientOptions> = {}): Promise<Peer> {
  const c = await SignalClient.connect({ url, connectTimeoutMs: 5000, reconnectTimeoutMs: 15_000, ...opts });
  t.after(() => c.close());
  const got: SignalPayload[] = [];
  const waiting: ((m: SignalPayload) => void)[] = [];
  const watchers: (() => void)[] = [];
  const changed = (): void => {
    for (const w of [...watchers]) w();
  };
  const p: Peer = {
    c,
    joined: 0,
    left: 0,
    lost: [],
    rejoined: 0,
    next: (what, ms = 10_000) => within(got.length ? Promise.resolve(got.shift()!) : new Promise<SignalPayload>((r) => waiting.push(r)), ms, what),
    until: (cond, what, ms = 10_000) =>
      within(
        new Promise<void>((resolve) => {
          const check = (): void => {
            if (!cond(p)) return;
            watchers.splice(watchers.indexOf(check), 1);
            resolve();
          };
          watchers.push(check);
          check();
        }),
        ms,
        what,
      ),
  };
  c.onSignal((m) => {
    const w = waiting.shift();
    if (w) w(m);
    else got.push(m);
  });
  c.onPeerJoined(() => {
    p.joined++;
    changed();
  });
  c.onPeerLeft(() => {
    p.left++;
    changed();
  });
  c.onDisconnect((why) => {
    p.lost.push(why);
    changed();
  });
  c.onRejoined(() => {
    p.rejoined++;
    changed();
  });
  return p;
}

async function raw(t: Ctx, url: string, headers: Record<string, string> = {}): Promise<Socket> {
  const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: headers });
  t.after(() => s.disconnect());
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  return s;
}

async function roomsOpen(url: string): Promise<number> {
  return ((await (await fetch(`${url}/healthz`)).json()) as { rooms: number }).rooms;
}

/** Waits until the server counts `n` open rooms (a `leave` is handled after the client sent it). */
async function roomsBecome(url: string, n: number): Promise<void> {
  await eventually(async () => assert.equal(await roomsOpen(url), n), 10_000);
}

const reasonOf = async (s: Socket, ev: string, arg: object): Promise<string> => ((await s.emitWithAck(ev, { v: V, ...arg })) as { reason?: string }).reason ?? 'ok';

/** One message each way, checked verbatim. */
async function relaysBothWays(a: Peer, b: Peer, tag: string): Promise<void> {
  const ab = { kind: 'sdp' as const, data: b64(`${tag}: a to b`) };
  a.c.send(ab);
  assert.deepEqual(await b.next(`${tag}: a→b`), ab);
  const ba = { kind: 'candidate' as const, data: b64(`${tag}: b to a`) };
  b.c.send(ba);
  assert.deepEqual(await a.next(`${tag}: b→a`), ba);
}

test('meet, host first: the receiver arrives later and gets what the host sent meanwhile; any kind relays both ways', async (t) => {
  const n = await node(t);
  const id = meetingId();
  const host = await peer(t, n.url);
  const h = await host.c.meet(id, 'host');
  assert.equal(h.room, id);
  assert.equal(h.peerPresent, false);
  assert.ok(h.token.length >= 16);
  assert.deepEqual(h.iceServers, []);
  host.c.send({ kind: 'sdp', data: b64('sent before the receiver came') });
  host.c.send({ kind: 'pake', data: b64('and another') });

  const recv = await peer(t, n.url);
  const r = await recv.c.meet(id, 'receiver');
  assert.equal(r.peerPresent, true);
  assert.notEqual(r.token, h.token);
  await host.until((p) => p.joined === 1, 'the host to hear the receiver');
  assert.deepEqual(await recv.next('the first held message'), { kind: 'sdp', data: b64('sent before the receiver came') });
  assert.deepEqual(await recv.next('the second held message'), { kind: 'pake', data: b64('and another') });
  // no PAKE gating: pake messages go both ways, any number of them
  for (const kind of ['pake', 'pake', 'sdp', 'candidate', 'bye'] as const) {
    recv.c.send({ kind, data: b64(`r ${kind}`) });
    assert.deepEqual(await host.next(`receiver ${kind}`), { kind, data: b64(`r ${kind}`) });
    host.c.send({ kind, data: b64(`h ${kind}`) });
    assert.deepEqual(await recv.next(`host ${kind}`), { kind, data: b64(`h ${kind}`) });
  }
  assert.equal(recv.joined, 0, 'the host was there already (the reply said so)');
  assert.deepEqual([...host.lost, ...recv.lost], []);
});

test('meet, receiver first: the host arrives later and gets what the receiver sent meanwhile', async (t) => {
  const n = await node(t);
  const id = meetingId();
  const recv = await peer(t, n.url);
  assert.equal((await recv.c.meet(id, 'receiver')).peerPresent, false);
  recv.c.send({ kind: 'pake', data: b64('from the receiver, alone') });
  const host = await peer(t, n.url);
  assert.equal((await host.c.meet(id, 'host')).peerPresent, true);
  await recv.until((p) => p.joined === 1, 'the receiver to hear the host');
  assert.deepEqual(await host.next('the held message'), { kind: 'pake', data: b64('from the receiver, alone') });
  await relaysBothWays(host, recv, 'receiver first');
});

test('the other peer leaves and comes back, twice: onPeerLeft and onPeerJoined each time, what was sent meanwhile delivered', async (t) => {
  const n = await node(t);
  const id = meetingId();
  const host = await peer(t, n.url);
  await host.c.meet(id, 'host');
  for (let round = 1; round <= 3; round++) {
    const recv = await peer(t, n.url);
    assert.equal((await recv.c.meet(id, 'receiver')).peerPresent, true);
    await host.until((p) => p.joined === round, `appearance ${round}`);
    if (round > 1) assert.deepEqual(await recv.next(`held for round ${round}`), { kind: 'sdp', data: b64(`while away ${round - 1}`) });
    await relaysBothWays(host, recv, `round ${round}`);
    recv.c.close();
    await host.until((p) => p.left === round, `departure ${round}`);
    host.c.send({ kind: 'sdp', data: b64(`while away ${round}`) });
  }
  assert.deepEqual(host.lost, []);
  // the last member leaves: the room is gone
  assert.equal(await roomsOpen(n.url), 1);
  host.c.close();
  await roomsBecome(n.url, 0);
});

test('a newer meet with the same role replaces the older connection: it gives up, its token no longer rejoins', async (t) => {
  const n = await node(t);
  const id = meetingId();
  const host1 = await peer(t, n.url);
  const h1 = await host1.c.meet(id, 'host');
  const recv = await peer(t, n.url);
  await recv.c.meet(id, 'receiver');
  await relaysBothWays(host1, recv, 'before');

  const host2 = await peer(t, n.url);
  assert.equal((await host2.c.meet(id, 'host')).peerPresent, true);
  await host1.until((p) => p.lost.length === 1, 'the replaced host to give up');
  assert.match(host1.lost[0]!, /no longer has this connection in the meeting room \(replaced by a newer connection\)\.$/);
  await relaysBothWays(host2, recv, 'after');
  // the receiver never saw the host leave: it is told nothing, and keeps going
  assert.deepEqual([recv.joined, recv.left, recv.lost.length], [0, 0, 0]);

  const s = await raw(t, n.url);
  const old = (await s.emitWithAck('rejoin', { v: V, room: id, token: h1.token })) as { ok: boolean; reason?: string };
  assert.deepEqual([old.ok, old.reason], [false, 'not-found']);
  // a third meet, on a raw socket: host2 is replaced in turn and told so
  const h3 = (await s.emitWithAck('meet', { v: V, room: id, role: 'host' })) as { ok: boolean; token: string };
  assert.equal(h3.ok, true);
  await host2.until((p) => p.lost.length === 1, 'the second host to give up');
  // the token of a meet rejoins from another connection (the room's normal reconnect path)
  s.disconnect();
  const s2 = await raw(t, n.url);
  const back = await s2.emitWithAck('rejoin', { v: V, room: id, token: h3.token });
  assert.deepEqual(back, { ok: true, room: id, peerPresent: true, role: 'host' });
});

test('refusals: malformed meeting ids and roles; join never reaches a meeting room; one sentence from the client', async (t) => {
  const n = await node(t);
  const id = meetingId();
  const s = await raw(t, n.url);
  for (const room of ['k7pq', id.toUpperCase(), id.slice(0, -1), `${id}a`, `${id.slice(0, -1)}1`, `x${id.slice(1)}`, 7, null]) {
    assert.equal(await reasonOf(s, 'meet', { room, role: 'host' }), 'bad-request', `meet ${String(room)}`);
  }
  for (const role of ['guest', '', null, undefined]) assert.equal(await reasonOf(s, 'meet', { room: id, role }), 'bad-request', `role ${String(role)}`);
  assert.equal(await reasonOf(s, 'meet', { v: V + 1, room: id, role: 'host' }), 'version');

  const host = await peer(t, n.url);
  await host.c.meet(id, 'host');
  // an existing meeting room is invisible to join
  assert.equal(await reasonOf(s, 'join', { room: id }), 'not-found');
  const created = (await s.emitWithAck('create', { v: V })) as { ok: boolean; room: string };
  assert.equal(created.ok, true);
  // one room per connection, meeting or not
  assert.equal(await reasonOf(s, 'meet', { room: meetingId(), role: 'host' }), 'bad-request');

  const c = await peer(t, n.url);
  await assert.rejects(c.c.meet(created.room, 'receiver'), (e: unknown) => {
    assert.ok(e instanceof MovieShareError);
    assert.equal(e.exitCode, ExitCode.Other);
    assert.match(e.message, /^The signaling server at http:\/\/127\.0\.0\.1:\d+ refused the request: meet "room" must be a meeting id/);
    return true;
  });
  await assert.rejects(host.c.meet(meetingId(), 'host'), /already in a room/);
});

test('limits: a meet counts as a create (rate and open rooms per address, max rooms), never as a join', async (t) => {
  const n = await node(t, [
    '--trust-proxy',
    '--rate-limit-window',
    String(2 ** 30),
    '--rate-limit-creates',
    '3',
    '--rate-limit-joins',
    '2',
    '--max-rooms-per-address',
    '1',
    '--max-rooms',
    '3',
  ]);
  const from = (addr: string): Promise<Socket> => raw(t, n.url, { 'x-forwarded-for': addr });
  const msg = async (s: Socket, arg: object): Promise<string> => ((await s.emitWithAck('meet', { v: V, ...arg })) as { message?: string }).message ?? 'ok';
  const a = meetingId();

  // one open room per address: a second new meeting room is refused, a slot in the first is not
  assert.equal(await msg(await from('192.0.2.1'), { room: a, role: 'host' }), 'ok');
  assert.match(await msg(await from('192.0.2.1'), { room: meetingId(), role: 'host' }), /^Too many open rooms from your address/);
  assert.equal(await msg(await from('192.0.2.1'), { room: a, role: 'receiver' }), 'ok');
  // three creates per window, each meet counts (taken slots and refusals too)
  assert.match(await msg(await from('192.0.2.1'), { room: a, role: 'receiver' }), /^Too many rooms created from your address/);

  // meets spend no join allowance: after two meets this address still gets its two joins (a miss is not-found)
  const g = await from('192.0.2.2');
  assert.equal(await reasonOf(g, 'meet', { room: meetingId(), role: 'receiver' }), 'ok');
  const g2 = await from('192.0.2.2');
  assert.equal(await reasonOf(g2, 'meet', { room: a, role: 'host' }), 'ok');
  assert.equal(await reasonOf(await from('192.0.2.2'), 'join', { room: 'zzzz' }), 'not-found');

  // the server's maximum: 2 rooms so far, one more fits, then too-many-rooms, in the client's words too
  assert.equal(await reasonOf(await from('192.0.2.3'), 'meet', { room: meetingId(), role: 'host' }), 'ok');
  assert.equal(await reasonOf(await from('192.0.2.4'), 'meet', { room: meetingId(), role: 'host' }), 'too-many-rooms');
  const c = await peer(t, n.url);
  await assert.rejects(c.c.meet(meetingId(), 'host'), (e: unknown) => {
    assert.ok(e instanceof MovieShareError);
    assert.equal(e.exitCode, ExitCode.Network);
    assert.match(e.message, /is full right now/);
    return true;
  });
});

test('the server restarts with its rooms in memory (all lost): the old clients give up, fresh ones meet again and relay', { timeout: 60_000 }, async (t) => {
  const n1 = await node(t);
  const id = meetingId();
  const host = await peer(t, n1.url);
  const recv = await peer(t, n1.url);
  await host.c.meet(id, 'host');
  await recv.c.meet(id, 'receiver');
  await relaysBothWays(host, recv, 'before the restart');

  await n1.kill();
  const n2 = await node(t, ['--port', String(n1.port)]);
  // they reconnect, and their rejoin finds no room: each gives up with one sentence
  for (const p of [host, recv]) {
    await p.until((x) => x.lost.length === 1, 'a client to give up after the restart', 20_000);
    assert.match(p.lost[0]!, /^Reconnected to the signaling server, but it no longer has this meeting room \(/);
  }
  const host2 = await peer(t, n2.url);
  const recv2 = await peer(t, n2.url);
  assert.equal((await recv2.c.meet(id, 'receiver')).peerPresent, false);
  assert.equal((await host2.c.meet(id, 'host')).peerPresent, true);
  await relaysBothWays(host2, recv2, 'after the restart');
});

test('two nodes behind Redis: members on different nodes relay, a newer meet on the other node replaces, a rolling restart keeps the room', { timeout: 90_000 }, async (t) => {
  let redis: RedisProc;
  try {
    redis = await spawnRedis();
  } catch (e) {
    assert.fail(`cannot run the Redis scale-out test: ${(e as Error).message}`);
  }
  t.after(() => redis.stop());
  const args = ['--redis', redis.url, '--rejoin-grace', '30'];
  const [a, b] = await Promise.all([node(t, args), node(t, args)]);
  const id = meetingId();

  // the host on A first, with a message for a receiver that is not there yet; the receiver on B
  const host = await peer(t, a.url);
  assert.equal((await host.c.meet(id, 'host')).peerPresent, false);
  host.c.send({ kind: 'pake', data: b64('held on A') });
  const recv = await peer(t, b.url);
  assert.equal((await recv.c.meet(id, 'receiver')).peerPresent, true);
  await host.until((p) => p.joined === 1, 'peer-joined across nodes');
  assert.deepEqual(await recv.next('the held message, across nodes'), { kind: 'pake', data: b64('held on A') });
  await relaysBothWays(host, recv, 'across nodes');

  // a rolling restart of A (SIGTERM, then the same port again): the host rejoins, the room is intact
  await a.stop();
  const a2 = await node(t, [...args, '--port', String(a.port)]);
  await host.until((p) => p.rejoined === 1, 'the host to rejoin through the restarted node', 20_000);
  await relaysBothWays(host, recv, 'after the rolling restart');
  assert.deepEqual([...host.lost, ...recv.lost], []);
  assert.deepEqual([host.left, recv.left], [0, 0]);

  // a newer host on B replaces the one on A2: told across nodes, and the new one relays
  const host2 = await peer(t, b.url);
  assert.equal((await host2.c.meet(id, 'host')).peerPresent, true);
  await host.until((p) => p.lost.length === 1, 'the host on A2 to be replaced');
  assert.match(host.lost[0]!, /\(replaced by a newer connection\)\.$/);
  await relaysBothWays(host2, recv, 'the new host');

  // the receiver moves to A2 (a newer meet of its own): the host on B hears it, and they relay across nodes
  const recv2 = await peer(t, a2.url);
  assert.equal((await recv2.c.meet(id, 'receiver')).peerPresent, true);
  await recv.until((p) => p.lost.length === 1, 'the receiver on B to be replaced');
  await relaysBothWays(host2, recv2, 'B and A2');

  // another meeting, receiver first (on B), the host on A2: the empty host slot is stored as such
  const id2 = meetingId();
  const r3 = await peer(t, b.url);
  assert.equal((await r3.c.meet(id2, 'receiver')).peerPresent, false);
  const h3 = await peer(t, a2.url);
  assert.equal((await h3.c.meet(id2, 'host')).peerPresent, true);
  await r3.until((p) => p.joined === 1, 'the receiver on B to hear the host on A2');
  await relaysBothWays(h3, r3, 'receiver first across nodes');
  const health = (await (await fetch(`${a2.url}/healthz`)).json()) as { mode: string; rooms: number };
  assert.equal(health.mode, 'redis');
  assert.equal(health.rooms, 2);

  // a receiver alone in a third meeting leaves: the room (stored with an empty host slot) ends
  const r4 = await peer(t, b.url);
  await r4.c.meet(meetingId(), 'receiver');
  await roomsBecome(a2.url, 3);
  r4.c.close();
  await roomsBecome(a2.url, 2);
  // everyone leaves: no room is left, on either node
  for (const p of [host2, recv2, h3, r3]) p.c.close();
  await roomsBecome(b.url, 0);
});
