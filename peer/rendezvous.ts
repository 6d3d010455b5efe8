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
 *    | offer / answer (SDP with all candidates), sealed under the PAKE keys ◀───▶ |
 *    |═════════ ICE + DTLS: direct data channel (server not involved) ═════════|
 *
 * The server sees the room id and opaque bytes only. A server that injects
 * its own SDP cannot seal it, so the peers reject it (exit 4); a receiver with
 * the wrong words fails the PAKE confirmation (exit 4) and, because the host
 * takes one attempt per code, a guesser gets exactly one try.
 */
import type { RtcConfig } from 'node-datachannel';
import { authError, AUTH_FAILURE_SENTENCE, networkError, MovieShareError, ExitCode } from '../common/errors.js';
import type { ParsedCode } from '../common/code.js';
import { hmacSha256, macEquals } from '../common/mac.js';
import { pakeStart } from '../common/pake.js';
import { open as openSealed, seal } from '../common/seal.js';
import { deriveSessionKeys, type SessionKeys } from '../common/session-keys.js';
import type { SignalKind, SignalPayload } from '../common/signal-protocol.js';
import { sdpFingerprint } from '../common/transcript.js';
import { CONNECT_TIMEOUT_MS } from '../common/config.js';
import type { Role } from '../common/signal-protocol.js';
import { DataChannelTransport } from './datachannel.js';
import type { SecureSession } from './session.js';
import type { SignalClient } from './signal-client.js';
import { createPeer, type SignalData, type WebRtcPeer } from './webrtc.js';

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
}

export function pakeSid(room: string): Uint8Array {
  return Buffer.from(`movie-share/v1/${room}`, 'utf8');
}

function sealAad(kind: SignalKind, room: string, from: Role): Buffer {
  return Buffer.from(`movie-share signal v1|${room}|${from}|${kind}`, 'utf8');
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
  const pendingSealed: SignalPayload[] = [];

  return new Promise<Rendezvous>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () => fail(networkError(
        keys
          ? 'Could not open a direct connection to the other side (ICE did not connect). Check firewalls, or use a TURN relay (--turn).'
          : 'The other side did not answer in time. Check the code and try again.',
      )),
      opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    );
    timer.unref();

    function fail(e: MovieShareError): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (e.exitCode === ExitCode.Auth) {
        try {
          signal.send({ kind: 'bye', data: Buffer.from('auth').toString('base64') });
        } catch {
          // signaling is gone; the other side will notice on its own
        }
      }
      rtc?.peer.destroy();
      reject(e);
    }

    const send = (kind: SignalKind, bytes: Uint8Array): void => signal.send({ kind, data: Buffer.from(bytes).toString('base64') });

    const confirmMac = (k: SessionKeys, from: Role, hostShare: Uint8Array, receiverShare: Uint8Array): Buffer =>
      hmacSha256(from === 'host' ? k.confirmHost : k.confirmReceiver, CONFIRM_LABEL, hostShare, receiverShare);

    const shares = (): [Uint8Array, Uint8Array] => (host ? [pake.message, peerShare!] : [peerShare!, pake.message]);

    const startWebRtc = (k: SessionKeys): void => {
      log('code confirmed; connecting directly');
      const mySealKey = host ? k.sealHostToReceiver : k.sealReceiverToHost;
      rtc = createPeer(host, opts.rtcConfig);
      const r = rtc;
      r.peer.on('signal', (data: SignalData) => {
        const kind: SignalKind = data.type === 'candidate' ? 'candidate' : 'sdp';
        signal.send({ kind, data: seal(mySealKey, Buffer.from(JSON.stringify(data), 'utf8'), sealAad(kind, code.room, role)) });
      });
      r.peer.on('connect', () => {
        if (settled) return;
        try {
          const pc = r.pc();
          const localFp = sdpFingerprint(pc.localDescription?.sdp ?? '');
          const remoteFp = sdpFingerprint(pc.remoteDescription?.sdp ?? '');
          const channel = new DataChannelTransport(r, opts.lowWaterMark);
          settled = true;
          clearTimeout(timer);
          resolve({
            rtc: r,
            keys: k,
            session: {
              channel,
              confirmHost: k.confirmHost,
              confirmReceiver: k.confirmReceiver,
              hostFingerprint: host ? localFp : remoteFp,
              receiverFingerprint: host ? remoteFp : localFp,
            },
          });
        } catch (e) {
          fail(e instanceof MovieShareError ? e : networkError(`The connection failed: ${(e as Error).message}`));
        }
      });
      r.peer.on('error', (e: Error) => fail(networkError(`The direct connection failed (${e.message}). Check firewalls, or use a TURN relay (--turn).`)));
      r.peer.on('close', () => fail(networkError('The direct connection closed before the transfer started.')));
      for (const m of pendingSealed.splice(0)) onSealed(m);
    };

    const onSealed = (m: SignalPayload): void => {
      if (!keys || !confirmed || !rtc) {
        pendingSealed.push(m);
        return;
      }
      const theirKey = host ? keys.sealReceiverToHost : keys.sealHostToReceiver;
      const plain = openSealed(theirKey, m.data, sealAad(m.kind, code.room, other));
      let data: SignalData;
      try {
        data = JSON.parse(plain.toString('utf8')) as SignalData;
      } catch {
        throw authError(AUTH_FAILURE_SENTENCE);
      }
      if (data.type === 'candidate') {
        try {
          rtc.peer.signal(data);
        } catch {
          // a stale candidate (before/after its transport): harmless
        }
      } else {
        rtc.peer.signal(data);
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
        startWebRtc(keys);
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
          fail(why === 'auth' ? authError(AUTH_FAILURE_SENTENCE) : networkError('The other side cancelled the transfer.'));
        } else onSealed(m);
      } catch (e) {
        fail(e instanceof MovieShareError ? e : authError(AUTH_FAILURE_SENTENCE));
      }
    });
    signal.onPeerLeft(() => {
      if (!settled && !rtc) fail(networkError(host ? 'The receiver left before the transfer started.' : 'The sender left before the transfer started. Ask for a new code.'));
    });

    if (host) {
      signal.onPeerJoined(() => {
        log('receiver joined; checking the code');
        sendShare();
      });
    } else sendShare();
  });
}
