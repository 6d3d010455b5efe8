/**
 * One attempt at a data channel, once both sides share keys: what the first
 * rendezvous (rendezvous.ts, after the PAKE) and every reconnection
 * (meeting.ts, after its nonces) run the same way.
 *
 *    net hint (sealed) ◀──────▶ net hint (sealed)      both choose the MTU and the path plan
 *    offer (sealed, no candidates) ──────▶
 *    ◀────── answer (sealed, with its candidates)
 *    candidates (sealed) ──────▶
 *    ═══ ICE + DTLS: the data channel ═══
 *
 * A Handshake owns the attempt's one queue (the Inbox: what signaling
 * delivers waits there until a step takes it), its one failure (every step
 * races it, so each await ends in the step's result or one MovieShareError),
 * its timers and its WebRTC connection. Failures of the connection itself
 * (ICE failed or too slow, DTLS stuck, closed) are `recoverable`: the peers
 * may try again; a message that does not open, or a peer that breaks the
 * protocol, is not (exit 4).
 *
 * The path plan (docs/PROTOCOL.md §4): with a TURN relay only as a fallback,
 * attempts alternate between `direct` (no relay candidates at all) and
 * `relay` (relayed, the host the DTLS client), so that the DTLS server is
 * always the side whose ICE connects first. The other order runs into
 * libdatachannel 0.24's lock cycle (peer/rtc/dtls-role.ts), which blocks the
 * native stack of the whole process for good.
 */
import { authError, AUTH_FAILURE_SENTENCE, connectionError, MovieShareError, networkError } from '../../common/errors.js';
import { open as openSealed, seal, sealedSeq } from '../../common/crypto/seal.js';
import type { SessionKeys } from '../../common/crypto/session-keys.js';
import type { Role, SignalKind, SignalPayload } from '../../common/protocol/signal-protocol.js';
import { sdpFingerprint } from '../../common/crypto/transcript.js';
import { fromUtf8, toBase64, utf8 } from '../../common/bytes.js';
import { DIRECT_ATTEMPT_MS, DTLS_STALL_MS, DTLS_TIMEOUT_MS } from '../../common/config.js';
import type SimplePeer from 'simple-peer';
import type { SecureSession } from '../transfer/session.js';
import { MAX_STREAMS } from '../transfer/stripes.js';
import { Inbox } from './inbox.js';
import type { LinkHint, MtuChoice, PathPlan, PeerFactory, WebRtcPeer } from './peer-factory.js';
import { splitCandidates, type SdpCandidate } from './sdp.js';

/** The WebRTC signals this protocol exchanges: simple-peer's, without trickle and renegotiation. */
type SignalData = { type: 'offer' | 'answer'; sdp: string } | { type: 'candidate'; candidate: SdpCandidate };

/**
 * Messages the other side (or the server) may queue before the step that
 * takes them; and candidates the peer may send in all (simple-peer holds those
 * that precede the description, unbounded, and a real peer has a few dozen).
 */
export const MAX_EARLY_MESSAGES = 256;
export const FLOOD_SENTENCE = 'The other side (or the signaling server) sent more messages than a handshake needs; start again with a new code.';

/** The associated data that binds a sealed signal to its kind, room and sender (seal() adds its number). */
export function sealAad(kind: SignalKind, room: string, from: Role): Uint8Array {
  return utf8(`movie-share signal v2|${room}|${from}|${kind}`);
}

/** The sealed net hint: our links (so both sides can choose the MTU), and whether we can use a TURN relay. */
interface NetHint {
  type: 'net';
  links: unknown;
  /** this side's same-host value (peer/rtc/path-mtu.ts), checked by the factory's chooseMtu */
  host?: unknown;
  /** this side has a TURN server */
  turn?: boolean;
  /** this side allows only relayed connections */
  relayOnly?: boolean;
  /**
   * the most connections this side carries a transfer over (the primary
   * included; peer/transfer/stripes.ts); absent: it does not stripe at all
   */
  streams?: number;
}

/**
 * What the other side may send us, sealed, after the PAKE: its net hint, the
 * one description its role sends (the host an offer, the receiver an answer),
 * and candidates. Anything else from an authenticated peer is a protocol
 * violation (exit 4); a candidate whose line is not a candidate is dropped
 * ('ignore'), since the WebRTC stack would refuse it.
 */
