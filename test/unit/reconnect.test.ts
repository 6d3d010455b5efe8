/**
 * Meeting again (peer/rendezvous/meeting.ts, heal.ts, docs/PROTOCOL.md §4a)
 * without WebRTC: the meeting room's id and the attempt keys
 * (common/crypto/session-keys.ts), the path plan of each attempt
 * (handshake.ts), the backoff, and two Meetings over an in-memory signaling
 * pair: a retry and its answer give both sides the same attempt keys (each
 * opens the other's sealed net hint), a stale answer or a replayed retry is
 * dropped, and a `bye` ends the meeting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveAttemptKeys, deriveSessionKeys, meetingRoomId } from '../../common/crypto/session-keys.js';
import { isValidMeetId } from '../../common/code/room-id.js';
import { bytesToHex } from '../../common/bytes.js';
import { pathPlan } from '../../peer/rendezvous/handshake.js';
import { backoffMs } from '../../peer/rendezvous/heal.js';
import { Meeting } from '../../peer/rendezvous/meeting.js';
import type { SignalClient } from '../../peer/rendezvous/signal-client.js';
import type { PeerFactory, WebRtcPeer } from '../../peer/rendezvous/peer-factory.js';
import type { Role, SignalPayload } from '../../common/protocol/signal-protocol.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import '../support/node-crypto.js';

const session = deriveSessionKeys(new Uint8Array(64).fill(3));
const nonce = (fill: number): Uint8Array => new Uint8Array(32).fill(fill);

test('the meeting room id: m + 26 base32 characters, the same for both sides of a session, another for another session', () => {
  const id = meetingRoomId(session.reconnect);
  assert.match(id, /^m[a-z2-7]{26}$/);
  assert.ok(isValidMeetId(id), 'the server takes it');
  assert.equal(meetingRoomId(deriveSessionKeys(new Uint8Array(64).fill(3)).reconnect), id);
  assert.notEqual(meetingRoomId(deriveSessionKeys(new Uint8Array(64).fill(4)).reconnect), id);
  // the reconnect secret is none of the other keys
  for (const k of [session.sealHostToReceiver, session.sealReceiverToHost, session.confirmHost, session.confirmReceiver])
    assert.notEqual(bytesToHex(k), bytesToHex(session.reconnect));
});

test('attempt keys: the same from the same inputs; another attempt number, nonce or session gives other keys', () => {
  const a = deriveAttemptKeys(session.reconnect, 2, nonce(1), nonce(2));
  assert.deepEqual(a, deriveAttemptKeys(session.reconnect, 2, nonce(1), nonce(2)));
  const others = [
    deriveAttemptKeys(session.reconnect, 3, nonce(1), nonce(2)),
    deriveAttemptKeys(session.reconnect, 2, nonce(9), nonce(2)),
    deriveAttemptKeys(session.reconnect, 2, nonce(1), nonce(9)),
    deriveAttemptKeys(session.reconnect, 2, nonce(2), nonce(1)), // the host's nonce first
    deriveAttemptKeys(deriveSessionKeys(new Uint8Array(64).fill(4)).reconnect, 2, nonce(1), nonce(2)),
  ];
  for (const o of others) assert.notEqual(bytesToHex(o.sealHostToReceiver), bytesToHex(a.sealHostToReceiver));
  assert.notEqual(bytesToHex(a.sealHostToReceiver), bytesToHex(session.sealHostToReceiver), 'not the first attempt’s keys');
});

test('path plans: relay-only anywhere → relay; no TURN → any; TURN as a fallback → direct, relay, direct, …', () => {
  const none = { turn: false, relayOnly: false };
  const turn = { turn: true, relayOnly: false };
  const only = { turn: true, relayOnly: true };
  for (const n of [1, 2, 3]) {
    assert.equal(pathPlan(n, only, none), 'relay');
    assert.equal(pathPlan(n, none, only), 'relay');
    assert.equal(pathPlan(n, none, none), 'any');
  }
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => pathPlan(n, turn, none)),
    ['direct', 'relay', 'direct', 'relay'],
  );
  assert.equal(pathPlan(1, none, turn), pathPlan(1, turn, none), 'both sides pick the same plan');
});

test('backoff between a receiver’s attempts: at once, then 1, 2, 4, 8 s, and 8 s after that', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map(backoffMs), [0, 1000, 2000, 4000, 8000, 8000, 8000]);
});

/** One side's signaling client in the meeting room: what it sends reaches `peer` on a later turn, through `rewrite`. */
class FakeSignal {
  peer: FakeSignal | undefined;
  sent: SignalPayload[] = [];
  rewrite: (m: SignalPayload) => SignalPayload[] = (m) => [m];
  private signalCb: (m: SignalPayload) => void = () => undefined;
  meet(): Promise<unknown> {
    return Promise.resolve({ ok: true });
  }
  send(m: SignalPayload): void {
    this.sent.push(m);
    for (const x of this.rewrite(m)) setImmediate(() => this.peer?.signalCb(x));
  }
  deliver(m: SignalPayload): void {
    this.signalCb(m);
  }
  onSignal(cb: (m: SignalPayload) => void): void {
    this.signalCb = cb;
  }
  onDisconnect(): void {}
  close(): void {}
}

