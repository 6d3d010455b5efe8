/**
 * Rendezvous: from a code to an authenticated, encrypted data channel.
 *
 *   host                         signaling server                 receiver
 *    | create ───────────────────────▶ | room id                     |
 *    |   (prints room-w1-w2-w3)        |                  ◀──────── join room
 *    | ◀──────────── peer-joined       |                             |
 *    |  ◀──────────────────────────────|◀────────────── pake: nonce_rcv
 *    | pake: nonce_host ──────────────▶|──────────────────────────▶  |
 *    |  ◀──────────────────────────────|◀──────────────── pake: Y_rcv |
 *    | pake: Y_host ──────────────────▶|──────────────────────────▶  |
 *    |   both: ISK = CPace(code, sid(room, nonces)), keys = HKDF(ISK)|
 *    | pake: MAC_host(Y_h, Y_r) ──────▶|──────────────────────────▶  | check (else exit 4)
 *    | check (else exit 4) ◀───────────|◀────── pake: MAC_rcv(Y_h,Y_r)|
 *    | net: our links, sealed ◀───────▶|◀──────────────────────────▶ | both choose the MTU
 *    | offer (sealed, no candidates) ─▶|──────────────────────────▶  |
 *    |  ◀──────────────────────────────|◀──── answer (sealed, with its candidates)
 *    | candidates (sealed) ───────────▶|──────────────────────────▶  |
 *    |═════════ ICE + DTLS: direct data channel (server not involved) ═════════|
 *
 * rendezvous() below is that diagram as a straight line of steps. What the
 * other side sends arrives whenever it arrives and waits in one queue (the
 * Inbox) until the step that needs it takes it; every step also races the
 * rendezvous' one failure (a timeout, a `bye`, signaling lost, the connection
 * failing), so each await ends in the step's result or in one MovieShareError.
 *
 * The host sends its share only once the receiver's has arrived: a joiner
 * that leaves without sending one (spent no guess; the server makes the room
 * joinable again and tells the host `reopened`) has learnt nothing, and the
 * host simply keeps waiting for the next receiver.
 *
 * The server sees the room id and opaque bytes only. A server that injects
 * its own SDP cannot seal it, so the peers reject it (exit 4); a receiver with
 * the wrong words fails the PAKE confirmation (exit 4) and, because the host
 * takes one attempt per code, a guesser gets exactly one try. What each step
 * accepts (one share, one confirmation, the net hint first, one description,
 * well-formed candidates) and why a server that replays or reorders sealed
 * messages gains nothing: docs/PROTOCOL.md §3, §4 and §9.
 */
import { authError, AUTH_FAILURE_SENTENCE, networkError, MovieShareError, ExitCode } from '../../common/errors.js';
import type { ParsedCode } from '../../common/code/code.js';
import { constantTimeEqual, hmacSha256 } from '../../common/crypto/mac.js';
import { pakeStart, SID_NONCE_BYTES, sessionId } from '../../common/crypto/pake.js';
import { cryptoBackend } from '../../common/crypto/backend.js';
import { open as openSealed, seal, sealedSeq } from '../../common/crypto/seal.js';
import { deriveSessionKeys, type SessionKeys } from '../../common/crypto/session-keys.js';
import type { Role, SignalKind } from '../../common/protocol/signal-protocol.js';
import { sdpFingerprint } from '../../common/crypto/transcript.js';
import { CONNECT_TIMEOUT_MS, DTLS_TIMEOUT_MS } from '../../common/config.js';
import { concatBytes, fromBase64, fromUtf8, isBase64, toBase64, utf8 } from '../../common/bytes.js';
import type SimplePeer from 'simple-peer';
import type { SecureSession } from '../transfer/session.js';
import { Inbox } from './inbox.js';
import type { LinkHint, MtuChoice, PeerFactory, WebRtcPeer } from './peer-factory.js';
import type { SignalClient } from './signal-client.js';
import { splitCandidates, type SdpCandidate } from './sdp.js';