export function parsePeerSignal(data: unknown, from: Role): SignalData | NetHint | 'ignore' {
  if (typeof data !== 'object' || data === null) throw authError(AUTH_FAILURE_SENTENCE);
  const d = data as Record<string, unknown>;
  if (d.type === 'net') {
    const streams = typeof d.streams === 'number' && Number.isInteger(d.streams) && d.streams >= 1 ? Math.min(d.streams, MAX_STREAMS) : undefined;
    return { type: 'net', links: d.links, host: d.host, turn: d.turn === true, relayOnly: d.relayOnly === true, ...(streams === undefined ? {} : { streams }) };
  }
  // simple-peer's request for a new offer: one offer and one answer are all this protocol uses
  if (d.type === 'renegotiate' || d.renegotiate === true) return 'ignore';
  const description = from === 'host' ? 'offer' : 'answer';
  if (d.type === description) {
    if (typeof d.sdp !== 'string') throw authError(AUTH_FAILURE_SENTENCE);
    return { type: description, sdp: d.sdp };
  }
  if (d.type === 'candidate') {
    const c = d.candidate as Record<string, unknown> | null;
    if (typeof c !== 'object' || c === null) return 'ignore';
    const { candidate, sdpMid, sdpMLineIndex } = c;
    if (typeof candidate !== 'string' || !/^candidate:\S+ \d+ \S+ \d+ \S+ \d+ typ \S+/.test(candidate)) return 'ignore';
    if (typeof sdpMid !== 'string' || sdpMid.length > 16) return 'ignore';
    return { type: 'candidate', candidate: { candidate, sdpMid, sdpMLineIndex: typeof sdpMLineIndex === 'number' ? sdpMLineIndex : 0 } };
  }
  throw authError(AUTH_FAILURE_SENTENCE);
}

/** What each side can do about relays, from its net hint. */
export interface RelayAbility {
  turn: boolean;
  relayOnly: boolean;
}

/**
 * The path plan of attempt `attempt` (1, 2, …), the same on both sides:
 * `relay` when either side allows only relayed connections; `any` when
 * neither has a relay; else, with a relay as a fallback, `direct` on odd
 * attempts and `relay` on even ones (see the module comment).
 */
export function pathPlan(attempt: number, a: RelayAbility, b: RelayAbility): PathPlan {
  if (a.relayOnly || b.relayOnly) return 'relay';
  if (!a.turn && !b.turn) return 'any';
  return attempt % 2 === 1 ? 'direct' : 'relay';
}

/** What waits in the inbox: PAKE (or reconnection) messages by type, and sealed signals by envelope kind. */
export type Incoming = { kind: 'nonce' | 'share' | 'confirm'; body: Uint8Array } | { kind: 'sdp' | 'candidate'; data: string };

/** Ends a background loop once the attempt is over (not an error). */
const FINISHED = new Error('handshake finished');

export interface HandshakeOptions<P extends WebRtcPeer> {
  role: Role;
  /** the room this attempt's sealed signals are bound to (the code's room, or the meeting room) */
  room: string;
  /** sends to the other side through signaling */
  send: (m: SignalPayload) => void;
  factory: PeerFactory<P>;
  lowWaterMark: number;
  log: (line: string) => void;
}

/** The result of an attempt: the secure session the transfer runs on, and what the CLI reports. */
export interface Connected<P extends WebRtcPeer> {
  session: SecureSession;
  rtc: P;
  /** the MTU this side's connection uses, and why */
  mtu: MtuChoice;
  /**
   * both sides stripe (peer/transfer/stripes.ts): the most connections the
   * other side takes; undefined when either side does not stripe
   */
  peerStreams?: number;
}

export class Handshake<P extends WebRtcPeer> {
  readonly inbox: Inbox<Incoming['kind'], Incoming>;
  private failure: MovieShareError | undefined;
  private rejectFailed!: (e: MovieShareError) => void;
  private readonly failed: Promise<never>;
  private finished = false;
  private rtc: P | undefined;
  /** set when giving up on a connection that may be stuck in native code: it is then never touched again */
  private wedged = false;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly sentSeq = { sdp: 0, candidate: 0 };
  private readonly takenSeq = { sdp: 0, candidate: 0 };
  /** sealing is asynchronous: the sends go out in the order of their numbers */
  private sending: Promise<void> = Promise.resolve();

