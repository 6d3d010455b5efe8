/**
 * What the rendezvous needs from a platform's WebRTC, as one small
 * interface. The Node implementation is peer/rtc/node-peer.ts
 * (node-datachannel's polyfill under simple-peer, libjuice's quirks, the MTU
 * from the machine's links); a page implements it with the browser's own
 * RTCPeerConnection under the same simple-peer.
 */
import type SimplePeer from 'simple-peer';
import type { MessageChannel } from '../transfer/channel.js';

/** An address a side gathers host candidates on, as told in the sealed net hint. */
export interface LinkHint {
  address: string;
  /** prefix length of the interface's subnet */
  prefix: number;
  /** the interface's MTU */
  mtu: number;
}

/** The MTU this side's connection uses, and why. */
export interface MtuChoice {
  mtu: number;
  reason: string;
}

/** What our own description's candidates say about the TURN relay. */
export interface GatherCheck {
  /** one line for --verbose */
  summary: string;
  /**
   * Set when a TURN server is configured but no relay candidate was gathered:
   * resolves with why (a word for the other side's `bye`) and a sentence.
   */
  relayProblem?: Promise<{ why: string; message: string }>;
  /** without a relay candidate this connection cannot work at all (relay-only) */
  fatal: boolean;
}

/**
 * Which path an attempt may take (peer/rendezvous/handshake.ts, pathPlan):
 * `any` candidates; `direct` only (no relay candidates); or `relay`ed (a side
 * with a TURN server gathers relay candidates only, and the host's offer
 * makes the host the DTLS client).
 */
export type PathPlan = 'any' | 'direct' | 'relay';

/** One WebRTC connection: simple-peer, plus what simple-peer does not expose. */
export interface WebRtcPeer {
  readonly peer: SimplePeer.Instance;
  /** the local and remote SDP actually in use (after 'connect') */
  localSdp(): string;
  remoteSdp(): string;
  /** the open data channel as a MessageChannel (after 'connect') */
  channel(lowWaterMark: number): MessageChannel;
  /** resolves once the selected candidate pair is final enough to report */
  settled(): Promise<void>;
}

export interface PeerFactory<P extends WebRtcPeer = WebRtcPeer> {
  /** only relayed connections are allowed */
  readonly relayOnly: boolean;
  /**
   * this side can carry a transfer over several connections
   * (peer/transfer/stripes.ts): at most this many, the first included;
   * undefined: it cannot (a page), and the other side keeps to one
   */
  readonly streams?: number;
  /** a TURN server is configured: this side can gather relay candidates */
  readonly hasTurn: boolean;
  /** our links for the sealed net hint */
  localLinks(): LinkHint[];
  /**
   * our `host` value for the sealed net hint, keyed with this attempt's
   * SessionKeys.sameHost: equal only for two processes on one kernel and
   * network namespace (peer/rtc/path-mtu.ts); undefined where it cannot be
   * told (a page, a system without /proc) or must not be (behind TURN)
   */
  hostValue(key: Uint8Array): string | undefined;
  /**
   * the MTU from both sides' links and host values; undefined when the other
   * side's hint (its links, or its host value) is malformed
   */
  chooseMtu(mine: LinkHint[], theirs: unknown, hosts?: { mine?: string; theirs?: unknown }): MtuChoice | undefined;
  /** one line for --verbose: the ICE servers and policy of an attempt with this plan */
  describe(plan: PathPlan): string;
  /**
   * a connection for this side, on this plan; the host makes the offer.
   * `peerStreams`: the most connections the other side stripes over, from its
   * net hint (peer/transfer/stripes.ts); undefined when it does not say (a
   * page, or a peer before striping)
   */
  create(host: boolean, mtu: number, plan: PathPlan, peerStreams?: number): P;
  /** the host's offer as it is sent (the host fixes its DTLS role there on a relayed plan) */
  prepareOffer(sdp: string, plan: PathPlan): string;
  checkGathered(sdp: string, plan: PathPlan): GatherCheck;
  /** the sentence for ICE that failed, or did not connect within `timeoutMs` */
  failureMessage(kind: 'failed' | 'timeout', detail?: string, timeoutMs?: number): string;
}
