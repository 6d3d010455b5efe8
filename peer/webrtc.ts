/**
 * WebRTC through simple-peer, with node-datachannel's W3C polyfill as its
 * `wrtc`. Three adaptations:
 *  - the polyfill's RTCSessionDescription has a getter-only `sdp` that
 *    simple-peer assigns to, so createOffer/createAnswer return plain objects;
 *  - we construct the native PeerConnection ourselves from our RtcConfig
 *    (bindAddress, mtu, TURN relay types, credentials with ':'), and hand it to
 *    the polyfill, which would otherwise rebuild TURN URLs lossily.
 *  - the polyfill does not announce the end of ICE gathering (a null
 *    candidate), which simple-peer needs without trickle; the shim does.
 * The returned Connection keeps strong references to the peer, its
 * RTCPeerConnection and the data channel for as long as it lives: a
 * garbage-collected channel wrapper silently closes the channel.
 */
import SimplePeer from 'simple-peer';
import { PeerConnection, type RtcConfig, type SelectedCandidateInfo } from 'node-datachannel';
import { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate } from 'node-datachannel/polyfill';
import { randomBytes } from 'node:crypto';
import { ensureRtcLogger } from './ice.js';

/** The parts of the polyfill's RTCPeerConnection that we read. */
export interface PolyfillPeerConnection {
  localDescription: { sdp: string } | null;
  remoteDescription: { sdp: string } | null;
  selectedCandidatePair(): { local: SelectedCandidateInfo; remote: SelectedCandidateInfo } | null;
  readonly ext_maxMessageSize: number;
  /** the native connection: its iceState() tells "completed" apart (the polyfill folds it into "connected") */
  readonly native?: PeerConnection;
  close(): void;
}

/** The parts of the polyfill's RTCDataChannel that we use. */
export interface PolyfillDataChannel {
  bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  readyState: string;
  addEventListener(type: 'bufferedamountlow' | 'close', cb: () => void): void;
}

interface SimplePeerInternals {
  _pc: PolyfillPeerConnection | null;
  _channel: PolyfillDataChannel | null;
}

export type SignalData = SimplePeer.SignalData;

// The native logger (MOVIE_DEBUG_RTC, and the TURN failure diagnostics) is
// installed by ensureRtcLogger in ice.ts: there is one per process.

function wrtcFor(config: RtcConfig) {
  class ShimPeerConnection extends RTCPeerConnection {
    native: PeerConnection;
    constructor() {
      const native = new PeerConnection(`movie-share-${randomBytes(4).toString('hex')}`, config);
      super({ iceServers: [], peerConnection: native } as unknown as ConstructorParameters<typeof RTCPeerConnection>[0]);
      this.native = native;
      // W3C: gathering complete is announced by an icecandidate event with a null
      // candidate; the polyfill omits it, and simple-peer (non-trickle) waits for it.
      this.addEventListener('icegatheringstatechange', () => {
        if (this.iceGatheringState === 'complete') {
          this.onicecandidate?.({ candidate: null } as unknown as Event);
        }
      });
    }
    override async createOffer(...args: Parameters<RTCPeerConnection['createOffer']>) {
      const d = await super.createOffer(...args);
      return { type: d.type, sdp: d.sdp } as Awaited<ReturnType<RTCPeerConnection['createOffer']>>;
    }
    override async createAnswer(...args: Parameters<RTCPeerConnection['createAnswer']>) {
      const d = await super.createAnswer(...args);
      return { type: d.type, sdp: d.sdp } as Awaited<ReturnType<RTCPeerConnection['createAnswer']>>;
    }
  }
  return { RTCPeerConnection: ShimPeerConnection, RTCSessionDescription, RTCIceCandidate };
}

export interface WebRtcPeer {
  peer: SimplePeer.Instance;
  /** valid after 'connect' */
  pc(): PolyfillPeerConnection;
  channel(): PolyfillDataChannel;
}

export function createPeer(initiator: boolean, config: RtcConfig): WebRtcPeer {
  ensureRtcLogger(config);
  const peer = new SimplePeer({
    initiator,
    // One sealed offer and one sealed answer, each with every candidate: no
    // ordering races between descriptions and candidates through the relay.
    trickle: false,
    wrtc: wrtcFor(config) as unknown as SimplePeer.Options['wrtc'],
    config: { iceServers: [] },
    channelConfig: { ordered: true },
    channelName: 'movie-share',
  });
  const internals = peer as unknown as SimplePeerInternals;
  return {
    peer,
    pc: () => {
      if (!internals._pc) throw new Error('peer connection is gone');
      return internals._pc;
    },
    channel: () => {
      if (!internals._channel) throw new Error('data channel is gone');
      return internals._channel;
    },
  };
}
