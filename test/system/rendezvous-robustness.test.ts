/**
 * Nothing the other peer sends in the sealed handshake may crash the process:
 * node-datachannel aborts the whole process on an exception thrown inside its
 * callbacks (a candidate before the remote description, a malformed
 * candidate), so the real rendezvous must queue, drop or refuse such input and
 * end, if at all, in one MovieShareError.
 *
 * Here a host that knows the code (test/support/rogue-peer.ts, in a process of
 * its own: rogue-host-main.ts) misbehaves against the real receiver, the
 * movie-get CLI, through a real movie-signal on 127.0.0.1. No WebRTC stack
 * runs in this test's own process, so a handshake wedged in libdatachannel
 * (peer/rtc/dtls-role.ts) can never hang it; the children are killed by PID.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { Server } from 'socket.io';
import { cleanup, type RtcConfig } from 'node-datachannel';
import { SignalClient } from '../../peer/rendezvous/signal-client.js';
import { FLOOD_SENTENCE, parsePeerSignal, rendezvous } from '../../peer/rendezvous/rendezvous.js';
import { parseCode } from '../../common/code/code.js';
import { DEFAULT_TUNING } from '../../common/config.js';
import { AUTH_FAILURE_SENTENCE, ExitCode, MovieShareError } from '../../common/errors.js';
import { nodePeerFactory } from '../../peer/rtc/node-peer.js';
import { DIST, Procs, type Proc } from '../support/procs.js';
import { tempDir } from '../support/files.js';
import type { RoguePeerMode } from '../support/rogue-peer.js';
import '../support/node-crypto.js';

const RTC: RtcConfig = { iceServers: [], bindAddress: '127.0.0.1', mtu: 1280 };
const ROGUE = join(DIST, 'test', 'support', 'rogue-host-main.js');
/** Connected, or libdatachannel 0.24's known DTLS stall (peer/rtc/dtls-role.ts), which the rendezvous ends in this sentence within 12 s. */
const CONNECTED_OR_STALLED = /Connected to the sender|its encrypted handshake \(DTLS\) did not complete/;

type Ctx = { after: (fn: () => unknown) => void };

const procs = new Procs();
let outDir: ReturnType<typeof tempDir> | undefined;
let outs = 0;
after(async () => {
  await procs.cleanup();
  await (await outDir)?.remove();
  cleanup(); // node-datachannel's threads (loaded here, never used): or this file's process lingers
});

/** The rogue host (its own process) and the real movie-get against it; `get` in --verbose, at MTU 1280. */
async function receiverAgainst(mode: RoguePeerMode): Promise<{ rogue: Proc; get: Proc; out: string }> {
  const { url } = await procs.signal();
  const rogue = procs.node(ROGUE, [url, mode]);
  const code = (await rogue.waitFor(/\{"code":"([^"]+)"\}/))[1]!;
  const dir = (await (outDir ??= tempDir('movie-share-rogue-'))).dir;
  const out = join(dir, `out-${++outs}.bin`);
  const get = procs.get(code, out, url, ['--verbose', '--mtu', '1280']);
  return { rogue, get, out };
}

test('candidates before the offer, garbage candidates, a repeated offer and a replayed one: the receiver queues, drops, and connects', { timeout: 90_000 }, async () => {
  let run = await receiverAgainst('candidates-first');
  let outcome = (await run.get.waitFor(CONNECTED_OR_STALLED, 40_000))[0];
  if (outcome !== 'Connected to the sender') {
    // the upstream stall, not ours: one fresh attempt (new code, new processes)
    run.get.kill();
    run.rogue.kill();
    run = await receiverAgainst('candidates-first');
    outcome = (await run.get.waitFor(CONNECTED_OR_STALLED, 40_000))[0];
  }
  const both = (): string => `movie-get stderr:\n${run.get.stderr()}\nrogue host stdout:\n${run.rogue.stdout()}\nrogue host stderr:\n${run.rogue.stderr()}`;
  assert.equal(outcome, 'Connected to the sender', both());
  await run.rogue.waitFor(/\{"connected":true\}/, 10_000);
  const log = run.get.stderr();
  assert.match(log, /ignored a malformed candidate/, both());
  assert.match(log, /ignored a repeated offer/, both());
  assert.match(log, /ignored a replayed sealed sdp signal \(number 2\)/, both());
  // the first candidate arrived before the offer (it waited in simple-peer's queue)
  const firstCandidate = log.indexOf('received sealed candidate');
  const offer = log.indexOf('received sealed offer');
  assert.ok(firstCandidate >= 0 && firstCandidate < offer, both());
  assert.doesNotMatch(log, /at .*\.js:\d+|Please report this/, both());
  run.get.kill();
  run.rogue.kill();
});

test('a description of the wrong kind from an authenticated peer ends in one sentence, exit 4, nothing written', { timeout: 60_000 }, async () => {
  const { get, out } = await receiverAgainst('wrong-description');
  assert.equal(await get.exited, ExitCode.Auth, get.stderr());
  assert.ok(get.stderr().includes(AUTH_FAILURE_SENTENCE), get.stderr());
  assert.doesNotMatch(get.stderr(), /at .*\.js:\d+/, 'no stack trace');
  assert.equal(existsSync(out), false);
  assert.equal(existsSync(`${out}.part`), false);
});

test('a flood of candidates from an authenticated peer ends in the flood sentence, exit 5, nothing written', { timeout: 60_000 }, async () => {
  const { get, out } = await receiverAgainst('candidate-flood');
  assert.equal(await get.exited, ExitCode.Network, get.stderr());
  assert.ok(get.stderr().includes(FLOOD_SENTENCE), get.stderr());
  assert.doesNotMatch(get.stderr(), /at .*\.js:\d+/, 'no stack trace');
  assert.equal(existsSync(out), false);
  assert.equal(existsSync(`${out}.part`), false);
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
  const code = parseCode('k7pqp-apple-river-violin');
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
