/**
 * Meeting again: a new data channel for peers that already share a session
 * key, when the first attempt failed or the channel died mid-transfer.
 *
 *   receiver                     meeting room m…                        host
 *    | meet(m…, receiver) ──────────▶ |  ◀────────────── meet(m…, host) |
 *    | retry: n, nonce_r ─────────────|──────────────────────────────▶ | (supersedes attempt n-1)
 *    |  ◀─────────────────────────────|──────── answer: n, nonce_h, nonce_r
 *    |   both: keys_n = HKDF(reconnect, n, nonce_h, nonce_r)           |
 *    | net hints, offer, answer, candidates (sealed under keys_n): handshake.ts
 *    |═══════════ ICE + DTLS: a new data channel ═════════════════════|
 *
 * The meeting room's id comes from the session key (common/crypto/session-keys.ts),
 * so both peers find it on any signaling server, even one that restarted
 * and forgot every room, and nobody else can. No code, no PAKE, no guess is
 * spent: the keys of attempt n come from the session's reconnect secret and
 * both sides' fresh nonces, so nothing sealed in an earlier attempt or
 * session opens in this one. The receiver starts every attempt (n = 2, 3, …;
 * the first rendezvous was 1) and the host answers the newest one; a retry
 * or answer the server forges or replays can only make an attempt fail (its
 * keys differ), which costs time, never the transfer's secrecy
 * (docs/PROTOCOL.md §4).
 */
import { connectionError, MovieShareError, networkError } from '../../common/errors.js';
import { constantTimeEqual } from '../../common/crypto/mac.js';
import { cryptoBackend } from '../../common/crypto/backend.js';
import { deriveAttemptKeys, meetingRoomId, type SessionKeys } from '../../common/crypto/session-keys.js';
import { concatBytes, fromBase64, fromUtf8, isBase64, toBase64, u32, utf8 } from '../../common/bytes.js';
import { SID_NONCE_BYTES } from '../../common/crypto/pake.js';
import type { Role, SignalPayload } from '../../common/protocol/signal-protocol.js';
import { Handshake, type Connected } from './handshake.js';
import type { PeerFactory, WebRtcPeer } from './peer-factory.js';
import { byeError } from './rendezvous.js';
import type { SignalClient } from './signal-client.js';

/** receiver → host: `RETRY ‖ u32 attempt ‖ nonce_r` */
const RETRY = 0x10;
/** host → receiver: `ANSWER ‖ u32 attempt ‖ nonce_h ‖ nonce_r` */
const ANSWER = 0x11;
const NONCE = SID_NONCE_BYTES;

export const STUCK_SENTENCE =
  'This side’s WebRTC stack got stuck in the encrypted handshake (DTLS), a known fault of libdatachannel 0.24, and cannot try again in this process; run both commands again to resume.';

export interface MeetingOptions<P extends WebRtcPeer> {
  role: Role;
  /** the session's keys, from the PAKE */
  keys: SessionKeys;
  factory: PeerFactory<P>;
  lowWaterMark: number;
  /** a new connection to the signaling server */
  connectSignal: () => Promise<SignalClient>;
  log: (line: string) => void;
}

interface Current<P extends WebRtcPeer> {
  hs: Handshake<P>;
  attempt: number;
  /** receiver: our nonce, until the host's answer to it */
  nonce?: Uint8Array;
  /** receiver: resolves with the host's nonce */
  answered?: (nonceHost: Uint8Array) => void;
  /** sealed signals belong to this attempt (after the answer) */
  open: boolean;
}

export class Meeting<P extends WebRtcPeer> {
  readonly room: string;
  private signal: SignalClient | undefined;
  private joining: Promise<SignalClient> | undefined;
  private current: Current<P> | undefined;
  /** host: the newest retry not yet answered */
  private retry: { attempt: number; nonce: Uint8Array } | undefined;
  private retryWaiter: (() => void) | undefined;
  /** why the meeting cannot go on (the other side said so) */
  private ended: MovieShareError | undefined;
  private closed = false;

  constructor(private readonly opts: MeetingOptions<P>) {
    this.room = meetingRoomId(opts.keys.reconnect);
  }

  /** the number of the newest attempt (the receiver's count; 1 before any) */
  get attemptNumber(): number {
    return this.current?.attempt ?? 1;
  }

  /** Our place in the meeting room, (re)made when signaling was lost. */
  private async join(): Promise<SignalClient> {
    if (this.signal) return this.signal;
    this.joining ??= (async () => {
      const { role, log } = this.opts;
      const client = await this.opts.connectSignal();
      try {
        await client.meet(this.room, role);
      } catch (e) {
        client.close();
        throw e;
      }
      log('in the meeting room');
      client.onSignal((m) => this.receive(m));
      client.onDisconnect((reason) => {
        if (this.signal !== client) return;
        this.signal = undefined;
        this.current?.hs.fail(connectionError(reason));
        this.wakeRetry();
      });
      this.signal = client;
      return client;
    })().finally(() => (this.joining = undefined));
    return this.joining;
  }

  private send(m: SignalPayload): void {
    this.signal?.send(m);
  }

