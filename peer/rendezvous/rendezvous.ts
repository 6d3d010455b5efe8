/**
 * Rendezvous: from a code to an authenticated, encrypted data channel.
 *
 *   host                         signaling server                 receiver
 *    | create ───────────────────────▶ | room id                     |
 *    |   (prints room-w1-w2-w3)        |                  ◀──────── join room
 *    | ◀──────────── peer-joined       |                             |
 *    | pake: Y_host ──────────────────▶|──────────────────────────▶  |
 *    |  ◀──────────────────────────────|◀──────────────── pake: Y_rcv |
 *    |   both: ISK = CPace(code, room), keys = HKDF(ISK)             |
 *    | pake: MAC_host(Y_h, Y_r) ──────▶|──────────────────────────▶  | check (else exit 4)
 *    | check (else exit 4) ◀───────────|◀────── pake: MAC_rcv(Y_h,Y_r)|
 *    | net: our links, sealed ◀───────▶|◀──────────────────────────▶ | both choose the MTU (path-mtu.ts)
 *    | offer / answer (SDP with all candidates), sealed under the PAKE keys ◀───▶ |
 *    |═════════ ICE + DTLS: direct data channel (server not involved) ═════════|
 *
 * The server sees the room id and opaque bytes only. A server that injects
 * its own SDP cannot seal it, so the peers reject it (exit 4); a receiver with
 * the wrong words fails the PAKE confirmation (exit 4) and, because the host
 * takes one attempt per code, a guesser gets exactly one try.
 */
import type { RtcConfig } from 'node-datachannel';
import { authError, AUTH_FAILURE_SENTENCE, networkError, MovieShareError, ExitCode } from '../../common/errors.js';
import type { ParsedCode } from '../../common/code/code.js';
import { hmacSha256, macEquals } from '../../common/crypto/mac.js';
import { pakeStart } from '../../common/crypto/pake.js';
import { open as openSealed, seal } from '../../common/crypto/seal.js';
import { deriveSessionKeys, type SessionKeys } from '../../common/crypto/session-keys.js';
import type { SignalKind, SignalPayload } from '../../common/protocol/signal-protocol.js';
import { sdpFingerprint } from '../../common/crypto/transcript.js';
import { CONNECT_TIMEOUT_MS, DTLS_TIMEOUT_MS } from '../../common/config.js';
import type { Role } from '../../common/protocol/signal-protocol.js';
import { DataChannelTransport } from '../rtc/datachannel.js';
import type { SecureSession } from '../transfer/session.js';
import type { SignalClient } from './signal-client.js';
import { createPeer, type SignalData, type WebRtcPeer } from '../rtc/webrtc.js';
import { offerAsDtlsClient } from '../rtc/dtls-role.js';
import { chooseMtu, localLinks, parseNetHint, type LinkHint, type MtuChoice, type NetHint } from '../rtc/path-mtu.js';
import { iceSettled } from '../rtc/candidate-pair.js';
import { checkGathered, describeIce, diagnoseNoRelay, hasTurn, iceFailureMessage, noRelayMessage, splitCandidates, turnLogMark, type TurnFailure } from '../rtc/ice.js';

const PAKE_SHARE = 1;
const PAKE_CONFIRM = 2;
const CONFIRM_LABEL = Buffer.from('movie-share signaling key-confirmation');

export interface RendezvousOptions {
  role: Role;
  code: ParsedCode;
  signal: SignalClient;
  rtcConfig: RtcConfig;
  lowWaterMark: number;
  connectTimeoutMs?: number;
  /** the verification string, once the PAKE is confirmed */
  onVerified?: (verification: string) => void;
  /** progress notes for --verbose */
  log?: (line: string) => void;
}

export interface Rendezvous {
  session: SecureSession;
  rtc: WebRtcPeer;
  keys: SessionKeys;
  /** the MTU this side's connection uses, and why (peer/path-mtu.ts) */
  mtu: MtuChoice;
}

