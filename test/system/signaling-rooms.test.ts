/**
 * movie-signal room semantics, in-process: create/join/relay/peer-left,
 * busy, not-found, rejoin with a token, grace period, idle TTL, version and
 * shape errors, max rooms, TURN REST credentials, /healthz and /metrics,
 * and the SignalClient wrapper's error sentences and exit codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { spawn } from 'node:child_process';
import { io, type Socket } from 'socket.io-client';
import { SIGNAL_DEFAULTS, startSignalServer, type RunningSignalServer, type SignalServerOptions } from '../../signaling/server/index.js';
import { SignalClient } from '../../peer/rendezvous/signal-client.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { SIGNAL_PROTOCOL_VERSION as V, type SignalPayload } from '../../common/protocol/signal-protocol.js';
import { isValidRoomId } from '../../common/code/room-id.js';
import { eventually } from '../support/eventually.js';

type Raw = Socket;
type Ctx = { after: (fn: () => unknown) => void };

async function server(t: Ctx, opts: SignalServerOptions = {}): Promise<RunningSignalServer> {
  const s = await startSignalServer({ host: '127.0.0.1', port: 0, ...opts });
  t.after(() => s.close());
  return s;
}

async function raw(t: Ctx, url: string): Promise<Raw> {
  const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
  t.after(() => {
    s.disconnect();
  });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  return s;
}

async function client(t: Ctx, url: string, extra: Partial<Parameters<typeof SignalClient.connect>[0]> = {}): Promise<SignalClient> {
  const c = await SignalClient.connect({ url, connectTimeoutMs: 3000, ...extra });
  t.after(() => c.close());
  return c;
}

const once = <T = void>(register: (cb: (v: T) => void) => void, ms = 3000, what = 'event'): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    register((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });

const rawEvent = <T = unknown>(s: Raw, ev: string, ms = 3000): Promise<T> => once<T>((cb) => s.once(ev, cb as (...a: unknown[]) => void), ms, ev);

/** Resolves true if `ev` arrives within `ms`, false otherwise. */
const arrives = (s: Raw, ev: string, ms: number): Promise<boolean> =>
  new Promise((resolve) => {
    const t = setTimeout(() => {
      s.off(ev, on);
      resolve(false);
    }, ms);
    const on = (): void => {
      clearTimeout(t);
      resolve(true);
    };
    s.once(ev, on);
  });

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** One unlabelled value from the server's /metrics. */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  assert.ok(m, `${name} in /metrics`);
  return Number(m[1]);
}

test('create, join, relay both ways verbatim, peer-left on leave', async (t) => {
  const s = await server(t);
  assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const host = await client(t, s.url);
  const created = await host.createRoom();
  assert.ok(isValidRoomId(created.room), `room id ${created.room}`);
  assert.ok(created.token.length >= 16);
  assert.deepEqual(created.iceServers, []);
  const joined = once((cb) => host.onPeerJoined(cb), 3000, 'peer-joined');

  const recv = await client(t, s.url);
  const j = await recv.joinRoom(created.room.toUpperCase()); // codes are case-insensitive for the client
  assert.equal(j.room, created.room);
  assert.equal(j.peerPresent, true);
  await joined;

  const atRecv = once<SignalPayload>((cb) => recv.onSignal(cb), 3000, 'signal at receiver');
  const sdp = { kind: 'sdp' as const, data: b64('v=0 '.repeat(5000)) };
  host.send(sdp);
  assert.deepEqual(await atRecv, sdp);
  const atHost = once<SignalPayload>((cb) => host.onSignal(cb), 3000, 'signal at host');
  recv.send({ kind: 'pake', data: b64('a share') });
  assert.deepEqual(await atHost, { kind: 'pake', data: b64('a share') });

  const left = once((cb) => host.onPeerLeft(cb), 2000, 'peer-left');
  recv.close();
  recv.close(); // idempotent
  await left;
});

