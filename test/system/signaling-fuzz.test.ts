/**
 * Fuzz movie-signal (a real child process) with 2,000 malformed or oversized
 * messages of every event type from several clients, plus raw junk frames,
 * frames over the size limit and a message flood. The server must stay up,
 * answer every acknowledged message with an error, keep its RSS bounded, and
 * a room paired before the fuzzing must keep relaying throughout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { io, type Socket } from 'socket.io-client';
import { spawnSignalNode } from '../../bench/signal-load.js';
import { SignalClient } from '../../peer/rendezvous/signal-client.js';
import { SIGNAL_PROTOCOL_VERSION as V, type SignalPayload } from '../../common/protocol/signal-protocol.js';
import { eventually } from '../support/eventually.js';

const TOTAL = 2000;
const FUZZERS = 8;

function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error('no VmRSS');
  return Number(m[1]);
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function connectRaw(url: string): Promise<Socket> {
  const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', (e) => {
      s.disconnect();
      reject(e);
    });
  });
}

type Msg = { event: string; args: unknown[]; ack: boolean };

/** One malformed or oversized message; never a valid request. */
function junkMessage(rnd: () => number, i: number, realRoom: string): Msg {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const str = (n: number): string => {
    let s = '';
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*() \u00e9\u4e2d\ud83d\ude00"\\\n';
    for (let k = 0; k < n; k++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    return s;
  };
  let deep: unknown = 1;
  for (let k = 0; k < 200; k++) deep = [deep];
  const junkValues: unknown[] = [
    undefined,
    null,
    true,
    0,
    -1,
    1e308,
    NaN,
    str(10),
    str(3000),
    'A'.repeat(100 * 1024),
    [],
    [1, 2, 3],
    {},
    { v: String(V) },
    { v: V + 1 },
    { v: -V },
    { v: 1.5 },
    { v: null },
    { v: V, room: 42 },
    { v: V, room: str(5) },
    { v: V, room: 'A'.repeat(40_000) },
    { v: V, room: ['a', 'b'] },
    { v: V, room: realRoom, token: str(20) },
    { v: V, room: realRoom, token: 'x'.repeat(65) },
    { v: V, room: realRoom, token: 7 },
    { kind: 'sdp', data: 'A'.repeat(88 * 1024 + 8) },
    { kind: 'candidate', data: 'A'.repeat(3 * 1024 + 8) },
    { kind: 'pake', data: 'A'.repeat(1025) },
    { kind: 'bye', data: 'A'.repeat(1025) },
    { kind: 'sdp', data: str(50) + '!' },
    { kind: pick(['SDP', 'offer', '', 'constructor', '__proto__']), data: 'AA==' },
    { kind: 'sdp', data: { nested: true } },
    { kind: 'sdp', data: Buffer.from(str(64)) },
    { __proto__: { v: V }, room: realRoom },
    JSON.parse('{"__proto__": {"polluted": 1}, "v": 99}'),
    Object.fromEntries(Array.from({ length: 50 }, (_, k) => [`k${k}`, k])),
    deep,
    Buffer.from(str(100)),
    new Uint8Array(2048).fill(0xff),
    [Buffer.alloc(10), { v: V }],
  ];
  const events = ['create', 'join', 'rejoin', 'signal', 'leave', 'unknown-' + str(4), '', 'x'.repeat(300), 'constructor', 'hasOwnProperty'];
  const event = pick(events);
  const nArgs = pick([0, 1, 1, 1, 2, 3]);
  const args = Array.from({ length: nArgs }, () => pick(junkValues));
  // make sure the message is invalid: a lone {v: V} to create would be a valid create
  if (event === 'create' && args.length === 1 && typeof args[0] === 'object' && args[0] !== null && (args[0] as { v?: unknown }).v === V) {
    args.push('extra');
  }
  // leave is valid with any args; only fuzz it without an ack so it cannot be counted as a "reply ok"
  const ack = event === 'leave' ? false : rnd() < 0.8 || i % 50 === 0;
  return { event, args, ack };
}

test('2,000 malformed and oversized messages: server stays up, replies with errors, RSS bounded, a paired room keeps relaying', { timeout: 60_000 }, async (t) => {
  const node = await spawnSignalNode(['--rate-limit-creates', '100000', '--rate-limit-joins', '100000']);
  t.after(() => node.kill());
  const sockets = new Set<Socket>();
  t.after(() => {
    for (const s of sockets) s.disconnect();
  });
  const clients: SignalClient[] = [];
  t.after(() => {
    for (const c of clients) c.close();
  });

  // a room paired before the fuzzing
  const host = await SignalClient.connect({ url: node.url, connectTimeoutMs: 5000 });
  const recv = await SignalClient.connect({ url: node.url, connectTimeoutMs: 5000 });
  clients.push(host, recv);
  const { room } = await host.createRoom();
  const paired = new Promise<void>((r) => host.onPeerJoined(r));
  await recv.joinRoom(room);
  await paired;
  let peerLeft = false;
  host.onPeerLeft(() => (peerLeft = true));
  recv.onPeerLeft(() => (peerLeft = true));
  const atRecv: string[] = [];
  const atHost: string[] = [];
  recv.onSignal((m: SignalPayload) => atRecv.push(m.data));
  host.onSignal((m: SignalPayload) => atHost.push(m.data));

  // warm up, then measure
  await fetch(`${node.url}/metrics`).then((r) => r.text());
  const rssBefore = rssKiB(node.pid);

  // keep relaying in the paired room while the fuzzing runs, at 10 messages a
  // second per connection: well under the server's per-connection flood limit
  // (300 per 10 s) however long a loaded machine makes the fuzzing last
  let sent = 0;
  let relaying = true;
  const relayLoop = (async () => {
    while (relaying) {
      const tag = Buffer.from(`live-${sent}`).toString('base64');
      host.send({ kind: 'candidate', data: tag });
      recv.send({ kind: 'candidate', data: tag });
      sent++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`fuzz seed ${seed} (FUZZ_SEED=${seed} to replay)`);
  const stats = { sent: 0, oversizeClosed: 0, replies: 0, okReplies: [] as string[], noReply: 0, reconnects: 0, signalErrors: 0 };

  const fuzzer = async (f: number): Promise<void> => {
    const rnd = mulberry32(seed + f);
    let s = await connectRaw(node.url);
    sockets.add(s);
    s.on('signal-error', () => stats.signalErrors++);
    for (let i = f; i < TOTAL; i += FUZZERS) {
      if (!s.connected) {
        stats.reconnects++;
        s = await connectRaw(node.url);
        sockets.add(s);
        s.on('signal-error', () => stats.signalErrors++);
      }
      const m = junkMessage(rnd, i, room);
      stats.sent++;
      if (JSON.stringify(m.args).length > 120 * 1024) {
        // over the 128 KiB frame limit: the server closes the connection instead of answering
        const closed = new Promise<boolean>((r) => s.once('disconnect', () => r(true)));
        (s.emit as (ev: string, ...a: unknown[]) => void)(m.event, ...m.args);
        if (await Promise.race([closed, new Promise<boolean>((r) => setTimeout(() => r(false), 2000))])) stats.oversizeClosed++;
        continue;
      }
      if (!m.ack) {
        (s.emit as (ev: string, ...a: unknown[]) => void)(m.event, ...m.args);
        continue;
      }
      try {
        const reply = (await (s.timeout(3000).emitWithAck as (ev: string, ...a: unknown[]) => Promise<unknown>)(m.event, ...m.args)) as {
          ok?: boolean;
          reason?: string;
        };
        stats.replies++;
        if (reply?.ok !== false) stats.okReplies.push(`${m.event} ${JSON.stringify(m.args).slice(0, 100)} -> ${JSON.stringify(reply)}`);
      } catch {
        stats.noReply++;
        if (process.env.FUZZ_DEBUG) console.error('no reply', m.event, JSON.stringify(m.args).length, JSON.stringify(m.args).slice(0, 200));
      }
    }
  };

  // raw junk below socket.io: broken packets, binary frames, frames over the size limit
  const junkFrames = async (): Promise<void> => {
    const frames: (string | Buffer)[] = [
      '2["create"',
      '2[]',
      '2{"a":1}',
      '9junk',
      '51-["signal",{"_placeholder":true,"num":7}]',
      '2' + '['.repeat(5000),
      Buffer.from([0xde, 0xad, 0xbe, 0xef]),
      '2["signal",{"kind":"sdp","data":"' + 'A'.repeat(200 * 1024) + '"}]',
      Buffer.alloc(300 * 1024, 1),
    ];
    for (const frame of frames) {
      const s = await connectRaw(node.url);
      sockets.add(s);
      const closed = new Promise<void>((r) => s.once('disconnect', () => r()));
      (s.io.engine as unknown as { write(d: string | Buffer): void }).write(frame);
      await Promise.race([closed, new Promise((r) => setTimeout(r, 300))]);
      s.disconnect();
    }
  };

  // a flood on one connection: refused with rate-limited, then the connection is closed
  const flood = async (): Promise<{ limited: number; kicked: boolean }> => {
    const s = await connectRaw(node.url);
    sockets.add(s);
    let limited = 0;
    s.on('signal-error', (e: { reason: string }) => {
      if (e.reason === 'rate-limited') limited++;
    });
    const kicked = new Promise<boolean>((r) => s.once('disconnect', () => r(true)));
    for (let i = 0; i < 2000; i++) s.emit('signal', { kind: 'pake', data: 'AA==' });
    const k = await Promise.race([kicked, new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
    return { limited, kicked: k };
  };

  const [, , floodResult] = await Promise.all([Promise.all(Array.from({ length: FUZZERS }, (_, f) => fuzzer(f))), junkFrames(), flood()]);
  relaying = false;
  await relayLoop;
  // the last live messages may still be on their way
  await eventually(() => assert.ok(atRecv.length >= sent && atHost.length >= sent, `relayed ${atRecv.length}/${atHost.length} of ${sent}`));

  t.diagnostic(JSON.stringify({ ...stats, okReplies: stats.okReplies.length, flood: floodResult }));
  assert.equal(stats.sent, TOTAL);
  assert.deepEqual(stats.okReplies, [], 'no malformed message may succeed');
  assert.equal(stats.noReply, 0, 'every acknowledged message gets an answer');
  assert.ok(stats.replies > TOTAL * 0.6);
  assert.ok(floodResult.limited > 0, 'the flood was rate-limited');
  assert.equal(floodResult.kicked, true, 'the flooding connection was closed');

  // the server is up, healthy, and the pre-fuzz room still relays both ways, undisturbed
  assert.equal(node.proc.exitCode, null);
  assert.equal(node.proc.signalCode, null);
  const health = await fetch(`${node.url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(peerLeft, false);
  assert.ok(sent >= 1);
  const want = Array.from({ length: sent }, (_, k) => Buffer.from(`live-${k}`).toString('base64'));
  assert.deepEqual(atRecv, want, 'every live message reached the receiver, in order');
  assert.deepEqual(atHost, want, 'every live message reached the host, in order');

  // and a new room still pairs
  const h2 = await SignalClient.connect({ url: node.url, connectTimeoutMs: 5000 });
  const r2 = await SignalClient.connect({ url: node.url, connectTimeoutMs: 5000 });
  clients.push(h2, r2);
  const { room: room2 } = await h2.createRoom();
  const p2 = new Promise<void>((r) => h2.onPeerJoined(r));
  await r2.joinRoom(room2);
  await p2;

  const metrics = await (await fetch(`${node.url}/metrics`)).text();
  assert.match(metrics, /movie_signal_rejects_total\{reason="bad-request"\} \d{3,}/);

  const rssAfter = rssKiB(node.pid);
  t.diagnostic(`server RSS ${Math.round(rssBefore / 1024)} MiB before, ${Math.round(rssAfter / 1024)} MiB after`);
  assert.ok(rssAfter < 400 * 1024, `RSS after fuzzing ${rssAfter} KiB`);
  assert.ok(rssAfter - rssBefore < 200 * 1024, `RSS grew by ${rssAfter - rssBefore} KiB`);
});