  constructor(private readonly opts: HandshakeOptions<P>) {
    this.inbox = new Inbox<Incoming['kind'], Incoming>(MAX_EARLY_MESSAGES, () => this.flood());
    this.failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));
    this.failed.catch(() => undefined);
  }

  private flood(): MovieShareError {
    return networkError(FLOOD_SENTENCE);
  }

  /** The error that ended this attempt, if one did. */
  get error(): MovieShareError | undefined {
    return this.failure;
  }

  /** A native connection of this attempt may be stuck for good: this process must not start another. */
  get stuck(): boolean {
    return this.wedged;
  }

  /** End the attempt with `e` (the first failure wins; nothing after success). */
  fail(e: MovieShareError): void {
    if (this.failure || this.finished) return;
    this.failure = e;
    this.rejectFailed(e);
    this.inbox.fail(e);
  }

  /** `p`, unless the attempt fails first. */
  step<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.failed]);
  }

  /** A timer that ends with the attempt. */
  timer(ms: number, fire: () => void): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fire();
    }, ms);
    this.timers.add(t);
    return t;
  }

  clearTimer(t: ReturnType<typeof setTimeout> | undefined): void {
    if (t === undefined) return;
    clearTimeout(t);
    this.timers.delete(t);
  }

  /**
   * After a failure: stop the timers, drop the queue and close the connection,
   * unless it may be stuck in native code (closing it would block this thread).
   */
  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.inbox.fail(this.failure ?? FINISHED);
    if (!this.finished && !this.wedged) this.rtc?.peer.destroy();
  }

  // Sealed signals are numbered per direction and envelope kind (0, 1, 2, …),
  // the number bound into the AEAD: each side takes the other's in exactly the
  // order they were sent. A number already taken is a replay (or the signaling
  // client's resend of a message that did arrive): dropped. Any other number
  // does not open (exit 4). Per kind, since the inbox hands out each kind on its own.
  private sendSealed(k: SessionKeys, d: SignalData | NetHint): Promise<void> {
    const { role, room, send, log } = this.opts;
    const kind: SignalKind = d.type === 'candidate' ? 'candidate' : 'sdp';
    log(`sending sealed ${d.type}`);
    const sealed = seal(role === 'host' ? k.sealHostToReceiver : k.sealReceiverToHost, utf8(JSON.stringify(d)), sealAad(kind, room, role), this.sentSeq[kind]++);
    sealed.catch(() => undefined); // reported through `sending`
    this.sending = this.sending.then(async () => send({ kind, data: await sealed }));
    return this.sending;
  }

  /** the next sealed signal of envelope `kind`, opened and checked */
  private async takeSealed(k: SessionKeys, kind: 'sdp' | 'candidate'): Promise<SignalData | NetHint | 'ignore'> {
    const { role, room, log } = this.opts;
    const other: Role = role === 'host' ? 'receiver' : 'host';
    let m = (await this.step(this.inbox.take(kind))) as { data: string };
    for (let n = sealedSeq(m.data); n !== undefined && n < this.takenSeq[kind]; n = sealedSeq(m.data)) {
      log(`ignored a replayed sealed ${kind} signal (number ${n})`);
      m = (await this.step(this.inbox.take(kind))) as { data: string };
    }
    const plain = await openSealed(role === 'host' ? k.sealReceiverToHost : k.sealHostToReceiver, m.data, sealAad(kind, room, other), this.takenSeq[kind]);
    this.takenSeq[kind]++;
    let data: unknown;
    try {
      data = JSON.parse(fromUtf8(plain));
    } catch {
      throw authError(AUTH_FAILURE_SENTENCE);
    }
    const parsed = parsePeerSignal(data, other);
    if (parsed === 'ignore') log('ignored a malformed candidate or a renegotiation request from the other side');
    else log(`received sealed ${parsed.type}`);
    return parsed;
  }

  /**
   * Net hints, then one sealed description each way and the host's
   * candidates, then ICE and DTLS, under the keys `k`. Resolves once the data
   * channel is open. `attempt` (1, 2, …) picks the path plan.
   */
  async connect(k: SessionKeys, attempt: number): Promise<Connected<P>> {
    const { role, factory, log } = this.opts;
    const host = role === 'host';

    // net hints: both sides choose the MTU and the path plan from what they say
    const myLinks: LinkHint[] = factory.localLinks();
    const myHost = factory.hostValue(k.sameHost);
    const mine: RelayAbility = { turn: factory.hasTurn, relayOnly: factory.relayOnly };
    const myStreams = factory.streams === undefined ? {} : { streams: factory.streams };
    await this.step(this.sendSealed(k, { type: 'net', links: myLinks, ...(myHost === undefined ? {} : { host: myHost }), ...mine, ...myStreams }));
    const hint = await this.takeSealed(k, 'sdp');
    if (hint === 'ignore' || hint.type !== 'net') throw authError(AUTH_FAILURE_SENTENCE);
    const mtu = factory.chooseMtu(myLinks, hint.links, { mine: myHost, theirs: hint.host });
    if (!mtu) throw authError(AUTH_FAILURE_SENTENCE);
    const theirs: RelayAbility = { turn: hint.turn === true, relayOnly: hint.relayOnly === true };
    const peerStreams = factory.streams === undefined ? undefined : hint.streams;
    const plan = pathPlan(attempt, mine, theirs);
    const fallback = plan === 'direct'; // a relay waits if this fails
    log(`attempt ${attempt}: path ${plan}; MTU ${mtu.mtu}: ${mtu.reason}`);
    log(factory.describe(plan));

    // WebRTC: one sealed description each way, then the host's candidates
    const r = (this.rtc = factory.create(host, mtu.mtu, plan, peerStreams));
    const connected = new Promise<void>((resolve) => r.peer.once('connect', () => resolve()));
    const localDescription = new Promise<SignalData>((resolve) =>
      r.peer.on('signal', (d: { type?: string; sdp?: string }) => {
        if ((d.type === 'offer' || d.type === 'answer') && typeof d.sdp === 'string') resolve({ type: d.type, sdp: d.sdp });
      }),
    );
    /** which side is the DTLS server: known once both descriptions are applied */
    let dtlsServer = false;
    let iceState = '';
    let dtlsTimer: ReturnType<typeof setTimeout> | undefined;
    r.peer.on('iceStateChange', (state: string) => {
      if (state !== iceState) log(`ICE ${(iceState = state)}`);
      if ((state === 'connected' || state === 'completed') && !dtlsTimer) {
        // ICE connected but no data channel soon after: the DTLS handshake is
        // stuck, possibly in libdatachannel's lock cycle, which only the DTLS
        // server can be caught in and which blocks its whole native stack
        // (peer/rtc/dtls-role.ts). The client gives up early and tries again;
        // the server waits longer, then gives up without touching anything.
        const ms = dtlsServer ? DTLS_TIMEOUT_MS : DTLS_STALL_MS;
        dtlsTimer = this.timer(ms, () => {
          this.wedged = dtlsServer;
          this.fail(
            connectionError(
              `The direct connection was found, but its encrypted handshake (DTLS) did not complete within ${ms / 1000} s. Try again${
                factory.relayOnly ? '' : '; if it keeps failing, use a TURN relay (--turn --relay-only)'
              }.`,
            ),
          );
        });
      }
    });
    r.peer.on('error', (e: Error & { code?: string }) =>
      this.fail(
        connectionError(
          e.code === 'ERR_ICE_CONNECTION_FAILURE' || e.code === 'ERR_CONNECTION_FAILURE'
            ? factory.failureMessage('failed', e.message.replace(/\.$/, ''))
            : `The direct connection failed (${e.message}). Check firewalls, or use a TURN relay (--turn).`,
        ),
      ),
    );
    r.peer.on('close', () => this.fail(connectionError('The direct connection closed before the transfer started.')));

    // the other side's candidates, applied as they come (simple-peer holds
    // those that precede the description); a repeated description is dropped
    let candidates = 0;
    const pump = async (kind: 'sdp' | 'candidate'): Promise<void> => {
      for (;;) {
        const d = await this.takeSealed(k, kind);
        if (d === 'ignore') continue;
        if (d.type === 'net') throw authError(AUTH_FAILURE_SENTENCE);
        if (d.type !== 'candidate') {
          log(`ignored a repeated ${d.type}`);
          continue;
        }
        if (++candidates > MAX_EARLY_MESSAGES) throw this.flood();
        try {
          // simple-peer types a candidate as the DOM's RTCIceCandidate; it only reads these three fields
          r.peer.signal(d as SimplePeer.SignalData);
        } catch {
          // a stale candidate (before/after its transport): harmless
        }
      }
    };
    const background = (p: Promise<void>): void => {
      p.catch((e: unknown) => {
        if (e !== FINISHED && e !== this.failure) this.fail(e instanceof MovieShareError ? e : authError(AUTH_FAILURE_SENTENCE));
      });
    };
    background(pump('candidate'));
    /** ICE must connect this soon once the descriptions are applied; sooner when a relay is the fallback */
    const armIceTimer = (): void => {
      if (!fallback) return; // the caller's own timeout bounds the rest
      this.timer(DIRECT_ATTEMPT_MS, () => {
        if (!dtlsTimer) this.fail(connectionError(factory.failureMessage('timeout', undefined, DIRECT_ATTEMPT_MS)));
      });
    };

    /** our own description: checked for the relay, sent sealed */
    const sendDescription = async (d: SignalData): Promise<void> => {
      const gathered = factory.checkGathered(d.type === 'candidate' ? '' : d.sdp, plan);
      log(gathered.summary);
      if (gathered.relayProblem) {
        if (gathered.fatal) {
          // without a relay candidate the relay policy cannot connect: say why now, not after ICE's ~40 s
          const { why, message } = await this.step(gathered.relayProblem);
          this.opts.send({ kind: 'bye', data: toBase64(utf8(`turn:${why}`)) });
          throw networkError(message);
        }
        void gathered.relayProblem.then(({ message }) => log(`warning: ${message}`));
      }
      if (d.type !== 'offer') return this.step(this.sendSealed(k, d));
      // The offer goes without its candidates; they follow once the answer is
      // applied: the receiver cannot start ICE checks before we hold its
      // answer. libjuice (node-datachannel 0.33) would otherwise reset its
      // remote candidates under an already-learned peer-reflexive pair and
      // report the wrong selected pair (e.g. `host` for a path through TURN).
      const split = splitCandidates(d.sdp);
      const offer = factory.prepareOffer(split.sdp, plan);
      await this.step(this.sendSealed(k, { type: 'offer', sdp: offer }));
      const answer = await this.takeSealed(k, 'sdp');
      if (answer === 'ignore' || answer.type !== 'answer') throw authError(AUTH_FAILURE_SENTENCE);
      dtlsServer = /^a=setup:active/m.test(answer.sdp);
      r.peer.signal(answer);
      armIceTimer();
      background(pump('sdp'));
      for (const c of split.candidates) await this.step(this.sendSealed(k, { type: 'candidate', candidate: c }));
    };
    if (host) {
      await sendDescription(await this.step(localDescription));
    } else {
      const offer = await this.takeSealed(k, 'sdp');
      if (offer === 'ignore' || offer.type !== 'offer') throw authError(AUTH_FAILURE_SENTENCE);
      // the receiver is the DTLS server when the host's offer made itself the client
      dtlsServer = /^a=setup:active/m.test(offer.sdp);
      r.peer.signal(offer);
      background(pump('sdp'));
      await sendDescription(await this.step(localDescription));
      armIceTimer();
    }

    // connected: the data channel is open
    await this.step(connected);
    const localFp = sdpFingerprint(r.localSdp());
    const remoteFp = sdpFingerprint(r.remoteSdp());
    const channel = r.channel(this.opts.lowWaterMark);
    this.finished = true;
    this.close();
    // the selected pair is final once ICE completes; usually within ms
    const t0 = Date.now();
    await r.settled();
    log(`ICE settled ${Date.now() - t0} ms after the channel opened`);
    return {
      rtc: r,
      mtu,
      ...(peerStreams === undefined ? {} : { peerStreams }),
      session: {
        channel,
        confirmHost: k.confirmHost,
        confirmReceiver: k.confirmReceiver,
        hostFingerprint: host ? localFp : remoteFp,
        receiverFingerprint: host ? remoteFp : localFp,
      },
    };
  }
}