test('third peer gets busy; a paired code can never be joined again', async (t) => {
  const s = await server(t);
  const host = await client(t, s.url);
  const { room } = await host.createRoom();
  const r1 = await client(t, s.url);
  await r1.joinRoom(room);
  // r1 makes its guess (a pake message): from then on the code is spent
  const atHost = once<SignalPayload>((cb) => host.onSignal(cb), 3000, 'pake at host');
  r1.send({ kind: 'pake', data: b64('a share') });
  await atHost;

  const r2 = await raw(t, s.url);
  const busy = await r2.emitWithAck('join', { v: V, room });
  assert.equal(busy.ok, false);
  assert.equal(busy.reason, 'busy');
  assert.match(busy.message, /room is busy/);

  const r3 = await client(t, s.url);
  await assert.rejects(r3.joinRoom(room), (e: unknown) => {
    assert.ok(e instanceof MovieShareError);
    assert.equal(e.exitCode, ExitCode.Auth);
    assert.equal(e.message, 'That code is already in use by another receiver; ask the sender for a new code.');
    return true;
  });

  // the first receiver leaves: still nobody else may join
  const left = once((cb) => host.onPeerLeft(cb), 3000, 'peer-left');
  r1.close();
  await left;
  const again = await r2.emitWithAck('join', { v: V, room });
  assert.equal(again.reason, 'busy');
});

test('unknown or malformed room ids are not-found; the client says so in one sentence (exit 4)', async (t) => {
  // wrong guesses at no extra cost, so that six of them stay within the join allowance
  const s = await server(t, { rateLimit: { ...SIGNAL_DEFAULTS.rateLimit, joinMissCost: 1 } });
  const r = await raw(t, s.url);
  for (const room of ['zzzz', 'ZZ!!', '1111', 'abcde']) {
    const reply = await r.emitWithAck('join', { v: V, room });
    assert.equal(reply.ok, false);
    assert.equal(reply.reason, 'not-found', room);
  }
  const tooLong = await r.emitWithAck('join', { v: V, room: 'a'.repeat(200) });
  assert.equal(tooLong.reason, 'bad-request');

  const c = await client(t, s.url);
  await assert.rejects(c.joinRoom('zzzz'), (e: unknown) => {
    assert.ok(e instanceof MovieShareError);
    assert.equal(e.exitCode, ExitCode.Auth);
    assert.match(e.message, /^No transfer is waiting under that code/);
    return true;
  });
});

test('rejoin with the token: the host reclaims its room, keeps the receiver, relays again', async (t) => {
  const s = await server(t, { rejoinGraceMs: 5000 });
  const h1 = await raw(t, s.url);
  const created = await h1.emitWithAck('create', { v: V });
  assert.equal(created.ok, true);
  const { room, token } = created;

  // the host's connection drops; a receiver joins meanwhile
  h1.disconnect();
  await eventually(async () => assert.equal(await metric(s.url, 'movie_signal_peers_connected'), 0));
  const recv = await raw(t, s.url);
  const j = await recv.emitWithAck('join', { v: V, room });
  assert.equal(j.ok, true);
  assert.equal(j.peerPresent, false);
  assert.equal(typeof j.token, 'string');
  // a message for the absent host is refused (not lost silently)
  const absent = await recv.emitWithAck('signal', { kind: 'pake', data: b64('x') });
  assert.equal(absent.reason, 'peer-absent');

  const h2 = await raw(t, s.url);
  const wrong = await h2.emitWithAck('rejoin', { v: V, room, token: token.slice(0, -2) + 'xx' });
  assert.equal(wrong.ok, false);
  assert.equal(wrong.reason, 'not-found');

  const peerJoined = rawEvent(recv, 'peer-joined');
  const back = await h2.emitWithAck('rejoin', { v: V, room, token });
  assert.deepEqual(back, { ok: true, room, peerPresent: true, role: 'host' });
  await peerJoined;

  const got = rawEvent<SignalPayload>(h2, 'signal');
  const ok = await recv.emitWithAck('signal', { kind: 'pake', data: b64('hello') });
  assert.deepEqual(ok, { ok: true });
  assert.deepEqual(await got, { kind: 'pake', data: b64('hello') });

  // the receiver can rejoin with its own token too
  recv.disconnect();
  const r2 = await raw(t, s.url);
  const rb = await r2.emitWithAck('rejoin', { v: V, room, token: j.token });
  assert.deepEqual(rb, { ok: true, room, peerPresent: true, role: 'receiver' });
});