/** A platform that never gets to WebRTC: it records the other side's net hint (proof that it opened) and stops there. */
function factory(seen: unknown[]): PeerFactory<WebRtcPeer> {
  return {
    relayOnly: false,
    hasTurn: false,
    localLinks: () => [],
    hostValue: () => undefined,
    chooseMtu: (_mine: unknown, theirs: unknown) => {
      seen.push(theirs);
      return undefined; // ends the attempt (exit 4): the test is over
    },
  } as unknown as PeerFactory<WebRtcPeer>;
}

function meeting(role: Role, signal: FakeSignal, seen: unknown[]): Meeting<WebRtcPeer> {
  return new Meeting({
    role,
    keys: session,
    factory: factory(seen),
    lowWaterMark: 0,
    connectSignal: () => Promise.resolve(signal as unknown as SignalClient),
    log: () => undefined,
  });
}

function pair(): [FakeSignal, FakeSignal] {
  const h = new FakeSignal();
  const r = new FakeSignal();
  h.peer = r;
  r.peer = h;
  return [h, r];
}

const pakeType = (m: SignalPayload): number => Buffer.from(m.data, 'base64')[0]!;

test('a retry and its answer: both sides reach the same attempt keys (each opens the other’s sealed net hint)', async () => {
  const [h, r] = pair();
  const seenH: unknown[] = [];
  const seenR: unknown[] = [];
  const host = meeting('host', h, seenH);
  const receiver = meeting('receiver', r, seenR);
  const [he, re] = await Promise.all([host.answer(Date.now() + 5000, 5000).catch((e: unknown) => e), receiver.attempt(2, 5000).catch((e: unknown) => e)]);
  // both got as far as the other's net hint, which opens only under the same attempt keys
  assert.deepEqual(seenH, [[]]);
  assert.deepEqual(seenR, [[]]);
  for (const e of [he, re]) assert.ok(e instanceof MovieShareError && e.exitCode === ExitCode.Auth, String(e));
  assert.deepEqual(r.sent.filter((m) => m.kind === 'pake').map(pakeType), [0x10], 'the receiver sends one retry');
  assert.deepEqual(h.sent.filter((m) => m.kind === 'pake').map(pakeType), [0x11], 'the host answers it');
  assert.equal(host.attemptNumber, 2);
  host.close();
  receiver.close();
});

test('an answer to another retry (its nonce differs) is dropped: the receiver waits for its own, then times out', async () => {
  const [h, r] = pair();
  h.rewrite = (m) => {
    if (m.kind !== 'pake') return [m];
    const b = Buffer.from(m.data, 'base64');
    b[b.length - 1]! ^= 1; // the echoed receiver nonce
    return [{ kind: 'pake', data: b.toString('base64') }];
  };
  const seenR: unknown[] = [];
  const host = meeting('host', h, []);
  const receiver = meeting('receiver', r, seenR);
  void host.answer(Date.now() + 3000, 3000).catch(() => undefined);
  const e = await receiver.attempt(2, 600).catch((x: unknown) => x);
  assert.ok(e instanceof MovieShareError && e.recoverable, `a recoverable timeout, not ${String(e)}`);
  assert.match(e.message, /did not answer reconnection attempt 2/);
  assert.deepEqual(seenR, [], 'no sealed signal was taken');
  host.close();
  receiver.close();
});

test('a replayed retry (an attempt number already seen) is dropped; a `bye` ends the meeting with the other side’s reason', async () => {
  const [h, r] = pair();
  const host = meeting('host', h, []);
  const receiver = meeting('receiver', r, []);
  void receiver.attempt(3, 2000).catch(() => undefined);
  const first = host.answer(Date.now() + 2000, 2000).catch((e: unknown) => e);
  await first;
  assert.equal(host.attemptNumber, 3);
  // the server replays the receiver's retry of attempt 3: no new attempt
  const retry = r.sent.find((m) => m.kind === 'pake')!;
  h.deliver(retry);
  const again = await host.answer(Date.now() + 300, 300).catch((e: unknown) => e);
  assert.ok(again instanceof MovieShareError && again.recoverable && /did not come back/.test(again.message), String(again));
  h.deliver({ kind: 'bye', data: Buffer.from('stuck').toString('base64') });
  const ended = await host.answer(Date.now() + 300, 300).catch((e: unknown) => e);
  assert.ok(ended instanceof MovieShareError && !ended.recoverable && /got stuck/.test(ended.message), String(ended));
  host.close();
  receiver.close();
});