/** The PAKE key-confirmation MAC that `from` sends over both shares (host's first). */
export function pakeConfirmation(k: SessionKeys, from: Role, hostShare: Uint8Array, receiverShare: Uint8Array): Buffer {
  return hmacSha256(from === 'host' ? k.confirmHost : k.confirmReceiver, CONFIRM_LABEL, hostShare, receiverShare);
}

export function pakeSid(room: string): Uint8Array {
  return Buffer.from(`movie-share/v1/${room}`, 'utf8');
}

/** The other side could not get a relay address under --relay-only (it said so in a `bye`). */
function otherSideNoRelay(why: string): string {
  const reason: Record<TurnFailure, string> = {
    auth: 'TURN authentication failed there',
    allocation: 'its TURN server did not answer',
    unknown: 'no relay address',
  };
  return `The other side could not get a TURN relay address (${reason[why as TurnFailure] ?? reason.unknown}), and it allows only relayed connections (--relay-only). Its TURN settings need fixing; then start again with a new code.`;
}

/** The associated data that binds a sealed signal to its kind, room and sender. */
export function sealAad(kind: SignalKind, room: string, from: Role): Buffer {
  return Buffer.from(`movie-share signal v1|${room}|${from}|${kind}`, 'utf8');
}

/**
 * What the other side may send us, sealed, after the PAKE: its net hint, the
 * one description its role sends (the host an offer, the receiver an answer),
 * and candidates. Anything else from an authenticated peer is a protocol
 * violation (exit 4); a candidate whose line is not a candidate is dropped
 * ('ignore'), since node-datachannel would refuse it.
 */