test('a dropped member is only reported as left when its grace period passes', async (t) => {
  const s = await server(t, { rejoinGraceMs: 400 });
  const host = await raw(t, s.url);
  const { room } = await host.emitWithAck('create', { v: V });
  const recv = await raw(t, s.url);
  assert.equal((await recv.emitWithAck('join', { v: V, room })).ok, true);
  await rawEvent(host, 'peer-joined');

  const t0 = Date.now();
  const left = rawEvent(recv, 'peer-left', 3000);
  host.disconnect(); // no `leave`: looks like a network drop
  await left;
  assert.ok(Date.now() - t0 >= 350, `peer-left came after ${Date.now() - t0} ms, before the grace period`);
  // the room is gone now, and its code stays burned (it was paired)
  const r3 = await raw(t, s.url);
  assert.equal((await r3.emitWithAck('join', { v: V, room })).reason, 'busy');
});

test('explicit leave by the host ends the room at once; a paired code stays burned', async (t) => {
  const s = await server(t);
  const host = await raw(t, s.url);
  const { room } = await host.emitWithAck('create', { v: V });
  const recv = await raw(t, s.url);
  await recv.emitWithAck('join', { v: V, room });
  const left = rawEvent(recv, 'peer-left', 1000);
  host.emit('leave');
  await left;
  const again = await recv.emitWithAck('signal', { kind: 'pake', data: 'AA==' });
  assert.equal(again.ok, false);
  // a late joiner with the used code is told it was used, not that it never existed
  const late = await raw(t, s.url);
  const used = await late.emitWithAck('join', { v: V, room });
  assert.equal(used.reason, 'busy');
  assert.match(used.message, /already been used/);
  // a room that never paired simply ends
  const h2 = await raw(t, s.url);
  const { room: room2 } = await h2.emitWithAck('create', { v: V });
  const open = await metric(s.url, 'movie_signal_rooms_open');
  h2.emit('leave');
  await eventually(async () => assert.equal(await metric(s.url, 'movie_signal_rooms_open'), open - 1));
  assert.equal((await late.emitWithAck('join', { v: V, room: room2 })).reason, 'not-found');
});

test('wrong protocol version, bad shapes, missing acks and unknown events get error replies', async (t) => {
  const s = await server(t);
  const r = await raw(t, s.url);
  const ver = await r.emitWithAck('create', { v: V + 1 });
  assert.equal(ver.ok, false);
  assert.equal(ver.reason, 'version');
  assert.match(ver.message, /version/);

  for (const bad of [undefined, null, 1, 'x', [], { v: '1' }, { v: 1.5 }, Buffer.from('junk')]) {
    const reply = await r.emitWithAck('create', bad);
    assert.equal(reply.ok, false);
    assert.equal(reply.reason, 'bad-request', JSON.stringify(bad));
  }
  const noAck = rawEvent<{ reason: string }>(r, 'signal-error');
  r.emit('create', { v: V });
  assert.equal((await noAck).reason, 'bad-request');

  const unknown = await r.emitWithAck('drop-tables', { v: V });
  assert.equal(unknown.reason, 'bad-request');
  assert.match(unknown.message, /Unknown event/);

  const notInRoom = await r.emitWithAck('signal', { kind: 'pake', data: 'AA==' });
  assert.equal(notInRoom.reason, 'not-in-room');

  // the connection is still usable after all that
  const ok = await r.emitWithAck('create', { v: V });
  assert.equal(ok.ok, true);
  // and one connection holds one room at a time
  const second = await r.emitWithAck('create', { v: V });
  assert.equal(second.reason, 'bad-request');
});

test('signal payload validation: kinds, base64, per-kind size limits', async (t) => {
  const s = await server(t);
  const host = await raw(t, s.url);
  const { room } = await host.emitWithAck('create', { v: V });
  const recv = await raw(t, s.url);
  await recv.emitWithAck('join', { v: V, room });
  let relayed = 0;
  recv.on('signal', () => relayed++);
  const cases: unknown[] = [
    { kind: 'nope', data: 'AA==' },
    { kind: 'sdp', data: 42 },
    { kind: 'sdp', data: 'not base64 !' },
    { kind: 'candidate', data: 'A'.repeat(3 * 1024 + 4) },
    { kind: 'pake', data: 'A'.repeat(2000) },
    { kind: 'sdp', data: 'A'.repeat(88 * 1024 + 4) },
    { kind: 'sdp', data: Buffer.alloc(100) },
    ['sdp', 'AA=='],
  ];
  for (const c of cases) {
    const reply = await host.emitWithAck('signal', c);
    assert.equal(reply.ok, false, JSON.stringify(c).slice(0, 80));
    assert.equal(reply.reason, 'bad-request');
  }
  // the room is undisturbed
  const arriving = rawEvent<Record<string, unknown>>(recv, 'signal');
  const good = await host.emitWithAck('signal', { kind: 'sdp', data: 'A'.repeat(88 * 1024), extra: 'dropped' });
  assert.deepEqual(good, { ok: true });
  const got = await arriving;
  assert.deepEqual(Object.keys(got).sort(), ['data', 'kind']);
  assert.equal(relayed, 1);
});

