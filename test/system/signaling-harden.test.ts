/**
 * movie-signal against code burning: joins limited per address with wrong
 * guesses costing extra, IPv6 counted per /64, connections and open rooms
 * capped per address, a host alone cannot keep its room alive, a joiner that
 * never sent a PAKE message does not burn the code (and a real movie-share
 * keeps waiting for the real receiver), /metrics on its own listener, and the
 * default TURN credential lifetime.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { SIGNAL_DEFAULTS, startSignalServer, type RunningSignalServer, type SignalServerOptions } from '../../signaling/server/index.js';
import { DEFAULT_TURN_TTL_SECONDS, turnRestCredentials } from '../../signaling/turn.js';
import { SignalClient } from '../../peer/rendezvous/signal-client.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { SIGNAL_PROTOCOL_VERSION as V } from '../../common/protocol/signal-protocol.js';
import { eventually } from '../support/eventually.js';
import { sameBytes } from '../support/files.js';
import { Procs } from '../support/procs.js';
import { parseCode } from '../../common/code/code.js';

type Ctx = { after: (fn: () => unknown) => void };

/** A window so long that no test run straddles two of them: counts are exact. */
const FOREVER = 2 ** 40;

async function server(t: Ctx, opts: SignalServerOptions = {}): Promise<RunningSignalServer> {
  const s = await startSignalServer({ host: '127.0.0.1', port: 0, ...opts });
  t.after(() => s.close());
  return s;
}

function socket(t: Ctx, url: string, xff?: string): Socket {
  const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, ...(xff ? { extraHeaders: { 'x-forwarded-for': xff } } : {}) });
  t.after(() => {
    s.disconnect();
  });
  return s;
}

async function raw(t: Ctx, url: string, xff?: string): Promise<Socket> {
  const s = socket(t, url, xff);
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  return s;
}

