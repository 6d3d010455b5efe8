/**
 * A malicious signaling server for tests. It speaks movie-share's signaling
 * protocol to both peers but, instead of relaying honestly, attacks:
 *
 *  - 'terminate': it relays the PAKE untouched (so the honest peers agree on a
 *    key) but terminates WebRTC with each peer itself: two node-datachannel
 *    PeerConnections of its own, whose SDP it hands to the peers, ready to
 *    forward data-channel messages between them unchanged.
 *  - 'reflect': it sends each peer's own sealed SDP back to it.
 *  - 'pake-mitm': it runs CPace with each peer itself, with a guessed code.
 *
 * It records what it saw; `forwarded` counts data-channel messages it could
 * forward (0 if no peer ever connected to it).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { PeerConnection, cleanup, type DataChannel } from 'node-datachannel';
import { randomBytes } from 'node:crypto';
import { pakeStart, SID_NONCE_BYTES, type PakeStart } from '../../common/crypto/pake.js';
import { pakeConfirmation, pakeSid } from '../../peer/rendezvous/rendezvous.js';
import { deriveSessionKeys } from '../../common/crypto/session-keys.js';
import { WORDS } from '../../common/code/wordlist.js';
import './node-crypto.js';

export type RogueMode = 'terminate' | 'reflect' | 'pake-mitm';
export const ROGUE_ROOM = '2345';

interface Payload {
  kind: string;
  data: string;
}

export interface Rogue {
  url: string;
  forwarded: number;
  peerConnections: number;
  channelsOpened: number;
  seen: Payload[];
  close(): Promise<void>;
}

export async function startRogue(mode: RogueMode): Promise<Rogue> {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'] });
  const state: Rogue = { url: '', forwarded: 0, peerConnections: 0, channelsOpened: 0, seen: [], close: () => Promise.resolve() };
  let host: Socket | undefined;
  let receiver: Socket | undefined;
  const keep = new Set<PeerConnection | DataChannel>();
  const channels: { host?: DataChannel; receiver?: DataChannel } = {};

  /** A PeerConnection of the rogue's own, offered to `victim` as if it were the other peer. */
  function terminate(victim: Socket, side: 'host' | 'receiver'): void {
    const pc = new PeerConnection(`rogue-${side}`, { iceServers: [], bindAddress: '127.0.0.1' });
    keep.add(pc);
    state.peerConnections++;
    // hand the victim our SDP once gathering is complete (it may complete before
    // createDataChannel returns: register first, and check again afterwards)
    let sent = false;
    const offerOurs = (): void => {
      const d = pc.localDescription();
      if (sent || !d || pc.gatheringState() !== 'complete') return;
      sent = true;
      const fake = { type: side === 'host' ? 'answer' : 'offer', sdp: d.sdp };
      victim.emit('signal', { kind: 'sdp', data: Buffer.from(JSON.stringify(fake)).toString('base64') });
    };
    // inside node-datachannel's callbacks an exception aborts the process: nothing may throw there
    pc.onGatheringStateChange(() => {
      try {
        offerOurs();
      } catch {
        // the connection closed meanwhile (the test is over)
      }
    });
    const dc = pc.createDataChannel('movie-share');
    keep.add(dc);
    setImmediate(offerOurs);
    dc.onOpen(() => {
      state.channelsOpened++;
      channels[side] = dc;
    });
    dc.onMessage((msg) => {
      const other = side === 'host' ? channels.receiver : channels.host;
      if (!other) return;
      state.forwarded++;
      try {
        if (typeof msg === 'string') other.sendMessage(msg);
        else other.sendMessageBinary(Buffer.from(msg as ArrayBuffer));
      } catch {
        // the other channel closed: the victim is gone, nothing left to forward to
      }
    });
  }

  // a PAKE password: the canonical code, room and words without the check character
  const guessed = `${ROGUE_ROOM}-${WORDS[1]}-${WORDS[2]}-${WORDS[3]}`;
  // one CPace run with each victim, the rogue in the other role; each sid is made
  // of the victim's nonce and the rogue's own (the victim's peer never sees either)
  const mitm: Partial<Record<'host' | 'receiver', PakeStart>> = {};
  const rogueNonce = randomBytes(SID_NONCE_BYTES);

  io.on('connection', (socket) => {
    socket.on('create', (_req: unknown, ack: (r: unknown) => void) => {
      host = socket;
      ack({ ok: true, room: ROGUE_ROOM, token: 'rogue-token', iceServers: [] });
    });
    socket.on('join', (_req: unknown, ack: (r: unknown) => void) => {
      receiver = socket;
      ack({ ok: true, room: ROGUE_ROOM, iceServers: [], peerPresent: true });
      host?.emit('peer-joined');
      // an honest host answers the receiver's PAKE messages and sends nothing first: posing as the receiver, we go first
      if (mode === 'pake-mitm') host?.emit('signal', { kind: 'pake', data: Buffer.concat([Buffer.from([3]), rogueNonce]).toString('base64') });
      if (mode === 'terminate') {
        terminate(receiver, 'receiver');
        if (host) terminate(host, 'host');
      }
    });
    socket.on('signal', (msg: Payload, ack?: (r: unknown) => void) => {
      ack?.({ ok: true });
      state.seen.push(msg);
      const from = socket === host ? 'host' : 'receiver';
      const to = from === 'host' ? receiver : host;
      if (msg.kind === 'pake') {
        const bytes = Buffer.from(msg.data, 'base64');
        if (mode === 'pake-mitm' && bytes[0] === 3) {
          // the victim's nonce: answer with ours (the host had it at join), then our share
          const victimNonce = Uint8Array.from(bytes.subarray(1));
          const sid = from === 'host' ? pakeSid(ROGUE_ROOM, victimNonce, rogueNonce) : pakeSid(ROGUE_ROOM, rogueNonce, victimNonce);
          const ours = (mitm[from] = pakeStart({ password: Buffer.from(guessed), role: from === 'host' ? 'receiver' : 'host', sid }));
          if (from === 'receiver') socket.emit('signal', { kind: 'pake', data: Buffer.concat([Buffer.from([3]), rogueNonce]).toString('base64') });
          socket.emit('signal', { kind: 'pake', data: Buffer.concat([Buffer.from([1]), ours.message]).toString('base64') });
          return;
        }
        if (mode === 'pake-mitm' && bytes[0] === 1) {
          // the victim's share: confirm our side of that session (our share, made
          // from a guessed code, went out with our nonce) as an honest peer would
          const ours = mitm[from];
          if (!ours) return;
          const victimShare = bytes.subarray(1);
          const keys = deriveSessionKeys(ours.finish(victimShare));
          const [hs, rs] = from === 'host' ? [victimShare, ours.message] : [ours.message, victimShare];
          const conf = pakeConfirmation(keys, from === 'host' ? 'receiver' : 'host', hs, rs);
          socket.emit('signal', { kind: 'pake', data: Buffer.concat([Buffer.from([2]), conf]).toString('base64') });
          return;
        }
        if (mode === 'pake-mitm') return; // the victims' confirmations go nowhere
        to?.emit('signal', msg);
        return;
      }
      if (msg.kind === 'bye') {
        to?.emit('signal', msg);
        return;
      }
      if (mode === 'reflect') socket.emit('signal', msg);
      // 'terminate': the peers' own sealed SDP is swallowed; they get the rogue's instead
    });
    socket.on('leave', () => undefined);
  });

  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  state.close = async () => {
    for (const k of keep) {
      try {
        k.close();
      } catch {
        // already closed
      }
    }
    keep.clear();
    // node-datachannel's native threads keep the process alive until cleanup();
    // only the rogue uses it in this process
    cleanup();
    const ioClosed = io.close(); // settles once its sockets, its engine and `http` are closed
    http.closeAllConnections();
    await new Promise<void>((r) => http.close(() => r()));
    await ioClosed;
  };
  return state;
}
