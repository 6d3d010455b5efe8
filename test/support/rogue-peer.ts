/**
 * A host that knows the code but misbehaves in the sealed part of the
 * handshake, for tests of the real receiver's rendezvous (peer/rendezvous/rendezvous.ts).
 * It runs the honest PAKE (so everything it sends is properly sealed: the
 * receiver cannot reject it as a forgery) and then sends its signals in an
 * order, or of a shape, that an honest host never would:
 *
 *  - 'candidates-first': every candidate before the offer, a garbage candidate
 *    line and a candidate that is not even an object, the offer twice, and
 *    then the second offer's sealed bytes once more (a replay);
 *  - 'wrong-description': an answer where the receiver expects an offer;
 *  - 'candidate-flood': more well-formed candidates than the receiver takes, before the offer.
 *
 * Its WebRTC side is the product's own (peer/rtc/node-peer.ts), so a receiver that
 * survives the misbehaviour connects to it.
 */
import type { RtcConfig } from 'node-datachannel';
import { makeCode, parseCode } from '../../common/code/code.js';
import { randomBytes } from 'node:crypto';
import { pakeStart, SID_NONCE_BYTES, type PakeStart } from '../../common/crypto/pake.js';
import { open, seal } from '../../common/crypto/seal.js';
import { deriveSessionKeys, type SessionKeys } from '../../common/crypto/session-keys.js';
import { pakeConfirmation, pakeSid, sealAad } from '../../peer/rendezvous/rendezvous.js';
import { SignalClient } from '../../peer/rendezvous/signal-client.js';
import type SimplePeer from 'simple-peer';
import { createNodePeer, type NodeRtcPeer } from '../../peer/rtc/node-peer.js';
import './node-crypto.js';

type SignalData = SimplePeer.SignalData;
import { splitCandidates } from '../../peer/rendezvous/sdp.js';

export type RoguePeerMode = 'candidates-first' | 'wrong-description' | 'candidate-flood';

export interface RoguePeer {
  code: string;
  /** resolves when the rogue's own data channel opens (never, if the receiver gave up) */
  connected: Promise<void>;
  close(): void;
}

export async function startRogueHost(url: string, mode: RoguePeerMode, rtcConfig: RtcConfig): Promise<RoguePeer> {
  const signal = await SignalClient.connect({ url, connectTimeoutMs: 5000 });
  const { room } = await signal.createRoom();
  const code = makeCode(room);
  const myNonce = randomBytes(SID_NONCE_BYTES);
  let pake: PakeStart | undefined;
  let keys: SessionKeys | undefined;
  let rtc: NodeRtcPeer | undefined;
  let resolveConnected!: () => void;
  const connected = new Promise<void>((r) => (resolveConnected = r));

  const sendPake = (type: number, body: Uint8Array): void => signal.send({ kind: 'pake', data: Buffer.concat([Buffer.from([type]), body]).toString('base64') });
  // sealing is asynchronous: a chain keeps the sends in the order they were made
  let sending = Promise.resolve();
  // numbered per kind, as the real rendezvous numbers them (docs/PROTOCOL.md §4)
  const sentSeq = { sdp: 0, candidate: 0 };
  const takenSeq = { sdp: 0, candidate: 0 };
  const sendSealed = (k: SessionKeys, d: unknown, kind: 'sdp' | 'candidate'): void => {
    const sealed = seal(k.sealHostToReceiver, Buffer.from(JSON.stringify(d), 'utf8'), sealAad(kind, room, 'host'), sentSeq[kind]++);
    sending = sending.then(async () => signal.send({ kind, data: await sealed }));
    replayLast = () => {
      sending = sending.then(async () => signal.send({ kind, data: await sealed }));
    };
  };
  /** sends the last sealed message again, byte for byte (as a replaying server would) */
  let replayLast = (): void => undefined;

  const startWebRtc = (k: SessionKeys): void => {
    rtc = createNodePeer(true, rtcConfig);
    rtc.peer.on('connect', () => resolveConnected());
    rtc.peer.on('error', () => undefined);
    rtc.peer.on('signal', (data: SignalData) => {
      if (data.type !== 'offer' || !data.sdp) return;
      if (mode === 'wrong-description') return sendSealed(k, { type: 'answer', sdp: data.sdp }, 'sdp');
      const split = splitCandidates(data.sdp);
      if (mode === 'candidate-flood') {
        // one more than the receiver takes, paced under the server's flood control (300 events per 10 s, 64 in flight)
        for (let i = 0; i < 257; i++) {
          sendSealed(k, { type: 'candidate', candidate: { candidate: `candidate:${i} 1 UDP 1 127.0.0.1 ${10000 + i} typ host`, sdpMid: '0' } }, 'candidate');
          sending = sending.then(() => new Promise((r) => setTimeout(r, 5)));
        }
        return sendSealed(k, { type: 'offer', sdp: split.sdp }, 'sdp');
      }
      for (const c of split.candidates) sendSealed(k, { type: 'candidate', candidate: c }, 'candidate');
      sendSealed(k, { type: 'candidate', candidate: { candidate: 'garbage that is no candidate', sdpMid: '0' } }, 'candidate');
      sendSealed(k, { type: 'candidate', candidate: 42 }, 'candidate');
      sendSealed(k, { type: 'candidate', candidate: { candidate: 'candidate:1 1 UDP 1 999.1.1.1 1 typ host', sdpMid: '0' } }, 'candidate');
      sendSealed(k, { type: 'offer', sdp: split.sdp }, 'sdp');
      sendSealed(k, { type: 'offer', sdp: split.sdp }, 'sdp');
      replayLast();
    });
  };

  signal.onPeerJoined(() => sendPake(3, myNonce));
  signal.onSignal((m) => void onSignal(m));
  const onSignal = async (m: { kind: string; data: string }): Promise<void> => {
    if (m.kind === 'pake') {
      // the receiver's share; its confirmation is not checked (this host is the attacker)
      const bytes = Buffer.from(m.data, 'base64');
      if (bytes[0] === 3 && !pake) {
        // the receiver's nonce: now the sid is known, and our share can go
        pake = pakeStart({ password: Buffer.from(parseCode(code).canonical, 'utf8'), role: 'host', sid: pakeSid(room, myNonce, Uint8Array.from(bytes.subarray(1))) });
        return sendPake(1, pake.message);
      }
      if (bytes[0] !== 1 || keys || !pake) return;
      const theirs = Uint8Array.from(bytes.subarray(1));
      keys = deriveSessionKeys(pake.finish(theirs));
      sendPake(2, pakeConfirmation(keys, 'host', pake.message, theirs));
      sendSealed(keys, { type: 'net', links: [] }, 'sdp');
      startWebRtc(keys);
      return;
    }
    if (!keys || !rtc || (m.kind !== 'sdp' && m.kind !== 'candidate')) return;
    let d: { type?: string };
    try {
      const plain = await open(keys.sealReceiverToHost, m.data, sealAad(m.kind, room, 'receiver'), takenSeq[m.kind]++);
      d = JSON.parse(Buffer.from(plain).toString('utf8')) as { type?: string };
    } catch {
      return;
    }
    if (d.type === 'answer' || d.type === 'candidate') rtc.peer.signal(d as SignalData);
  };

  return {
    code,
    connected,
    close: () => {
      rtc?.peer.destroy();
      signal.close();
    },
  };
}