/** The WebRTC signals this protocol exchanges: simple-peer's, without trickle and renegotiation. */
type SignalData = { type: 'offer' | 'answer'; sdp: string } | { type: 'candidate'; candidate: SdpCandidate };

const PAKE_SHARE = 1;
const PAKE_CONFIRM = 2;
/** sent first: this side's random contribution to the CPace session id */
const PAKE_NONCE = 3;
const CONFIRM_LABEL = utf8('movie-share signaling key-confirmation');
/**
 * Messages the other side (or the server) may queue before the step that
 * takes them; and candidates the peer may send in all (simple-peer holds those
 * that precede the description, unbounded, and a real peer has a few dozen).
 */
export const MAX_EARLY_MESSAGES = 256;
export const FLOOD_SENTENCE = 'The other side (or the signaling server) sent more messages than a handshake needs; start again with a new code.';

export interface RendezvousOptions<P extends WebRtcPeer> {
  role: Role;
  code: ParsedCode;
  signal: SignalClient;
  /** this platform's WebRTC */
  factory: PeerFactory<P>;
  lowWaterMark: number;
  connectTimeoutMs?: number;
  /** the verification string, once the PAKE is confirmed */
  onVerified?: (verification: string) => void;
  /** progress notes for --verbose */
  log?: (line: string) => void;
}

export interface Rendezvous<P extends WebRtcPeer> {
  session: SecureSession;
  rtc: P;
  keys: SessionKeys;
  /** the MTU this side's connection uses, and why */
  mtu: MtuChoice;
}

/** The PAKE key-confirmation MAC that `from` sends over both shares (host's first). */
export function pakeConfirmation(k: SessionKeys, from: Role, hostShare: Uint8Array, receiverShare: Uint8Array): Uint8Array {
  return hmacSha256(from === 'host' ? k.confirmHost : k.confirmReceiver, CONFIRM_LABEL, hostShare, receiverShare);
}

/** The CPace sid of this run: from the room and both sides' nonces (common/crypto/pake.ts). */
export function pakeSid(room: string, nonceHost: Uint8Array, nonceReceiver: Uint8Array): Uint8Array {
  return sessionId(room, nonceHost, nonceReceiver);
}

/** A share that comes before the other side's nonce: a movie-share from before nonces (peers keep their order). */
const OLD_PEER_SENTENCE = 'The other side runs an older movie-share, whose key exchange differs from this one; update both and start again with a new code.';

/** The associated data that binds a sealed signal to its kind, room and sender (seal() adds its number). */
export function sealAad(kind: SignalKind, room: string, from: Role): Uint8Array {
  return utf8(`movie-share signal v2|${room}|${from}|${kind}`);
}

/** A `bye` the other side sent: why it gave up. */
function byeError(why: string): MovieShareError {
  if (why === 'auth') return authError(AUTH_FAILURE_SENTENCE);
  if (!why.startsWith('turn:')) return networkError('The other side cancelled the transfer.');
  const reason: Record<string, string> = {
    auth: 'TURN authentication failed there',
    allocation: 'its TURN server did not answer',
  };
  return networkError(
    `The other side could not get a TURN relay address (${reason[why.slice(5)] ?? 'no relay address'}), and it allows only relayed connections (--relay-only). Its TURN settings need fixing; then start again with a new code.`,
  );
}

