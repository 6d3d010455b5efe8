/**
 * The rendezvous' PAKE steps (peer/rendezvous/rendezvous.ts, docs/PROTOCOL.md §3)
 * between two in-memory signaling clients: each side's nonce, then share, then
 * confirmation; the CPace sid is made of both nonces; a second nonce, a
 * nonce of the wrong length or our own nonce reflected is exit 4, and a share
 * before any nonce (a movie-share from before nonces) is one clear sentence.
 * No WebRTC runs: each test ends the rendezvous once the PAKE is decided.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rendezvous, type RendezvousOptions } from '../../peer/rendezvous/rendezvous.js';
import type { SignalClient } from '../../peer/rendezvous/signal-client.js';
import type { PeerFactory, WebRtcPeer } from '../../peer/rendezvous/peer-factory.js';
import type { Role, SignalPayload } from '../../common/protocol/signal-protocol.js';
import { parseCode } from '../../common/code/code.js';
import { AUTH_FAILURE_SENTENCE, ExitCode, MovieShareError } from '../../common/errors.js';
import { SID_NONCE_BYTES } from '../../common/crypto/pake.js';
import '../support/node-crypto.js';

const CODE = parseCode('k7pqp-apple-river-violin');

/** One side's signaling client: what it sends goes to `peer` (if any) on a later turn, and `rewrite` may change it. */
class FakeSignal {
  peer: FakeSignal | undefined;
  sent: SignalPayload[] = [];
  rewrite: (m: SignalPayload) => SignalPayload[] = (m) => [m];
  private signalCb: (m: SignalPayload) => void = () => undefined;
  private disconnectCb: (reason: string) => void = () => undefined;
  send(m: SignalPayload): void {
    this.sent.push(m);
    const out = this.rewrite(m);
    setImmediate(() => out.forEach((x) => this.peer?.deliver(x)));
  }
  deliver(m: SignalPayload): void {
    this.signalCb(m);
  }
  onSignal(cb: (m: SignalPayload) => void): void {
    this.signalCb = cb;
  }
  onPeerJoined(cb: () => void): void {
    setImmediate(cb);
  }
  onPeerLeft(): void {}
  onReopened(): void {}
  onDisconnect(cb: (reason: string) => void): void {
    this.disconnectCb = cb;
  }
  /** ends the rendezvous (as signaling lost would) */
  disconnect(): void {
    this.disconnectCb('test over');
  }
}

/** A factory that is never reached: the tests end at the PAKE. */
const factory = {
  localLinks: () => [],
  hostValue: () => undefined,
  chooseMtu: () => undefined,
} as unknown as PeerFactory<WebRtcPeer>;

function side(role: Role, signal: FakeSignal, onVerified?: (v: string) => void): Promise<unknown> {
  const opts: RendezvousOptions<WebRtcPeer> = { role, code: CODE, signal: signal as unknown as SignalClient, factory, lowWaterMark: 0, connectTimeoutMs: 5000, onVerified };
  return rendezvous(opts).catch((e: unknown) => e);
}

const pakeType = (m: SignalPayload): number => Buffer.from(m.data, 'base64')[0]!;
const pake = (type: number, body: Uint8Array): SignalPayload => ({ kind: 'pake', data: Buffer.concat([Buffer.of(type), body]).toString('base64') });

function pair(): [FakeSignal, FakeSignal] {
  const h = new FakeSignal();
  const r = new FakeSignal();
  h.peer = r;
  r.peer = h;
  return [h, r];
}

function assertExit(e: unknown, code: ExitCode, message?: RegExp | string): void {
  assert.ok(e instanceof MovieShareError, `expected a MovieShareError, got ${String(e)}`);
  assert.equal(e.exitCode, code, e.message);
  if (typeof message === 'string') assert.equal(e.message, message);
  else if (message) assert.match(e.message, message);
}

/** An honest run up to the confirmed PAKE: the verification strings of both sides, and what each sent. */
async function honestRun(): Promise<{ verification: string[]; host: FakeSignal; receiver: FakeSignal }> {
  const [h, r] = pair();
  const verification: string[] = [];
  let verified = 0;
  const done = new Promise<void>((resolve) => {
    const on = (v: string): void => {
      verification.push(v);
      if (++verified === 2) resolve();
    };
    void Promise.all([side('host', h, on), side('receiver', r, on)]);
  });
  await done;
  h.disconnect();
  r.disconnect();
  return { verification, host: h, receiver: r };
}

test('an honest pair: nonce, share, confirmation each way; both confirm the same key, and a new run (new nonces) gets another', async () => {
  const one = await honestRun();
  assert.equal(one.verification.length, 2);
  assert.equal(one.verification[0], one.verification[1]);
  for (const s of [one.host, one.receiver]) {
    const types = s.sent.filter((m) => m.kind === 'pake').map(pakeType);
    assert.deepEqual(types, [3, 1, 2], 'nonce, share, confirmation');
    assert.equal(Buffer.from(s.sent[0]!.data, 'base64').length, 1 + SID_NONCE_BYTES);
  }
  const two = await honestRun();
  assert.notEqual(two.verification[0], one.verification[0]);
});

test('the sid binds both nonces: a nonce changed on the way ends both sides with exit 4', async () => {
  const [h, r] = pair();
  h.rewrite = (m) => {
    if (m.kind !== 'pake' || pakeType(m) !== 3) return [m];
    const b = Buffer.from(m.data, 'base64');
    b[5]! ^= 1;
    return [{ kind: 'pake', data: b.toString('base64') }];
  };
  const [he, re] = await Promise.all([side('host', h), side('receiver', r)]);
  assertExit(he, ExitCode.Auth, AUTH_FAILURE_SENTENCE);
  assertExit(re, ExitCode.Auth, AUTH_FAILURE_SENTENCE);
});

for (const [name, rewrite] of [
  ['a second nonce', (m: SignalPayload) => (m.kind === 'pake' && pakeType(m) === 3 ? [m, pake(3, new Uint8Array(SID_NONCE_BYTES).fill(7))] : [m])],
  ['a nonce of the wrong length', (m: SignalPayload) => (m.kind === 'pake' && pakeType(m) === 3 ? [pake(3, new Uint8Array(SID_NONCE_BYTES - 1))] : [m])],
] as const) {
  test(`${name} from the host: the receiver ends with exit 4`, async () => {
    const [h, r] = pair();
    h.rewrite = rewrite;
    const [he, re] = await Promise.all([side('host', h), side('receiver', r)]);
    assertExit(re, ExitCode.Auth, AUTH_FAILURE_SENTENCE);
    assertExit(he, ExitCode.Auth); // told by the receiver's bye
  });
}

test("the receiver's own nonce reflected back to it (the server replays it as the host's): exit 4", async () => {
  const r = new FakeSignal();
  r.peer = r; // everything the receiver sends comes back to it
  const e = await side('receiver', r);
  assertExit(e, ExitCode.Auth, AUTH_FAILURE_SENTENCE);
});

test('a share before any nonce (a movie-share from before nonces): one sentence, exit 1', async () => {
  const r = new FakeSignal();
  const running = side('receiver', r);
  r.deliver(pake(1, new Uint8Array(32).fill(9)));
  const e = await running;
  assertExit(e, ExitCode.Other, /older movie-share/);
});