test('idle rooms expire: members get signal-error expired, the client reports it', async (t) => {
  const s = await server(t, { roomTtlMs: 300 });
  const host = await client(t, s.url);
  const { room } = await host.createRoom();
  const reason = await once<string>((cb) => host.onDisconnect(cb), 3000, 'onDisconnect');
  assert.match(reason, /expired/);
  const r = await raw(t, s.url);
  assert.equal((await r.emitWithAck('join', { v: V, room })).reason, 'not-found');
});

test('max rooms: too-many-rooms, and the client maps it to a network failure (exit 5)', async (t) => {
  const s = await server(t, { maxRooms: 2 });
  const a = await raw(t, s.url);
  const b = await raw(t, s.url);
  assert.equal((await a.emitWithAck('create', { v: V })).ok, true);
  assert.equal((await b.emitWithAck('create', { v: V })).ok, true);
  const c = await client(t, s.url);
  await assert.rejects(c.createRoom(), (e: unknown) => {
    assert.ok(e instanceof MovieShareError);
    assert.equal(e.exitCode, ExitCode.Network);
    assert.match(e.message, /full/);
    return true;
  });
});

test('ICE servers: static ones plus coturn REST credentials minted per reply', async (t) => {
  const secret = 'test-secret';
  const s = await server(t, {
    iceServers: [{ urls: 'stun:127.0.0.1:3478' }],
    turnSecret: { secret, urls: ['turn:127.0.0.1:3478'], ttlSeconds: 600 },
  });
  const h = await raw(t, s.url);
  const created = await h.emitWithAck('create', { v: V });
  assert.equal(created.iceServers.length, 2);
  assert.deepEqual(created.iceServers[0], { urls: 'stun:127.0.0.1:3478' });
  const turn = created.iceServers[1];
  assert.deepEqual(turn.urls, ['turn:127.0.0.1:3478']);
  const m = /^(\d+):[0-9a-f]+$/.exec(turn.username);
  assert.ok(m, turn.username);
  const expiry = Number(m[1]);
  const now = Math.floor(Date.now() / 1000);
  assert.ok(expiry > now + 590 && expiry <= now + 601);
  assert.equal(turn.credential, createHmac('sha1', secret).update(turn.username).digest('base64'));
  const r = await raw(t, s.url);
  const j = await r.emitWithAck('join', { v: V, room: created.room });
  assert.notEqual(j.iceServers[1].username, turn.username);
});