/** The sealed net hint: our links, so both sides can choose the MTU. */
interface NetHint {
  type: 'net';
  links: unknown;
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
  if (d.type === 'net') return { type: 'net', links: d.links };
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

/** What waits in the inbox: the three PAKE messages by type, and sealed signals by envelope kind. */
type Incoming = { kind: 'nonce' | 'share' | 'confirm'; body: Uint8Array } | { kind: 'sdp' | 'candidate'; data: string };

/** Ends a background loop once the rendezvous is over (not an error). */
const FINISHED = new Error('rendezvous finished');

/**
 * Run the rendezvous for one side. For the host, call after the room exists;
 * it waits for the receiver. For the receiver, call after joining.
 */
export async function rendezvous<P extends WebRtcPeer>(opts: RendezvousOptions<P>): Promise<Rendezvous<P>> {
  const { role, code, signal, factory } = opts;
  const host = role === 'host';
  const other: Role = host ? 'receiver' : 'host';
  const log = opts.log ?? (() => undefined);
  const timeoutMs = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;

  let keys: SessionKeys | undefined;
  let rtc: P | undefined;
  let finished = false;
  /** set when giving up on a connection that may be stuck in native code: it is then left alone */
  let wedged = false;

  // ── the one failure: every step races it ──────────────────────────────
  const flood = (): MovieShareError => networkError(FLOOD_SENTENCE);
  const inbox = new Inbox<Incoming['kind'], Incoming>(MAX_EARLY_MESSAGES, flood);
  let failure: MovieShareError | undefined;
  let rejectFailed!: (e: MovieShareError) => void;
  const failed = new Promise<never>((_, reject) => (rejectFailed = reject));
  failed.catch(() => undefined);
  const fail = (e: MovieShareError): void => {
    if (failure || finished) return;
    failure = e;
    rejectFailed(e);
    inbox.fail(e);
  };
  const step = <T>(p: Promise<T>): Promise<T> => Promise.race([p, failed]);

  // The connect timeout runs once both sides are there: a host waits for its
  // receiver as long as its room lives (the server's idle TTL), not 30 s.
  let connectTimer: ReturnType<typeof setTimeout> | undefined;
  const armConnectTimer = (): void => {
    connectTimer ??= setTimeout(() => {
      // a native stack that never connected may be stuck: leave it alone (see the DTLS bound)
      wedged = rtc !== undefined;
      fail(networkError(keys ? factory.failureMessage('timeout', undefined, timeoutMs) : 'The other side did not answer in time. Check the code and try again.'));
    }, timeoutMs);
  };
  /**
   * ICE connected but no data channel DTLS_TIMEOUT_MS later: the DTLS
   * handshake is stuck, possibly in libdatachannel's lock cycle (see
   * peer/rtc/dtls-role.ts), where even close() would block this thread for
   * good. So we give up without touching the connection; the CLI exits at once.
   */
  let dtlsTimer: ReturnType<typeof setTimeout> | undefined;
  const armDtlsTimer = (): void => {
    dtlsTimer ??= setTimeout(() => {
      wedged = true;
      fail(
        networkError(
          `The direct connection was found, but its encrypted handshake (DTLS) did not complete within ${DTLS_TIMEOUT_MS / 1000} s. Try again${
            factory.relayOnly ? '' : '; if it keeps failing, use a TURN relay (--turn --relay-only)'
          }.`,
        ),
      );
    }, DTLS_TIMEOUT_MS);
  };

  // ── what signaling delivers, whenever it comes ─────────────────────────
  const seen = { nonce: 0, share: 0, confirm: 0 };
  signal.onSignal((m) => {
    if (finished || failure) return;
    if (m.kind === 'bye') return fail(byeError(isBase64(m.data) ? fromUtf8(fromBase64(m.data)) : ''));
    if (m.kind === 'sdp' || m.kind === 'candidate') return inbox.push({ kind: m.kind, data: m.data });
    // pake: the nonce, the share, then the confirmation; one of each per code
    const bytes = isBase64(m.data) ? fromBase64(m.data) : new Uint8Array(0);
    const type = bytes[0] === PAKE_NONCE ? 'nonce' : bytes[0] === PAKE_SHARE ? 'share' : bytes[0] === PAKE_CONFIRM ? 'confirm' : undefined;
    if (type === 'share' && seen.nonce === 0) return fail(new MovieShareError(ExitCode.Other, OLD_PEER_SENTENCE));
    if (!type || ++seen[type] > 1) return fail(authError(AUTH_FAILURE_SENTENCE));
    if (type === 'nonce' && bytes.length !== 1 + SID_NONCE_BYTES) return fail(authError(AUTH_FAILURE_SENTENCE));
    inbox.push({ kind: type, body: bytes.subarray(1) });
  });
  // signaling lost for good (server gone beyond the client's reconnect bound,
  // restarted without our room, or the room expired): say so instead of waiting
  signal.onDisconnect((reason) => {
    fail(networkError(`${reason.replace(/\.$/, '')}. ${host ? 'Run movie-share again for a new code.' : 'Ask the sender for a new code.'}`));
  });
  signal.onPeerLeft(() => {
    if (!rtc) fail(networkError(host ? 'The receiver left before the transfer started.' : 'The sender left before the transfer started. Ask for a new code.'));
  });
  // a joiner left before sending a PAKE message: no guess was spent and we sent nothing; wait for the next one
  signal.onReopened(() => {
    if (!host || finished || failure) return;
    if (seen.nonce + seen.share + seen.confirm > 0) return fail(networkError('The receiver left before the transfer started.'));
    clearTimeout(connectTimer);
    connectTimer = undefined;
    log('a receiver joined and left without checking the code; still waiting for the receiver');
  });
  const peerJoined = host ? new Promise<void>((resolve) => signal.onPeerJoined(resolve)) : Promise.resolve();
  // the connect timeout counts from each receiver's arrival (another may come after a reopened room)
  if (host) signal.onPeerJoined(() => armConnectTimer());

  const sendPake = (type: number, body: Uint8Array): void => signal.send({ kind: 'pake', data: toBase64(concatBytes(Uint8Array.of(type), body)) });
  // Sealed signals are numbered per direction and envelope kind (0, 1, 2, …),
  // the number bound into the AEAD: each side takes the other's in exactly the
  // order they were sent. A number already taken is a replay (or the signaling
  // client's resend of a message that did arrive): dropped. Any other number
  // does not open (exit 4). Per kind, since the inbox hands out each kind on its own.
  const sentSeq = { sdp: 0, candidate: 0 };
  const takenSeq = { sdp: 0, candidate: 0 };
  /** sealing is asynchronous: the sends go out in the order of their numbers */
  let sending: Promise<void> = Promise.resolve();
  const sendSealed = (k: SessionKeys, d: SignalData | NetHint): Promise<void> => {
    const kind: SignalKind = d.type === 'candidate' ? 'candidate' : 'sdp';
    log(`sending sealed ${d.type}`);
    const sealed = seal(host ? k.sealHostToReceiver : k.sealReceiverToHost, utf8(JSON.stringify(d)), sealAad(kind, code.room, role), sentSeq[kind]++);
    sealed.catch(() => undefined); // reported through `sending`
    sending = sending.then(async () => signal.send({ kind, data: await sealed }));
    return sending;
  };
  /** the next sealed signal of envelope `kind`, opened and checked */
  const takeSealed = async (k: SessionKeys, kind: 'sdp' | 'candidate'): Promise<SignalData | NetHint | 'ignore'> => {
    let m = (await step(inbox.take(kind))) as { data: string };
    for (let n = sealedSeq(m.data); n !== undefined && n < takenSeq[kind]; n = sealedSeq(m.data)) {
      log(`ignored a replayed sealed ${kind} signal (number ${n})`);
      m = (await step(inbox.take(kind))) as { data: string };
    }
    const plain = await openSealed(host ? k.sealReceiverToHost : k.sealHostToReceiver, m.data, sealAad(kind, code.room, other), takenSeq[kind]);
    takenSeq[kind]++;
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
  };

  try {
    // 1. both sides are there: the host waits for its receiver as long as the room lives
    await step(peerJoined);
    if (host) log('receiver joined; checking the code');
    armConnectTimer();

    // 2. the PAKE: our nonce, then our share, then our confirmation; the sid is made of both
    //    nonces. The host answers each of the receiver's messages and sends nothing first.
    const myNonce = cryptoBackend().randomBytes(SID_NONCE_BYTES);
    if (!host) sendPake(PAKE_NONCE, myNonce);
    const theirNonce = ((await step(inbox.take('nonce'))) as { body: Uint8Array }).body;
    if (host) sendPake(PAKE_NONCE, myNonce);
    // our own nonce back (reflected by the server) would make both contributions ours
    if (constantTimeEqual(myNonce, theirNonce)) throw authError(AUTH_FAILURE_SENTENCE);
    const sid = host ? pakeSid(code.room, myNonce, theirNonce) : pakeSid(code.room, theirNonce, myNonce);
    const pake = pakeStart({ password: utf8(code.canonical), role, sid });
    if (!host) sendPake(PAKE_SHARE, pake.message);
    const theirShare = ((await step(inbox.take('share'))) as { body: Uint8Array }).body;
    if (host) sendPake(PAKE_SHARE, pake.message);
    const k = (keys = deriveSessionKeys(pake.finish(theirShare)));
    const [hostShare, receiverShare] = host ? [pake.message, theirShare] : [theirShare, pake.message];
    sendPake(PAKE_CONFIRM, pakeConfirmation(k, role, hostShare, receiverShare));
    const theirConfirmation = ((await step(inbox.take('confirm'))) as { body: Uint8Array }).body;
    if (!constantTimeEqual(pakeConfirmation(k, other, hostShare, receiverShare), theirConfirmation)) throw authError(AUTH_FAILURE_SENTENCE);
    opts.onVerified?.(k.verification);

    // 3. net hints: both sides choose the MTU from what they share
    const myLinks: LinkHint[] = factory.localLinks();
    await step(sendSealed(k, { type: 'net', links: myLinks }));
    const hint = await takeSealed(k, 'sdp');
    if (hint === 'ignore' || hint.type !== 'net') throw authError(AUTH_FAILURE_SENTENCE);
    const mtu = factory.chooseMtu(myLinks, hint.links);
    if (!mtu) throw authError(AUTH_FAILURE_SENTENCE);
    log('code confirmed; connecting directly');
    log(`MTU ${mtu.mtu}: ${mtu.reason}`);
    log(factory.describe());

    // 4. WebRTC: one sealed description each way, then the host's candidates
    const r = (rtc = factory.create(host, mtu.mtu));
    const connected = new Promise<void>((resolve) => r.peer.once('connect', () => resolve()));
    const localDescription = new Promise<SignalData>((resolve) =>
      r.peer.on('signal', (d: { type?: string; sdp?: string }) => {
        if ((d.type === 'offer' || d.type === 'answer') && typeof d.sdp === 'string') resolve({ type: d.type, sdp: d.sdp });
      }),
    );
    let iceState = '';
    r.peer.on('iceStateChange', (state: string) => {
      if (state !== iceState) log(`ICE ${(iceState = state)}`);
      if (state === 'connected' || state === 'completed') armDtlsTimer();
    });
    r.peer.on('error', (e: Error & { code?: string }) =>
      fail(
        networkError(
          e.code === 'ERR_ICE_CONNECTION_FAILURE' || e.code === 'ERR_CONNECTION_FAILURE'
            ? factory.failureMessage('failed', e.message.replace(/\.$/, ''))
            : `The direct connection failed (${e.message}). Check firewalls, or use a TURN relay (--turn).`,
        ),
      ),
    );
    r.peer.on('close', () => fail(networkError('The direct connection closed before the transfer started.')));

    // the other side's candidates, applied as they come (simple-peer holds
    // those that precede the description); a repeated description is dropped
    let candidates = 0;
    const pump = async (kind: 'sdp' | 'candidate'): Promise<void> => {
      for (;;) {
        const d = await takeSealed(k, kind);
        if (d === 'ignore') continue;
        if (d.type === 'net') throw authError(AUTH_FAILURE_SENTENCE);
        if (d.type !== 'candidate') {
          log(`ignored a repeated ${d.type}`);
          continue;
        }
        if (++candidates > MAX_EARLY_MESSAGES) throw flood();
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
        if (e !== FINISHED && e !== failure) fail(e instanceof MovieShareError ? e : authError(AUTH_FAILURE_SENTENCE));
      });
    };
    background(pump('candidate'));

    /** our own description: checked for the relay, sent sealed */
    const sendDescription = async (d: SignalData): Promise<void> => {
      const gathered = factory.checkGathered(d.type === 'candidate' ? '' : d.sdp);
      log(gathered.summary);
      if (gathered.relayProblem) {
        if (gathered.fatal) {
          // without a relay candidate the relay policy cannot connect: say why now, not after ICE's ~40 s
          const { why, message } = await step(gathered.relayProblem);
          signal.send({ kind: 'bye', data: toBase64(utf8(`turn:${why}`)) });
          throw networkError(message);
        }
        void gathered.relayProblem.then(({ message }) => log(`warning: ${message}`));
      }
      if (d.type !== 'offer') return step(sendSealed(k, d));
      // The offer goes without its candidates; they follow once the answer is
      // applied: the receiver cannot start ICE checks before we hold its
      // answer. libjuice (node-datachannel 0.33) would otherwise reset its
      // remote candidates under an already-learned peer-reflexive pair and
      // report the wrong selected pair (e.g. `host` for a path through TURN).
      const split = splitCandidates(d.sdp);
      await step(sendSealed(k, { type: 'offer', sdp: factory.prepareOffer(split.sdp) }));
      const answer = await takeSealed(k, 'sdp');
      if (answer === 'ignore' || answer.type !== 'answer') throw authError(AUTH_FAILURE_SENTENCE);
      r.peer.signal(answer);
      background(pump('sdp'));
      for (const c of split.candidates) await step(sendSealed(k, { type: 'candidate', candidate: c }));
    };
    if (host) {
      await sendDescription(await step(localDescription));
    } else {
      const offer = await takeSealed(k, 'sdp');
      if (offer === 'ignore' || offer.type !== 'offer') throw authError(AUTH_FAILURE_SENTENCE);
      r.peer.signal(offer);
      background(pump('sdp'));
      await sendDescription(await step(localDescription));
    }

    // 5. connected: the data channel is open
    await step(connected);
    const localFp = sdpFingerprint(r.localSdp());
    const remoteFp = sdpFingerprint(r.remoteSdp());
    const channel = r.channel(opts.lowWaterMark);
    finished = true;
    clearTimeout(connectTimer);
    clearTimeout(dtlsTimer);
    inbox.fail(FINISHED);
    // the selected pair is final once ICE completes; usually within ms
    const t0 = Date.now();
    await r.settled();
    log(`ICE settled ${Date.now() - t0} ms after the channel opened`);
    return {
      rtc: r,
      keys: k,
      mtu,
      session: {
        channel,
        confirmHost: k.confirmHost,
        confirmReceiver: k.confirmReceiver,
        hostFingerprint: host ? localFp : remoteFp,
        receiverFingerprint: host ? remoteFp : localFp,
      },
    };
  } catch (e) {
    const err = failure ?? (e instanceof MovieShareError ? e : networkError(`The connection failed: ${(e as Error).message}`));
    fail(err);
    finished = true;
    clearTimeout(connectTimer);
    clearTimeout(dtlsTimer);
    if (err.exitCode === ExitCode.Auth) {
      try {
        signal.send({ kind: 'bye', data: toBase64(utf8('auth')) });
      } catch {
        // signaling is gone; the other side will notice on its own
      }
    }
    if (!wedged) rtc?.peer.destroy();
    throw err;
  }
}
