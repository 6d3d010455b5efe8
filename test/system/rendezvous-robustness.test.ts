/**
 * Nothing the other peer sends in the sealed handshake may crash the process:
 * node-datachannel aborts the whole process on an exception thrown inside its
 * callbacks (a candidate before the remote description, a malformed
 * candidate), so the real rendezvous must queue, drop or refuse such input and
 * end, if at all, in one MovieShareError. Here a host that knows the code
 * (test/support/rogue-peer.ts) misbehaves against the real receiver's
 * rendezvous, through a real signaling server on 127.0.0.1.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { cleanup, type RtcConfig } from 'node-datachannel';
import { startSignalServer } from '../../signaling/server/index.js';
import { SignalClient } from '../../peer/rendezvous/signal-client.js';
import { parsePeerSignal, rendezvous } from '../../peer/rendezvous/rendezvous.js';
import { parseCode } from '../../common/code/code.js';
import { DEFAULT_TUNING } from '../../common/config.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { startRogueHost, type RoguePeerMode } from '../support/rogue-peer.js';
import { nodePeerFactory } from '../../peer/rtc/node-peer.js';
import '../support/node-crypto.js';

// release node-datachannel's native threads, or this file's process lingers
after(() => cleanup());

const RTC: RtcConfig = { iceServers: [], bindAddress: '127.0.0.1', mtu: 1280 };

type Ctx = { after: (fn: () => unknown) => void };

async function receiverAgainst(t: Ctx, mode: RoguePeerMode) {
  const server = await startSignalServer({ host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  const rogue = await startRogueHost(server.url, mode, RTC);
  t.after(() => rogue.close());
  const signal = await SignalClient.connect({ url: server.url, connectTimeoutMs: 5000 });
  t.after(() => signal.close());
  const code = parseCode(rogue.code);
  await signal.joinRoom(code.room);
  const logged: string[] = [];
  const result = rendezvous({
    role: 'receiver',
    code,
    signal,
    factory: nodePeerFactory(RTC),
    lowWaterMark: DEFAULT_TUNING.lowWaterMark,
    connectTimeoutMs: 20_000,
    log: (l) => logged.push(l),
  });
  return { rogue, result, logged };
}

test('candidates before the offer, garbage candidates and a repeated offer: the receiver queues, drops, and connects', { timeout: 30_000 }, async (t) => {
  const { rogue, result, logged } = await receiverAgainst(t, 'candidates-first');
  const rz = await result;
  t.after(() => rz.session.channel.close());
  await rogue.connected;
  assert.ok(
    logged.some((l) => /ignored a malformed candidate/.test(l)),
    logged.join('\n'),
  );
  assert.ok(
    logged.some((l) => /ignored a repeated offer/.test(l)),
    logged.join('\n'),
  );
  // the first candidate arrived before the offer (it waited in the queue)
  const firstCandidate = logged.findIndex((l) => l === 'received sealed candidate');
  const offer = logged.findIndex((l) => l === 'received sealed offer');
  assert.ok(firstCandidate >= 0 && firstCandidate < offer, logged.join('\n'));
});

test('a description of the wrong kind from an authenticated peer ends in one sentence, exit 4', { timeout: 30_000 }, async (t) => {
  const { result } = await receiverAgainst(t, 'wrong-description');
  await assert.rejects(result, (e: unknown) => {
    assert.ok(e instanceof MovieShareError);
    assert.equal(e.exitCode, ExitCode.Auth);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
});

/** A signaling server that lets a receiver join, then refuses every `signal` (as a flooded server would). */
async function refusingServer(t: Ctx): Promise<string> {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'] });
  io.on('connection', (sock) => {
    sock.on('join', (req: { room: string }, ack: (r: unknown) => void) => ack({ ok: true, room: req.room, iceServers: [], token: 'receiver-token', peerPresent: true }));
    sock.on('signal', (_msg: unknown, ack?: (r: unknown) => void) => ack?.({ ok: false, reason: 'rate-limited', message: 'Too many messages on this connection; slow down.' }));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.after(() => io.close());
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

test('a signal the server refuses fails the rendezvous at once, in one sentence, exit 5 (not after the connect timeout)', { timeout: 30_000 }, async (t) => {
  const url = await refusingServer(t);
  const signal = await SignalClient.connect({ url, connectTimeoutMs: 5000 });
  t.after(() => signal.close());
  const code = parseCode('k7pq-apple-river-violin');
  await signal.joinRoom(code.room);
  const t0 = Date.now();
  await assert.rejects(
    rendezvous({ role: 'receiver', code, signal, factory: nodePeerFactory(RTC), lowWaterMark: DEFAULT_TUNING.lowWaterMark, connectTimeoutMs: 20_000 }),
    (e: unknown) => {
      assert.ok(e instanceof MovieShareError);
      assert.equal(e.exitCode, ExitCode.Network);
      assert.match(
        e.message,
        /^The signaling server at http:\/\/127\.0\.0\.1:\d+ refused to relay a message to the other side \(too many messages on this connection; slow down\)\. /,
      );
      assert.doesNotMatch(e.message, /\n/);
      return true;
    },
  );
  // the PAKE share was refused right away: half the 20 s connect timeout tells the two apart on a loaded machine
  assert.ok(Date.now() - t0 < 10_000, `failed after ${Date.now() - t0} ms`);
});

test('parsePeerSignal: what each role may send, what is dropped, what is refused', () => {
  const cand = { candidate: 'candidate:1 1 UDP 2122317823 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  assert.deepEqual(parsePeerSignal({ type: 'offer', sdp: 'v=0' }, 'host'), { type: 'offer', sdp: 'v=0' });
  assert.deepEqual(parsePeerSignal({ type: 'answer', sdp: 'v=0', extra: 1 }, 'receiver'), { type: 'answer', sdp: 'v=0' });
  assert.deepEqual(parsePeerSignal({ type: 'candidate', candidate: cand }, 'host'), { type: 'candidate', candidate: cand });
  for (const bad of [
    { type: 'candidate', candidate: 'candidate:1 1 UDP 1 127.0.0.1 5000 typ host' },
    { type: 'candidate', candidate: { ...cand, candidate: 'garbage' } },
    { type: 'candidate', candidate: { ...cand, sdpMid: 7 } },
    { type: 'candidate', candidate: null },
    { type: 'renegotiate', renegotiate: true },
  ]) {
    assert.equal(parsePeerSignal(bad, 'host'), 'ignore', JSON.stringify(bad));
  }
  for (const [bad, from] of [
    [{ type: 'answer', sdp: 'v=0' }, 'host'],
    [{ type: 'offer', sdp: 'v=0' }, 'receiver'],
    [{ type: 'offer', sdp: 42 }, 'host'],
    [{ type: 'rollback' }, 'host'],
    [null, 'host'],
    ['offer', 'host'],
  ] as const) {
    assert.throws(
      () => parsePeerSignal(bad, from),
      (e: unknown) => e instanceof MovieShareError && e.exitCode === ExitCode.Auth,
      JSON.stringify(bad),
    );
  }
});