test('/healthz and /metrics', async (t) => {
  const s = await server(t);
  const host = await raw(t, s.url);
  const { room } = await host.emitWithAck('create', { v: V });
  const recv = await raw(t, s.url);
  await recv.emitWithAck('join', { v: V, room });
  await host.emitWithAck('signal', { kind: 'pake', data: 'AA==' });
  await recv.emitWithAck('join', { v: 7, room });
  await recv.emitWithAck('nonsense');

  const h = await fetch(`${s.url}/healthz`);
  assert.equal(h.status, 200);
  assert.match(h.headers.get('content-type') ?? '', /json/);
  const health = (await h.json()) as Record<string, unknown>;
  assert.equal(health.ok, true);
  assert.equal(health.mode, 'memory');
  assert.equal(health.rooms, 1);
  assert.equal(health.peers, 2);

  const m = await fetch(`${s.url}/metrics`);
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type') ?? '', /text\/plain/);
  const text = await m.text();
  assert.match(text, /^movie_signal_rooms_open 1$/m);
  assert.match(text, /^movie_signal_peers_connected 2$/m);
  assert.match(text, /^movie_signal_pairings_total 1$/m);
  assert.match(text, /^movie_signal_messages_relayed_total 1$/m);
  assert.match(text, /^movie_signal_rejects_total\{reason="version"\} 1$/m);
  assert.match(text, /^movie_signal_rejects_total\{reason="bad-request"\} 1$/m);
  assert.match(text, /^# TYPE movie_signal_rejects_total counter$/m);

  assert.equal((await fetch(`${s.url}/nope`)).status, 404);
});

test('SignalClient: unreachable server fails within the bound with one sentence (exit 5)', async () => {
  const t0 = Date.now();
  await assert.rejects(SignalClient.connect({ url: 'http://127.0.0.1:9', connectTimeoutMs: 700 }), (e: unknown) => {
    assert.ok(e instanceof MovieShareError);
    assert.equal(e.exitCode, ExitCode.Network);
    assert.match(e.message, /^Cannot reach the signaling server at http:\/\/127\.0\.0\.1:9: .*Check --signal \/ MOVIE_SIGNAL_URL or start movie-signal\.$/);
    return true;
  });
  // the 700 ms bound held: without it the default bound (8 s) would apply
  assert.ok(Date.now() - t0 < 4000, `took ${Date.now() - t0} ms`);
  await assert.rejects(SignalClient.connect({ url: 'not a url' }), (e: unknown) => e instanceof MovieShareError && e.exitCode === ExitCode.Usage);
});

test('SignalClient: server shutdown → shutdown event, then onDisconnect when it does not come back', async (t) => {
  const s = await startSignalServer({ host: '127.0.0.1', port: 0 });
  t.after(() => s.close());
  const c = await client(t, s.url, { reconnectTimeoutMs: 600 });
  await c.createRoom();
  const r = await raw(t, s.url);
  const shutdown = arrives(r, 'shutdown', 2000);
  const gone = once<string>((cb) => c.onDisconnect(cb), 5000, 'onDisconnect');
  await s.close();
  assert.equal(await shutdown, true);
  assert.match(await gone, /shut down/);
});

test('SignalClient: messages sent before the peer is there are held and delivered in order', async (t) => {
  const s = await server(t, { rejoinGraceMs: 5000 });
  const host = await client(t, s.url);
  const { room } = await host.createRoom();
  host.send({ kind: 'pake', data: b64('early-1') }); // nobody there yet: held
  host.send({ kind: 'pake', data: b64('early-2') });
  const recv = await client(t, s.url);
  const got: string[] = [];
  const all = once((cb) =>
    recv.onSignal((m) => {
      got.push(Buffer.from(m.data, 'base64').toString());
      if (got.length === 3) cb();
    }),
  );
  await recv.joinRoom(room);
  host.send({ kind: 'pake', data: b64('late-3') });
  await all;
  assert.deepEqual(got, ['early-1', 'early-2', 'late-3']);
});

test('SignalClient: a signal the server refuses ends signaling at once with one sentence; the other peer hears peer-left', async (t) => {
  const s = await server(t);
  const host = await client(t, s.url);
  const { room } = await host.createRoom();
  const recv = await client(t, s.url);
  const paired = once((cb) => host.onPeerJoined(cb));
  await recv.joinRoom(room);
  await paired;
  // bounds far below the 30 s connect timeout a peer used to wait for, instead
  const gone = once<string>((cb) => host.onDisconnect(cb), 3000, 'onDisconnect');
  const left = once((cb) => recv.onPeerLeft(cb), 3000, 'peer-left at the receiver');
  host.send({ kind: 'sdp', data: 'not base64!' }); // the server refuses it (bad-request)
  const reason = await gone;
  assert.match(reason, /^The signaling server at http:\/\/127\.0\.0\.1:\d+ refused to relay a message to the other side \(signal "data" must be base64\)\.$/);
  await left;
  host.send({ kind: 'pake', data: b64('after the end') }); // a closed client drops it, without throwing
});

test('embedded use: after close() nothing keeps the process alive, and nothing was printed', async () => {
  const server = new URL('../../signaling/server/index.js', import.meta.url).href;
  const clientMod = new URL('../../peer/rendezvous/signal-client.js', import.meta.url).href;
  const script = `
    import { startSignalServer } from ${JSON.stringify(server)};
    import { SignalClient } from ${JSON.stringify(clientMod)};
    const s = await startSignalServer({ host: '127.0.0.1', port: 0 });
    const h = await SignalClient.connect({ url: s.url });
    const r = await SignalClient.connect({ url: s.url });
    const { room } = await h.createRoom();
    await r.joinRoom(room);
    await fetch(s.url + '/metrics').then((x) => x.text());
    h.close();
    r.close();
    await s.close();
    await s.close();
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(-1);
    }, 8000);
    child.once('exit', (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
  assert.equal(code, 0, `the process did not exit by itself (code ${code}); output: ${out}`);
  assert.equal(out, '');
});
