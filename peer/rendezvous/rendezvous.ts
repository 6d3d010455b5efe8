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
 * rendezvous() below is that diagram as a straight line of steps: the PAKE
 * here, then the first attempt at a data channel (handshake.ts: net hints,
 * descriptions, candidates, ICE and DTLS). What the other side sends arrives
 * whenever it arrives and waits in one queue (the Inbox) until the step that
 * needs it takes it; every step also races the rendezvous' one failure (a
 * timeout, a `bye`, signaling lost, the connection failing), so each await
 * ends in the step's result or in one MovieShareError. When the first attempt
 * fails for a reason the peers can survive (the error is `recoverable`), the
 * keys are kept (`RendezvousFailure`) and the peers meet again (meeting.ts).
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
import { deriveSessionKeys, type SessionKeys } from '../../common/crypto/session-keys.js';
import type { Role } from '../../common/protocol/signal-protocol.js';
import { CONNECT_TIMEOUT_MS } from '../../common/config.js';
import { concatBytes, fromBase64, fromUtf8, isBase64, toBase64, utf8 } from '../../common/bytes.js';
import { Handshake, type Connected } from './handshake.js';
import type { PeerFactory, WebRtcPeer } from './peer-factory.js';
import type { SignalClient } from './signal-client.js';

export { FLOOD_SENTENCE, MAX_EARLY_MESSAGES, parsePeerSignal, sealAad } from './handshake.js';

const PAKE_SHARE = 1;
const PAKE_CONFIRM = 2;
/** sent first: this side's random contribution to the CPace session id */
const PAKE_NONCE = 3;
const CONFIRM_LABEL = utf8('movie-share signaling key-confirmation');

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

export interface Rendezvous<P extends WebRtcPeer> extends Connected<P> {
  keys: SessionKeys;
}

/**
 * The first attempt failed after the PAKE, for a reason the peers can survive
 * (`failure.recoverable`): the keys both sides share, to meet again with
 * (meeting.ts). `stuck`: this process's WebRTC may be blocked for good.
 */
export class RendezvousFailure extends MovieShareError {
  constructor(
    readonly failure: MovieShareError,
    readonly keys: SessionKeys,
    readonly stuck: boolean,
  ) {
    super(failure.exitCode, failure.message, { cause: failure, recoverable: true });
  }
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

/** A `bye` the other side sent: why it gave up. */
export function byeError(why: string): MovieShareError {
  if (why === 'auth') return authError(AUTH_FAILURE_SENTENCE);
  if (why === 'stuck') return networkError('The other side’s WebRTC stack got stuck in the encrypted handshake (DTLS) and cannot try again; run both commands again to resume.');
  if (!why.startsWith('turn:')) return networkError('The other side cancelled the transfer.');
  const reason: Record<string, string> = {
    auth: 'TURN authentication failed there',
    allocation: 'its TURN server did not answer',
  };
  return networkError(
    `The other side could not get a TURN relay address (${reason[why.slice(5)] ?? 'no relay address'}), and it allows only relayed connections (--relay-only). Its TURN settings need fixing; then start again with a new code.`,
  );
}

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
  const hs = new Handshake<P>({ role, room: code.room, send: (m) => signal.send(m), factory, lowWaterMark: opts.lowWaterMark, log });
  const { inbox } = hs;
  let keys: SessionKeys | undefined;
  let connecting = false;

  // The connect timeout runs once both sides are there: a host waits for its
  // receiver as long as its room lives (the server's idle TTL), not 30 s.
  let connectTimer: ReturnType<typeof setTimeout> | undefined;
  const armConnectTimer = (): void => {
    connectTimer ??= hs.timer(timeoutMs, () => {
      hs.fail(
        keys
          ? new MovieShareError(ExitCode.Network, factory.failureMessage('timeout', undefined, timeoutMs), { recoverable: true })
          : networkError('The other side did not answer in time. Check the code and try again.'),
      );
    });
  };

