/**
 * Scale-out: two movie-signal processes sharing a real redis-server.
 * A host on node A and a receiver on node B pair and relay both ways; node A
 * is SIGKILLed and restarted on the same port, the host's SignalClient
 * reconnects and rejoins, a receiver joins via node B and they pair and
 * relay. Rate limits, room counts and connections per address are shared by
 * the nodes; a killed node's connections stop counting within their lease.
 *
 * Needs the Debian package redis-server (CI installs it); fails, not skips,
 * without it.
 */
import { withTimeout } from '../../common/timeout.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import { spawnRedis, spawnSignalNode, type RedisProc, type SignalNode } from '../../bench/signal-load.js';
import { SignalClient } from '../../peer/rendezvous/signal-client.js';
import { SIGNAL_PROTOCOL_VERSION as V, type SignalPayload } from '../../common/protocol/signal-protocol.js';

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => withTimeout(p, ms, `timed out after ${ms} ms waiting for ${what}`);

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const nextSignal = (c: SignalClient): Promise<SignalPayload> => new Promise((r) => c.onSignal(r));

test('redis scale-out: cross-node pairing, relay, node crash + rejoin, shared limits', { timeout: 45_000 }, async (t) => {
  let redis: RedisProc;
  try {
    redis = await spawnRedis();
  } catch (e) {
    assert.fail(`cannot run the Redis scale-out test: ${(e as Error).message}`);
  }
  t.after(() => redis.stop());
  const nodes: SignalNode[] = [];
  t.after(() => Promise.all(nodes.map((n) => n.kill())));
  const clients: SignalClient[] = [];
  t.after(() => clients.forEach((c) => c.close()));
  const sockets: Socket[] = [];
  t.after(() => sockets.forEach((s) => s.disconnect()));
  const connect = async (url: string): Promise<SignalClient> => {
    const c = await SignalClient.connect({ url, connectTimeoutMs: 5000, reconnectTimeoutMs: 15_000 });
    clients.push(c);
    return c;
  };

  const args = ['--redis', redis.url, '--rejoin-grace', '30'];
  const [a, b] = await Promise.all([spawnSignalNode(args), spawnSignalNode(args)]);
  nodes.push(a, b);

  await t.test('host on node A, receiver on node B: pair and relay both ways', async () => {
    const host = await connect(a.url);
    const recv = await connect(b.url);
    const { room } = await host.createRoom();
    const joined = new Promise<void>((r) => host.onPeerJoined(r));
    const j = await recv.joinRoom(room);
    assert.equal(j.peerPresent, true);
    await within(joined, 5000, 'peer-joined across nodes');

    const toRecv = nextSignal(recv);
    host.send({ kind: 'sdp', data: b64('offer from A') });
    assert.deepEqual(await within(toRecv, 5000, 'A→B relay'), { kind: 'sdp', data: b64('offer from A') });
    const toHost = nextSignal(host);
    // a pake message: the receiver's guess is spent (recorded in Redis), so its leaving ends the pairing for good
    recv.send({ kind: 'pake', data: b64('share from B') });
    assert.deepEqual(await within(toHost, 5000, 'B→A relay'), { kind: 'pake', data: b64('share from B') });

    // a third peer on either node: busy
    const third = io(a.url, { transports: ['websocket'], forceNew: true, reconnection: false });
    sockets.push(third);
    assert.equal((await third.emitWithAck('join', { v: V, room })).reason, 'busy');

    // both nodes see the room (state is in Redis)
    const hb = (await (await fetch(`${b.url}/healthz`)).json()) as { mode: string; rooms: number };
    assert.equal(hb.mode, 'redis');
    assert.ok(hb.rooms >= 1);

    const left = new Promise<void>((r) => host.onPeerLeft(r));
    recv.close();
    await within(left, 5000, 'peer-left across nodes');
    host.close();
  });

  await t.test('node A is killed after the host created a room; the host rejoins via the restarted node; a receiver on B pairs', async () => {
    const host = await connect(a.url);
    const { room } = await host.createRoom();
    const rejoined = new Promise<void>((r) => host.onRejoined(r));
    const lost: string[] = [];
    host.onDisconnect((why) => lost.push(why));

    await a.kill(); // SIGKILL: no goodbye, no room cleanup
    const a2 = await spawnSignalNode([...args, '--port', String(a.port)]);
    nodes.push(a2);
    await within(rejoined, 10_000, 'the host to reconnect and rejoin');
    assert.deepEqual(lost, []);

    const recv = await connect(b.url);
    const joined = new Promise<void>((r) => host.onPeerJoined(r));
    await recv.joinRoom(room);
    await within(joined, 5000, 'peer-joined after the restart');
    const toRecv = nextSignal(recv);
    host.send({ kind: 'pake', data: b64('share from the host') });
    assert.equal((await within(toRecv, 5000, 'relay to B')).data, b64('share from the host'));
    const toHost = nextSignal(host);
    recv.send({ kind: 'pake', data: b64('share from the receiver') });
    assert.equal((await within(toHost, 5000, 'relay to A2')).data, b64('share from the receiver'));
  });

  await t.test('a receiver that joins while the host is still away is paired when the host comes back', async () => {
    const nodeA = nodes[nodes.length - 1]!;
    const host = await connect(nodeA.url);
    const { room } = await host.createRoom();
    const hostGot = nextSignal(host);
    await nodeA.kill();
    // the receiver joins through B while the host is reconnecting; its first message is held, not lost
    const recv = await connect(b.url);
    const j = await recv.joinRoom(room);
    assert.equal(j.peerPresent, false);
    recv.send({ kind: 'pake', data: b64('early') });
    const joined = new Promise<void>((r) => host.onPeerJoined(r));
    const a3 = await spawnSignalNode([...args, '--port', String(nodeA.port)]);
    nodes.push(a3);
    await within(joined, 10_000, 'the host to rejoin and see the receiver');
    assert.equal((await within(hostGot, 5000, 'the held message')).data, b64('early'));
  });

  await t.test('rate limits and room counts are shared by the nodes', async () => {
    // --trust-proxy + X-Forwarded-For gives this test its own client address (Redis also holds earlier counters)
    const shared = ['--redis', redis.url, '--rate-limit-joins', '10', '--rate-limit-window', '60', '--rate-limit-join-miss-cost', '1', '--trust-proxy'];
    const [c, d] = await Promise.all([spawnSignalNode(shared), spawnSignalNode(shared)]);
    nodes.push(c, d);
    const as = { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: { 'x-forwarded-for': '192.0.2.77' } };
    const sc = io(c.url, as);
    const sd = io(d.url, as);
    sockets.push(sc, sd);
    const reasons: string[] = [];
    for (let i = 0; i < 8; i++) {
      reasons.push((await sc.emitWithAck('join', { v: V, room: 'zzzz' })).reason);
      reasons.push((await sd.emitWithAck('join', { v: V, room: 'zzzz' })).reason);
    }
    assert.equal(reasons.filter((r) => r === 'not-found').length, 10);
    assert.equal(reasons.filter((r) => r === 'rate-limited').length, 6);
    const text = await (await fetch(`${d.url}/metrics`)).text();
    assert.match(text, /^movie_signal_rooms_open \d+$/m);
  });

  await t.test('the cost of a wrong guess, open rooms per address (an IPv6 /64) and reopened rooms are shared by the nodes', async () => {
    // a window so long that no run straddles two: the counts are exact
    const common = ['--redis', redis.url, '--rate-limit-window', String(2 ** 30), '--trust-proxy'];
    const [c, d] = await Promise.all([spawnSignalNode([...common, '--max-rooms-per-address', '2']), spawnSignalNode([...common, '--max-rooms-per-address', '2'])]);
    nodes.push(c, d);
    const from = async (url: string, addr: string): Promise<Socket> => {
      const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: { 'x-forwarded-for': addr } });
      sockets.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('connect', () => resolve());
        s.once('connect_error', reject);
      });
      return s;
    };
    const reason = async (s: Socket, ev: string, arg: object): Promise<string> => ((await s.emitWithAck(ev, { v: V, ...arg })) as { reason?: string }).reason ?? 'ok';

    // 20 joins, a wrong guess costs 5: four guesses across both nodes, the fifth is refused
    const g1 = await from(c.url, '192.0.2.88');
    const g2 = await from(d.url, '192.0.2.88');
    const guesses: string[] = [];
    for (let i = 0; i < 5; i++) guesses.push(await reason(i % 2 ? g2 : g1, 'join', { room: 'zzzz' }));
    assert.deepEqual(guesses, ['not-found', 'not-found', 'not-found', 'not-found', 'rate-limited']);

    // two open rooms per address, counted across nodes, and two addresses of one /64 are one address
    const h1 = await from(c.url, '2001:db8:5:6::1');
    const h2 = await from(d.url, '2001:db8:5:6::2');
    const h3 = await from(c.url, '2001:db8:5:6:ffff::3');
    assert.equal(await reason(h1, 'create', {}), 'ok');
    assert.equal(await reason(h2, 'create', {}), 'ok');
    assert.equal(await reason(h3, 'create', {}), 'rate-limited');
    h1.emit('leave');
    let third = 'rate-limited';
    for (let i = 0; i < 50 && third !== 'ok'; i++) {
      third = await reason(h3, 'create', {});
      if (third !== 'ok') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(third, 'ok', 'the room that ended freed its place');

    // a joiner on the other node that drops without a pake message: the host keeps its room, the next joiner pairs
    // (raw sockets with addresses of their own: 127.0.0.1 may still host rooms of the earlier subtests)
    const host = await from(c.url, '198.51.100.8');
    const { room } = (await host.emitWithAck('create', { v: V })) as { room: string };
    const next = <T>(ev: string): Promise<T> => within(new Promise<T>((r) => host.once(ev, r)), 5000, ev);
    const squatter = await from(d.url, '198.51.100.9');
    const reopened = next<unknown>('peer-left');
    assert.equal(await reason(squatter, 'join', { room }), 'ok');
    squatter.disconnect();
    assert.deepEqual(await reopened, { reopened: true });
    const recv = await from(d.url, '198.51.100.10');
    const joined = next<unknown>('peer-joined');
    assert.equal(await reason(recv, 'join', { room }), 'ok');
    await joined;
    const toHost = next<SignalPayload>('signal');
    assert.equal(await reason(recv, 'signal', { kind: 'pake', data: b64('share') }), 'ok');
    assert.equal((await toHost).data, b64('share'));
    const left = next<unknown>('peer-left');
    recv.emit('leave');
    assert.equal(await left, undefined, 'a plain peer-left: the guess was spent');
    const late = await from(d.url, '198.51.100.11');
    assert.equal(await reason(late, 'join', { room }), 'busy');
  });

  await t.test('connections per address are capped across the nodes; a SIGKILLed node stops counting its connections within its lease', async () => {
    const LEASE_S = 1.5;
    const args2 = ['--redis', redis.url, '--trust-proxy', '--max-sockets-per-address', '4', '--socket-lease', String(LEASE_S)];
    const [e, f] = await Promise.all([spawnSignalNode(args2), spawnSignalNode(args2)]);
    nodes.push(e, f);
    const ADDR = '192.0.2.99';
    /** 'ok' once connected, or the connect error's reason */
    const attempt = (url: string, addr = ADDR): Promise<{ s: Socket; result: string }> => {
      const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: { 'x-forwarded-for': addr } });
      sockets.push(s);
      return within(
        new Promise((resolve) => {
          s.once('connect', () => resolve({ s, result: 'ok' }));
          s.once('connect_error', (err: Error & { data?: { reason?: string } }) => resolve({ s, result: err.data?.reason ?? err.message }));
        }),
        10_000,
        'a connection attempt',
      );
    };
    const onE = [await attempt(e.url), await attempt(e.url), await attempt(e.url)];
    const onF = [await attempt(f.url)];
    assert.deepEqual(
      [...onE, ...onF].map((x) => x.result),
      ['ok', 'ok', 'ok', 'ok'],
    );
    assert.equal((await attempt(f.url)).result, 'rate-limited', 'the fifth on node F: 3 on E + 1 on F is the cap');
    assert.equal((await attempt(e.url)).result, 'rate-limited', 'and on node E');
    assert.equal((await attempt(f.url, '192.0.2.100')).result, 'ok', 'another address has its own count');

    // a connection closed on F frees its place for one on E
    onF[0]!.s.disconnect();
    let reused = 'rate-limited';
    for (let i = 0; i < 50 && reused !== 'ok'; i++) {
      reused = (await attempt(e.url)).result;
      if (reused !== 'ok') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(reused, 'ok', 'a closed connection frees its place on the other node');

    // node E dies with 4 connections of ADDR: nothing tells Redis; their leases end within LEASE_S
    const killedAt = Date.now();
    await e.kill();
    const back: string[] = [];
    while (back.length < 4 && Date.now() - killedAt < 15_000) {
      const r = (await attempt(f.url)).result;
      if (r === 'ok') back.push(r);
      else await new Promise((res) => setTimeout(res, 100));
    }
    const took = Date.now() - killedAt;
    assert.equal(back.length, 4, `all 4 places back on node F within 15 s (got ${back.length})`);
    assert.ok(took < LEASE_S * 1000 + 5000, `the dead node's places came back after ${took} ms (lease ${LEASE_S} s)`);
    assert.equal((await attempt(f.url)).result, 'rate-limited', 'and the cap holds again with 4 on F');
  });
});
