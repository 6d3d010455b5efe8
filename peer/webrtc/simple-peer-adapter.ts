/**
 * What simple-peer does not expose, in one place.
 *
 * simple-peer (9.11) has no public accessor for its RTCPeerConnection or its
 * RTCDataChannel, yet a transfer needs both: the channel's `bufferedAmount`,
 * `bufferedAmountLowThreshold` and `bufferedamountlow` event (backpressure;
 * simple-peer only offers a stream's highWaterMark), the negotiated maximum
 * message size, the SDP actually in use (the DTLS fingerprints the key
 * confirmation binds), and the selected candidate pair. They live in its
 * private `_pc` and `_channel` fields; this file is the only one that reads
 * them, in Node and in a browser alike.
 */
import type SimplePeer from 'simple-peer';

/** The parts of an RTCDataChannel that the transfer uses (W3C; node-datachannel's polyfill has them too). */
export interface ChannelLike {
  bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  readyState: string;
  addEventListener(type: 'bufferedamountlow' | 'close', cb: () => void): void;
}

/** The parts of an RTCPeerConnection that we read. */
export interface PeerConnectionLike {
  localDescription: { sdp: string } | null;
  remoteDescription: { sdp: string } | null;
  close(): void;
}

interface SimplePeerInternals<PC, DC> {
  _pc: PC | null;
  _channel: DC | null;
}

/** The peer connection under a simple-peer (throws once simple-peer let go of it). */
export function peerConnectionOf<PC extends PeerConnectionLike>(peer: SimplePeer.Instance): PC {
  const pc = (peer as unknown as SimplePeerInternals<PC, ChannelLike>)._pc;
  if (!pc) throw new Error('peer connection is gone');
  return pc;
}

/** The data channel under a simple-peer, valid after 'connect'. */
export function dataChannelOf<DC extends ChannelLike>(peer: SimplePeer.Instance): DC {
  const dc = (peer as unknown as SimplePeerInternals<PeerConnectionLike, DC>)._channel;
  if (!dc) throw new Error('data channel is gone');
  return dc;
}