  // ── what signaling delivers, whenever it comes ─────────────────────────
  const seen = { nonce: 0, share: 0, confirm: 0 };
  signal.onSignal((m) => {
    if (hs.error) return;
    if (m.kind === 'bye') return hs.fail(byeError(isBase64(m.data) ? fromUtf8(fromBase64(m.data)) : ''));
    if (m.kind === 'sdp' || m.kind === 'candidate') return inbox.push({ kind: m.kind, data: m.data });
    // pake: the nonce, the share, then the confirmation; one of each per code
    const bytes = isBase64(m.data) ? fromBase64(m.data) : new Uint8Array(0);
    const type = bytes[0] === PAKE_NONCE ? 'nonce' : bytes[0] === PAKE_SHARE ? 'share' : bytes[0] === PAKE_CONFIRM ? 'confirm' : undefined;
    if (type === 'share' && seen.nonce === 0) return hs.fail(new MovieShareError(ExitCode.Other, OLD_PEER_SENTENCE));
    if (!type || ++seen[type] > 1) return hs.fail(authError(AUTH_FAILURE_SENTENCE));
    if (type === 'nonce' && bytes.length !== 1 + SID_NONCE_BYTES) return hs.fail(authError(AUTH_FAILURE_SENTENCE));
    inbox.push({ kind: type, body: bytes.subarray(1) });
  });
  // signaling lost for good (server gone beyond the client's reconnect bound,
  // restarted without our room, or the room expired): say so instead of waiting.
  // Once the keys are agreed the peers can still meet again (meeting.ts).
  signal.onDisconnect((reason) => {
    const sentence = `${reason.replace(/\.$/, '')}. ${host ? 'Run movie-share again for a new code.' : 'Ask the sender for a new code.'}`;
    hs.fail(new MovieShareError(ExitCode.Network, sentence, { recoverable: connecting }));
  });
  signal.onPeerLeft(() => {
    if (!connecting) hs.fail(networkError(host ? 'The receiver left before the transfer started.' : 'The sender left before the transfer started. Ask for a new code.'));
  });
  // a joiner left before sending a PAKE message: no guess was spent and we sent nothing; wait for the next one
  signal.onReopened(() => {
    if (!host || hs.error) return;
    if (seen.nonce + seen.share + seen.confirm > 0) return hs.fail(networkError('The receiver left before the transfer started.'));
    hs.clearTimer(connectTimer);
    connectTimer = undefined;
    log('a receiver joined and left without checking the code; still waiting for the receiver');
  });
  const peerJoined = host ? new Promise<void>((resolve) => signal.onPeerJoined(resolve)) : Promise.resolve();
  // the connect timeout counts from each receiver's arrival (another may come after a reopened room)
  if (host) signal.onPeerJoined(() => armConnectTimer());

  const sendPake = (type: number, body: Uint8Array): void => signal.send({ kind: 'pake', data: toBase64(concatBytes(Uint8Array.of(type), body)) });
  const take = async (kind: 'nonce' | 'share' | 'confirm'): Promise<Uint8Array> => ((await hs.step(inbox.take(kind))) as { body: Uint8Array }).body;

  try {
    // 1. both sides are there: the host waits for its receiver as long as the room lives
    await hs.step(peerJoined);
    if (host) log('receiver joined; checking the code');
    armConnectTimer();

    // 2. the PAKE: our nonce, then our share, then our confirmation; the sid is made of both
    //    nonces. The host answers each of the receiver's messages and sends nothing first.
    const myNonce = cryptoBackend().randomBytes(SID_NONCE_BYTES);
    if (!host) sendPake(PAKE_NONCE, myNonce);
    const theirNonce = await take('nonce');
    if (host) sendPake(PAKE_NONCE, myNonce);
    // our own nonce back (reflected by the server) would make both contributions ours
    if (constantTimeEqual(myNonce, theirNonce)) throw authError(AUTH_FAILURE_SENTENCE);
    const sid = host ? pakeSid(code.room, myNonce, theirNonce) : pakeSid(code.room, theirNonce, myNonce);
    const pake = pakeStart({ password: utf8(code.canonical), role, sid });
    if (!host) sendPake(PAKE_SHARE, pake.message);
    const theirShare = await take('share');
    if (host) sendPake(PAKE_SHARE, pake.message);
    const k = (keys = deriveSessionKeys(pake.finish(theirShare)));
    const [hostShare, receiverShare] = host ? [pake.message, theirShare] : [theirShare, pake.message];
    sendPake(PAKE_CONFIRM, pakeConfirmation(k, role, hostShare, receiverShare));
    const theirConfirmation = await take('confirm');
    if (!constantTimeEqual(pakeConfirmation(k, other, hostShare, receiverShare), theirConfirmation)) throw authError(AUTH_FAILURE_SENTENCE);
    opts.onVerified?.(k.verification);
    log('code confirmed; connecting directly');

    // 3.–5. net hints, descriptions, candidates, ICE and DTLS: the first attempt
    connecting = true;
    const c = await hs.connect(k, 1);
    return { ...c, keys: k };
  } catch (e) {
    const err = hs.error ?? (e instanceof MovieShareError ? e : networkError(`The connection failed: ${(e as Error).message}`));
    hs.fail(err);
    hs.close();
    if (err.exitCode === ExitCode.Auth || hs.stuck) {
      try {
        signal.send({ kind: 'bye', data: toBase64(utf8(hs.stuck ? 'stuck' : 'auth')) });
      } catch {
        // signaling is gone; the other side will notice on its own
      }
    }
    if (keys && err.recoverable) throw new RendezvousFailure(err, keys, hs.stuck);
    throw err;
  }
}