const event = <T = unknown>(s: Socket, ev: string, ms = 5000): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${ev}`)), ms);
    s.once(ev, (v: T) => {
      clearTimeout(timer);
      resolve(v);
    });
  });

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const joinReason = async (s: Socket, room: string): Promise<string> => ((await s.emitWithAck('join', { v: V, room })) as { ok: boolean; reason?: string }).reason ?? 'ok';

test('defaults: 20 joins a minute per address, a wrong guess costs 5, 64 connections and 32 open rooms per address', () => {
  assert.deepEqual(SIGNAL_DEFAULTS.rateLimit, { windowMs: 60_000, maxCreates: 1200, maxJoins: 20, joinMissCost: 5 });
  assert.equal(SIGNAL_DEFAULTS.maxSocketsPerAddress, 64);
  assert.equal(SIGNAL_DEFAULTS.maxRoomsPerAddress, 32);
});

test('a join answered not-found costs 5 of the 20: the fifth wrong guess is rate-limited, with the sentence the CLIs show', async (t) => {
  const s = await server(t, { rateLimit: { ...SIGNAL_DEFAULTS.rateLimit, windowMs: FOREVER } });
  const r = await raw(t, s.url);
  const reasons: string[] = [];
  for (let i = 0; i < 5; i++) reasons.push(await joinReason(r, 'zzzz'));
  assert.deepEqual(reasons, ['not-found', 'not-found', 'not-found', 'not-found', 'rate-limited']);
  const c = await SignalClient.connect({ url: s.url, connectTimeoutMs: 3000 });
  t.after(() => c.close());
  await assert.rejects(c.joinRoom('2345'), (e: unknown) => {
    assert.ok(e instanceof MovieShareError);
    assert.equal(e.exitCode, ExitCode.Network);
    assert.match(e.message, /refusing more requests from your address for now \(rate limit\)/);
    return true;
  });
  // a right code is not charged extra: 20 joins of existing rooms from another server's fresh allowance
  const s2 = await server(t, { rateLimit: { ...SIGNAL_DEFAULTS.rateLimit, windowMs: FOREVER } });
  const j = await raw(t, s2.url);
  let ok = 0;
  for (let i = 0; i < 20; i++) {
    const h = await raw(t, s2.url);
    const { room } = (await h.emitWithAck('create', { v: V })) as { room: string };
    if ((await joinReason(j, room)) === 'ok') ok++;
    j.emit('leave');
  }
  assert.equal(ok, 20);
  assert.equal(await joinReason(j, 'zzzz'), 'rate-limited');
});

test('IPv6 addresses count per /64 (and IPv4-mapped ones as IPv4) for the join limit', async (t) => {
  const s = await server(t, { trustProxy: true, rateLimit: { windowMs: FOREVER, maxCreates: 100, maxJoins: 2, joinMissCost: 1 } });
  const a = await raw(t, s.url, '2001:db8:1:2::a');
  const b = await raw(t, s.url, '2001:DB8:1:2:ffff:1:2:3');
  const other = await raw(t, s.url, '2001:db8:1:3::a');
  assert.equal(await joinReason(a, 'zzzz'), 'not-found');
  assert.equal(await joinReason(a, 'zzzz'), 'not-found');
  assert.equal(await joinReason(b, 'zzzz'), 'rate-limited', 'another address of the same /64 shares the allowance');
  assert.equal(await joinReason(other, 'zzzz'), 'not-found', 'the next /64 has its own');
  const v4 = await raw(t, s.url, '192.0.2.7');
  const mapped = await raw(t, s.url, '::ffff:192.0.2.7');
  assert.equal(await joinReason(v4, 'zzzz'), 'not-found');
  assert.equal(await joinReason(mapped, 'zzzz'), 'not-found');
  assert.equal(await joinReason(v4, 'zzzz'), 'rate-limited', 'an IPv4-mapped address is that IPv4 address');
});

test('connections per address are capped: the next one is refused at once with the rate-limit sentence; a freed slot is reusable', async (t) => {
  const s = await server(t, { maxSocketsPerAddress: 3 });
  const open = await Promise.all([0, 1, 2].map(() => raw(t, s.url)));
  const refused = socket(t, s.url);
  const err = await event<Error & { data?: { reason?: string } }>(refused, 'connect_error');
  assert.equal(err.data?.reason, 'rate-limited');
  assert.match(err.message, /Too many connections from your address/);
  await assert.rejects(SignalClient.connect({ url: s.url, connectTimeoutMs: 60_000 }), (e: unknown) => {
    assert.ok(e instanceof MovieShareError);
    assert.equal(e.exitCode, ExitCode.Network);
    assert.match(e.message, /rate limit/);
    return true;
  });
  open[0]!.disconnect();
  await eventually(async () => {
    const again = socket(t, s.url);
    await new Promise<void>((resolve, reject) => {
      again.once('connect', () => resolve());
      again.once('connect_error', reject);
    });
  });
});

test('open rooms per address are capped; a room that ends frees its place', async (t) => {
  const s = await server(t, { maxRoomsPerAddress: 2 });
  const hosts = await Promise.all([0, 1, 2].map(() => raw(t, s.url)));
  assert.equal(((await hosts[0]!.emitWithAck('create', { v: V })) as { ok: boolean }).ok, true);
  assert.equal(((await hosts[1]!.emitWithAck('create', { v: V })) as { ok: boolean }).ok, true);
  const third = (await hosts[2]!.emitWithAck('create', { v: V })) as { ok: boolean; reason: string; message: string };
  assert.equal(third.reason, 'rate-limited');
  assert.match(third.message, /Too many open rooms from your address/);
  hosts[0]!.emit('leave');
  await eventually(async () => assert.equal(((await hosts[2]!.emitWithAck('create', { v: V })) as { ok: boolean }).ok, true));
});

test('a host alone cannot keep its room alive by sending signals', async (t) => {
  const s = await server(t, { roomTtlMs: 600 });
  const host = await raw(t, s.url);
  assert.equal(((await host.emitWithAck('create', { v: V })) as { ok: boolean }).ok, true);
  const expired = event<{ reason: string }>(host, 'signal-error', 10_000);
  let talking = true;
  const talk = (async () => {
    while (talking) {
      const r = (await host.timeout(2000).emitWithAck('signal', { kind: 'pake', data: b64('x') })) as { reason?: string };
      if (r.reason !== 'peer-absent') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })().catch(() => undefined);
  const err = await expired;
  talking = false;
  await talk;
  assert.equal(err.reason, 'expired');
});

test('a joiner that never sent a pake message does not burn the code; one that did, does', async (t) => {
  const s = await server(t, { rejoinGraceMs: 30_000 });
  const host = await raw(t, s.url);
  const { room } = (await host.emitWithAck('create', { v: V })) as { room: string };

  // 1. joins, sends only a non-pake message, then drops (no leave): reopened at once, not after the grace period
  const j1 = await raw(t, s.url);
  const joined1 = event(host, 'peer-joined');
  assert.equal(await joinReason(j1, room), 'ok');
  await joined1;
  assert.equal(await joinReason(await raw(t, s.url), room), 'busy', 'busy while a joiner is in the room');
  const reopened1 = event<{ reopened?: boolean }>(host, 'peer-left');
  j1.disconnect();
  assert.deepEqual(await reopened1, { reopened: true });

  // 2. joins and leaves explicitly: reopened again
  const j2 = await raw(t, s.url);
  assert.equal(await joinReason(j2, room), 'ok');
  const reopened2 = event<{ reopened?: boolean }>(host, 'peer-left');
  j2.emit('leave');
  assert.deepEqual(await reopened2, { reopened: true });

  // 3. joins and sends a pake message: the guess is spent; its leaving burns the code
  const j3 = await raw(t, s.url);
  assert.equal(await joinReason(j3, room), 'ok');
  const atHost = event(host, 'signal');
  assert.deepEqual(await j3.emitWithAck('signal', { kind: 'pake', data: b64('share') }), { ok: true });
  await atHost;
  const left = event<unknown>(host, 'peer-left');
  j3.emit('leave');
  assert.equal(await left, undefined, 'a plain peer-left');
  assert.equal(await joinReason(await raw(t, s.url), room), 'busy');
});

test('SignalClient: a host hears onReopened (not onPeerLeft) and onPeerJoined again for the next receiver', async (t) => {
  const s = await server(t);
  const host = await SignalClient.connect({ url: s.url, connectTimeoutMs: 3000 });
  t.after(() => host.close());
  const { room } = await host.createRoom();
  let joins = 0;
  let lefts = 0;
  let reopens = 0;
  host.onPeerJoined(() => joins++);
  host.onPeerLeft(() => lefts++);
  host.onReopened(() => reopens++);
  const j1 = await raw(t, s.url);
  assert.equal(await joinReason(j1, room), 'ok');
  await eventually(() => assert.equal(joins, 1));
  j1.disconnect();
  await eventually(() => assert.equal(reopens, 1));
  const j2 = await raw(t, s.url);
  assert.equal(await joinReason(j2, room), 'ok');
  await eventually(() => assert.equal(joins, 2));
  const got = new Promise<string>((r) => host.onSignal((m) => r(m.data)));
  await j2.emitWithAck('signal', { kind: 'pake', data: b64('share') });
  assert.equal(await got, b64('share'));
  j2.emit('leave');
  await eventually(() => assert.equal(lefts, 1));
  assert.equal(reopens, 1);
});

test('--metrics-port: /metrics only on its own listener (127.0.0.1), not on the public one', async (t) => {
  const s = await server(t, { metricsPort: 0 });
  assert.ok(s.metricsUrl, 'metricsUrl');
  assert.match(s.metricsUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(s.metricsUrl, s.url);
  assert.equal((await fetch(`${s.url}/metrics`)).status, 404);
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  const m = await fetch(`${s.metricsUrl}/metrics`);
  assert.equal(m.status, 200);
  assert.match(await m.text(), /^movie_signal_rooms_open /m);
  assert.equal((await fetch(`${s.metricsUrl}/healthz`)).status, 404);
  // without the option, /metrics stays where it was
  const plain = await server(t);
  assert.equal(plain.metricsUrl, undefined);
  assert.equal((await fetch(`${plain.url}/metrics`)).status, 200);
});

test('TURN REST credentials last an hour by default', () => {
  assert.equal(DEFAULT_TURN_TTL_SECONDS, 3600);
  const now = Date.UTC(2030, 0, 1);
  const c = turnRestCredentials({ secret: 's', urls: ['turn:127.0.0.1:3478'] }, now);
  assert.equal(Number(c.username!.split(':')[0]), now / 1000 + 3600);
});

/* ------------------------------------------------------------------ */

const procs = new Procs();
after(() => procs.cleanup());

test('real movie-share: a socket joins its room without a pake message and drops; the real movie-get with the code still succeeds', { timeout: 90_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'movie-harden-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const src = join(dir, 'movie.bin');
  await writeFile(src, Buffer.alloc(256 * 1024, 7));
  const { url } = await procs.signal();
  const share = await procs.share(src, url, ['--verbose']);
  const room = parseCode(share.code).room;

  const squatter = await raw(t, url);
  assert.equal(await joinReason(squatter, room), 'ok');
  await share.proc.waitFor(/receiver joined/);
  squatter.disconnect();
  await share.proc.waitFor(/still waiting for the receiver/);

  const out = join(dir, 'movie.out');
  const get = procs.get(share.code, out, url);
  assert.equal(await get.exited, 0, `movie-get: ${get.stderr()}`);
  assert.equal(await share.proc.exited, 0, `movie-share: ${share.proc.stderr()}`);
  assert.ok(await sameBytes(src, out));
});