  private receive(m: SignalPayload): void {
    if (this.closed) return;
    const cur = this.current;
    if (m.kind === 'bye') {
      this.ended = byeError(isBase64(m.data) ? fromUtf8(fromBase64(m.data)) : '');
      cur?.hs.fail(this.ended);
      this.wakeRetry();
      return;
    }
    if (m.kind === 'sdp' || m.kind === 'candidate') {
      // before the answer, or from an attempt given up: not ours
      if (cur?.open) cur.hs.inbox.push({ kind: m.kind, data: m.data });
      return;
    }
    const b = isBase64(m.data) ? fromBase64(m.data) : new Uint8Array(0);
    const attempt = b.length >= 5 ? new DataView(b.buffer, b.byteOffset + 1, 4).getUint32(0) : 0;
    if (this.opts.role === 'host' && b[0] === RETRY && b.length === 5 + NONCE) {
      // attempts only go up: an older one is a replay
      if (attempt <= Math.max(cur?.attempt ?? 1, this.retry?.attempt ?? 1)) return;
      // the receiver started attempt `attempt`: the one we are in is over
      this.retry = { attempt, nonce: b.slice(5) };
      cur?.hs.fail(connectionError('The receiver started a new attempt.'));
      this.wakeRetry();
      return;
    }
    if (this.opts.role === 'receiver' && b[0] === ANSWER && b.length === 5 + 2 * NONCE && cur?.nonce && cur.attempt === attempt) {
      if (!constantTimeEqual(b.subarray(5 + NONCE), cur.nonce)) return; // an answer to another retry of ours
      cur.open = true;
      cur.answered?.(b.slice(5, 5 + NONCE));
    }
  }

  /** read afresh (a `bye` may have come while we waited) */
  private endedBy(): MovieShareError | undefined {
    return this.ended;
  }

  private wakeRetry(): void {
    const w = this.retryWaiter;
    this.retryWaiter = undefined;
    w?.();
  }

  private handshake(attempt: number): Current<P> {
    const { role, factory, lowWaterMark, log } = this.opts;
    const hs = new Handshake<P>({ role, room: this.room, send: (m) => this.send(m), factory, lowWaterMark, log });
    this.current?.hs.fail(connectionError('A newer attempt started.'));
    this.current?.hs.close();
    this.current = { hs, attempt, open: false };
    return this.current;
  }

  /** Run `cur`'s handshake under `keys`, within `timeoutMs`; a stuck stack tells the other side and ends here. */
  private async connect(cur: Current<P>, keys: SessionKeys, timeoutMs: number): Promise<Connected<P>> {
    const { hs, attempt } = cur;
    hs.timer(timeoutMs, () => hs.fail(connectionError(`Reconnection attempt ${attempt} did not connect within ${Math.round(timeoutMs / 1000)} s.`)));
    try {
      return await hs.connect(keys, attempt);
    } catch (e) {
      const err = hs.error ?? (e instanceof MovieShareError ? e : networkError(`The connection failed: ${(e as Error).message}`));
      hs.fail(err);
      hs.close();
      if (hs.stuck) {
        this.send({ kind: 'bye', data: toBase64(utf8('stuck')) });
        throw networkError(STUCK_SENTENCE);
      }
      throw err;
    }
  }

  /** Receiver: attempt `attempt` (2, 3, …), given up after `timeoutMs`. */
  async attempt(attempt: number, timeoutMs: number): Promise<Connected<P>> {
    if (this.ended) throw this.ended;
    await this.join();
    const cur = this.handshake(attempt);
    const nonce = cryptoBackend().randomBytes(NONCE);
    cur.nonce = nonce;
    const answer = new Promise<Uint8Array>((resolve) => (cur.answered = resolve));
    cur.hs.timer(timeoutMs, () => cur.hs.fail(connectionError(`The sender did not answer reconnection attempt ${attempt} within ${Math.round(timeoutMs / 1000)} s.`)));
    this.send({ kind: 'pake', data: toBase64(concatBytes(Uint8Array.of(RETRY), u32(attempt), nonce)) });
    this.opts.log(`reconnection attempt ${attempt}: waiting for the sender`);
    let nonceHost: Uint8Array;
    try {
      nonceHost = await cur.hs.step(answer);
    } catch (e) {
      cur.hs.close();
      throw e;
    }
    return this.connect(cur, deriveAttemptKeys(this.opts.keys.reconnect, attempt, nonceHost, nonce), timeoutMs);
  }

  /**
   * Host: answer the receiver's newest attempt; resolves once it connected.
   * Waits for a retry until `deadline` (ms epoch).
   */
  async answer(deadline: number, timeoutMs: number): Promise<Connected<P>> {
    if (this.ended) throw this.ended;
    await this.join();
    while (!this.retry) {
      const ended = this.endedBy();
      if (ended) throw ended;
      if (!this.signal) throw connectionError('Lost the signaling server while waiting for the receiver.');
      const left = deadline - Date.now();
      if (left <= 0) throw connectionError('The receiver did not come back.');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.retryWaiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    const { attempt, nonce } = this.retry;
    this.retry = undefined;
    const cur = this.handshake(attempt);
    cur.open = true; // everything after our answer belongs to this attempt
    const nonceHost = cryptoBackend().randomBytes(NONCE);
    this.send({ kind: 'pake', data: toBase64(concatBytes(Uint8Array.of(ANSWER), u32(attempt), nonceHost, nonce)) });
    this.opts.log(`reconnection attempt ${attempt}: answered the receiver`);
    return this.connect(cur, deriveAttemptKeys(this.opts.keys.reconnect, attempt, nonceHost, nonce), timeoutMs);
  }

  /** Leave the meeting room. */
  close(): void {
    this.closed = true;
    this.current?.hs.close();
    this.signal?.close();
    this.signal = undefined;
  }
}