export function parsePeerSignal(data: unknown, from: Role): SignalData | NetHint | 'ignore' {
  if (typeof data !== 'object' || data === null) throw authError(AUTH_FAILURE_SENTENCE);
  const d = data as Record<string, unknown>;
  if (d.type === 'net') return d as unknown as NetHint;
  // simple-peer's request for a new offer: one offer and one answer are all this protocol uses
  if (d.type === 'renegotiate' || d.renegotiate === true) return 'ignore';
  if (d.type === (from === 'host' ? 'offer' : 'answer')) {
    if (typeof d.sdp !== 'string') throw authError(AUTH_FAILURE_SENTENCE);
    return { type: d.type, sdp: d.sdp };
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

/**
 * Run the rendezvous for one side. For the host, call after the room exists;
 * it waits for the receiver. For the receiver, call after joining.
 */
export function rendezvous(opts: RendezvousOptions): Promise<Rendezvous> {
  const { role, code, signal } = opts;
  const host = role === 'host';
  const other: Role = host ? 'receiver' : 'host';
  const log = opts.log ?? (() => undefined);
  const pake = pakeStart({
    password: Buffer.from(code.canonical, 'utf8'),
    role: host ? 'initiator' : 'responder',
    sid: pakeSid(code.room),
  });
  let keys: SessionKeys | undefined;
  let peerShare: Uint8Array | undefined;
  let confirmed = false;
  let rtc: WebRtcPeer | undefined;
  /** sealed signals that arrived before the PAKE was confirmed */
  const pendingSealed: SignalPayload[] = [];
  /** opened signals (SDP, candidates) that arrived before our connection exists */
  const pendingSignals: SignalData[] = [];
  /**
   * Host: send the offer's candidates, after the answer. If the receiver had
   * our candidates with the offer, its ICE checks would reach us before its
   * answer does; libjuice (node-datachannel 0.33) then resets its remote
   * candidate list under the already-learned peer-reflexive pair and
   * reports the wrong selected pair (e.g. `host` for a path through TURN).
   */
  let sendOfferCandidates: (() => void) | undefined;

  return new Promise<Rendezvous>((resolve, reject) => {
    let settled = false;
    const timeoutMs = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    const relayOnly = opts.rtcConfig.iceTransportPolicy === 'relay';
    // The connect timeout runs once both sides are there: a host waits for its
    // receiver as long as its room lives (the server's idle TTL), not 30 s.
    let timer: NodeJS.Timeout | undefined;
    /** set when giving up on a connection that may be stuck in native code: fail() then leaves it alone */
    let wedged = false;
    const armTimer = (): void => {
      if (timer || settled) return;
      timer = setTimeout(() => {
        // a native stack that never connected may be stuck: leave it alone (see armDtlsTimer)
        wedged = rtc !== undefined;
        fail(networkError(
          keys
            ? iceFailureMessage('timeout', opts.rtcConfig, undefined, timeoutMs)
            : 'The other side did not answer in time. Check the code and try again.',
        ));
      }, timeoutMs);
      timer.unref();
    };

    /**
     * ICE connected but no data channel DTLS_TIMEOUT_MS later: the DTLS
     * handshake is stuck, possibly in libdatachannel's lock cycle
     * (dtls-role.ts), where even close() would block this thread for good. So
     * we give up without touching the connection; the CLI exits at once.
     */
    let dtlsTimer: NodeJS.Timeout | undefined;
    const armDtlsTimer = (): void => {
      if (dtlsTimer || settled) return;
      dtlsTimer = setTimeout(() => {
        wedged = true;
        fail(networkError(
          `The direct connection was found, but its encrypted handshake (DTLS) did not complete within ${DTLS_TIMEOUT_MS / 1000} s. Try again${
            relayOnly ? '' : '; if it keeps failing, use a TURN relay (--turn --relay-only)'
          }.`,
        ));
      }, DTLS_TIMEOUT_MS);
      dtlsTimer.unref();
    };

    function fail(e: MovieShareError): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(dtlsTimer);
      if (e.exitCode === ExitCode.Auth) {
        try {
          signal.send({ kind: 'bye', data: Buffer.from('auth').toString('base64') });
        } catch {
          // signaling is gone; the other side will notice on its own
        }
      }
      if (!wedged) rtc?.peer.destroy();
      reject(e);
    }

    const send = (kind: SignalKind, bytes: Uint8Array): void => signal.send({ kind, data: Buffer.from(bytes).toString('base64') });

    const confirmMac = pakeConfirmation;

    const shares = (): [Uint8Array, Uint8Array] => (host ? [pake.message, peerShare!] : [peerShare!, pake.message]);

    const mySealKey = (k: SessionKeys): Buffer => (host ? k.sealHostToReceiver : k.sealReceiverToHost);
    const sendSealed = (k: SessionKeys, d: SignalData | NetHint): void => {
      const kd: SignalKind = d.type === 'candidate' ? 'candidate' : 'sdp';
      signal.send({ kind: kd, data: seal(mySealKey(k), Buffer.from(JSON.stringify(d), 'utf8'), sealAad(kd, code.room, role)) });
    };
    let myLinks: LinkHint[] = [];

    /** Right after the PAKE: tell the other side our links, so that both can choose the MTU (path-mtu.ts). */
    const sendNetHint = (k: SessionKeys): void => {
      myLinks = localLinks(opts.rtcConfig.bindAddress);
      sendSealed(k, { type: 'net', links: myLinks });
    };

    const startWebRtc = (k: SessionKeys, theirLinks: LinkHint[]): void => {
      log('code confirmed; connecting directly');
      const mtu = chooseMtu(opts.rtcConfig.mtu, myLinks, theirLinks, hasTurn(opts.rtcConfig));
      log(`MTU ${mtu.mtu}: ${mtu.reason}`);
      const rtcConfig: RtcConfig = { ...opts.rtcConfig, mtu: mtu.mtu };
      log(describeIce(rtcConfig));
      const turnMark = turnLogMark();
      rtc = createPeer(host, rtcConfig);
      const r = rtc;
      let iceState = '';
      r.peer.on('iceStateChange', (state: string) => {
        if (state !== iceState) log(`ICE ${(iceState = state)}`);
        if (state === 'connected' || state === 'completed') armDtlsTimer();
      });
      // runs inside node-datachannel's event dispatch: a throw would be an uncaught exception
      r.peer.on('signal', (data: SignalData) => {
        try {
          onLocalSignal(data);
        } catch (e) {
          fail(e instanceof MovieShareError ? e : networkError(`The connection failed: ${(e as Error).message}`));
        }
      });
      const onLocalSignal = (data: SignalData): void => {
        const kind: SignalKind = data.type === 'candidate' ? 'candidate' : 'sdp';
        log(`sending sealed ${data.type ?? (data.renegotiate ? 'renegotiate' : 'signal')}`);
        if (kind === 'sdp' && 'sdp' in data) {
          // non-trickle: this SDP holds every candidate we gathered
          const g = checkGathered(data.sdp ?? '', rtcConfig);
          log(g.summary);
          if (g.noRelay) {
            void diagnoseNoRelay(turnMark).then((why) => {
              const msg = noRelayMessage(why, g.missingRelay);
              if (!g.missingRelay) return log(`warning: ${msg}`);
              // without a relay candidate the relay policy cannot connect: say why now, not after ICE's ~40 s
              try {
                signal.send({ kind: 'bye', data: Buffer.from(`turn:${why}`).toString('base64') });
              } catch {
                // signaling is gone; the other side will time out
              }
              fail(networkError(msg));
            });
            if (g.missingRelay) return;
          }
        }
        if (host && data.type === 'offer' && data.sdp) {
          // The offer goes without its candidates; they follow once the answer is
          // applied (see sendOfferCandidates): the receiver cannot start ICE checks
          // before we hold its answer, which libjuice would mis-report.
          const split = splitCandidates(data.sdp);
          sendOfferCandidates = () => {
            for (const c of split.candidates) sendSealed(k, { type: 'candidate', candidate: c } as SignalData);
          };
          // relay-only: the host is the DTLS client (see dtls-role.ts)
          return sendSealed(k, { type: 'offer', sdp: relayOnly ? offerAsDtlsClient(split.sdp) : split.sdp });
        }
        sendSealed(k, data);
      };
      r.peer.on('connect', () => {
        if (settled) return;
        try {
          const pc = r.pc();
          const localFp = sdpFingerprint(pc.localDescription?.sdp ?? '');
          const remoteFp = sdpFingerprint(pc.remoteDescription?.sdp ?? '');
          const channel = new DataChannelTransport(r, opts.lowWaterMark);
          settled = true;
          clearTimeout(timer);
          clearTimeout(dtlsTimer);
          const result: Rendezvous = {
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
          // the selected pair is final once ICE completes (candidate-pair.ts); usually within ms
          const t0 = Date.now();
          void iceSettled(r, relayOnly).then(() => {
            log(`ICE settled ${Date.now() - t0} ms after the channel opened`);
            resolve(result);
          });
        } catch (e) {
          fail(e instanceof MovieShareError ? e : networkError(`The connection failed: ${(e as Error).message}`));
        }
      });
      r.peer.on('error', (e: Error & { code?: string }) =>
        fail(networkError(
          e.code === 'ERR_ICE_CONNECTION_FAILURE' || e.code === 'ERR_CONNECTION_FAILURE'
            ? iceFailureMessage('failed', opts.rtcConfig, e.message.replace(/\.$/, ''))
            : `The direct connection failed (${e.message}). Check firewalls, or use a TURN relay (--turn).`,
        )));
      r.peer.on('close', () => fail(networkError('The direct connection closed before the transfer started.')));
      for (const d of pendingSignals.splice(0)) applySignal(r, d);
    };

    const onSealed = (m: SignalPayload): void => {
      if (!keys || !confirmed) {
        pendingSealed.push(m);
        return;
      }
      const theirKey = host ? keys.sealReceiverToHost : keys.sealHostToReceiver;
      const plain = openSealed(theirKey, m.data, sealAad(m.kind, code.room, other));
      let data: unknown;
      try {
        data = JSON.parse(plain.toString('utf8'));
      } catch {
        throw authError(AUTH_FAILURE_SENTENCE);
      }
      const signalData = parsePeerSignal(data, other);
      if (signalData === 'ignore') return log('ignored a malformed candidate or a renegotiation request from the other side');
      log(`received sealed ${signalData.type}`);
      if (signalData.type === 'net') {
        const hint = parseNetHint(signalData);
        if (!hint || rtc) throw authError(AUTH_FAILURE_SENTENCE);
        startWebRtc(keys, hint.links);
      } else if (!rtc) pendingSignals.push(signalData);
      else applySignal(rtc, signalData);
    };

    /**
     * Hand the other side's SDP or candidate to simple-peer. Exactly one
     * description is expected (a repeat is dropped: it could only be a replay);
     * a candidate before it waits in simple-peer's own queue. Nothing here may
     * throw into node-datachannel: a candidate it refuses is dropped.
     */
    let haveRemoteDescription = false;
    const applySignal = (r: WebRtcPeer, data: SignalData): void => {
      if (data.type === 'candidate') {
        try {
          r.peer.signal(data);
        } catch {
          // a stale candidate (before/after its transport): harmless
        }
        return;
      }
      if (haveRemoteDescription) return log(`ignored a repeated ${data.type}`);
      haveRemoteDescription = true;
      r.peer.signal(data);
      if (host && data.type === 'answer') {
        sendOfferCandidates?.();
        sendOfferCandidates = undefined;
      }
    };

    let shareSent = false;
    let earlyConfirm: Buffer | undefined;
    /** Our share always goes out before our confirmation, whichever event comes first. */
    const sendShare = (): void => {
      if (shareSent) return;
      shareSent = true;
      send('pake', Buffer.concat([Buffer.from([PAKE_SHARE]), pake.message]));
    };

    const onPake = (bytes: Buffer): void => {
      if (bytes.length < 1) throw authError(AUTH_FAILURE_SENTENCE);
      const type = bytes[0];
      const body = bytes.subarray(1);
      if (type === PAKE_SHARE) {
        if (peerShare) throw authError(AUTH_FAILURE_SENTENCE);
        peerShare = Uint8Array.from(body);
        keys = deriveSessionKeys(pake.finish(peerShare));
        sendShare();
        const [hs, rs] = shares();
        send('pake', Buffer.concat([Buffer.from([PAKE_CONFIRM]), confirmMac(keys, role, hs, rs)]));
        if (earlyConfirm) onPake(earlyConfirm);
        return;
      }
      if (type === PAKE_CONFIRM) {
        if (!keys) {
          // relays may reorder: keep an early confirmation until the share arrives
          if (earlyConfirm) throw authError(AUTH_FAILURE_SENTENCE);
          earlyConfirm = Buffer.from(bytes);
          return;
        }
        if (confirmed) throw authError(AUTH_FAILURE_SENTENCE);
        const [hs, rs] = shares();
        if (!macEquals(confirmMac(keys, other, hs, rs), body)) throw authError(AUTH_FAILURE_SENTENCE);
        confirmed = true;
        opts.onVerified?.(keys.verification);
        sendNetHint(keys);
        for (const m of pendingSealed.splice(0)) onSealed(m);
        return;
      }
      throw authError(AUTH_FAILURE_SENTENCE);
    };

    signal.onSignal((m) => {
      if (settled) return;
      try {
        if (m.kind === 'pake') onPake(Buffer.from(m.data, 'base64'));
        else if (m.kind === 'bye') {
          const why = Buffer.from(m.data, 'base64').toString('utf8');
          fail(
            why === 'auth'
              ? authError(AUTH_FAILURE_SENTENCE)
              : why.startsWith('turn:')
                ? networkError(otherSideNoRelay(why.slice(5)))
                : networkError('The other side cancelled the transfer.'),
          );
        } else onSealed(m);
      } catch (e) {
        fail(e instanceof MovieShareError ? e : authError(AUTH_FAILURE_SENTENCE));
      }
    });
    // signaling lost for good (server gone beyond the client's reconnect bound,
    // restarted without our room, or the room expired): say so instead of waiting
    signal.onDisconnect((reason) => {
      if (!settled) fail(networkError(`${reason.replace(/\.$/, '')}. ${host ? 'Run movie-share again for a new code.' : 'Ask the sender for a new code.'}`));
    });
    signal.onPeerLeft(() => {
      if (!settled && !rtc) fail(networkError(host ? 'The receiver left before the transfer started.' : 'The sender left before the transfer started. Ask for a new code.'));
    });

    if (host) {
      signal.onPeerJoined(() => {
        armTimer();
        log('receiver joined; checking the code');
        sendShare();
      });
    } else {
      armTimer();
      sendShare();
    }
  });
}
