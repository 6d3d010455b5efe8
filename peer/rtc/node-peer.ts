/**
 * The Node shell's WebRTC (the PeerFactory of peer/rendezvous/peer-factory.ts):
 * simple-peer with node-datachannel's W3C polyfill as its `wrtc`, plus what
 * this platform decides on its own: the MTU from the machine's links
 * (path-mtu.ts), the ICE servers and TURN diagnostics (ice.ts), the DTLS role
 * under --relay-only (dtls-role.ts) and the selected pair (candidate-pair.ts).
 *
 * Three adaptations of the polyfill:
 *  - its RTCSessionDescription has a getter-only `sdp` that simple-peer
 *    assigns to, so createOffer/createAnswer return plain objects;
 *  - we construct the native PeerConnection ourselves from our RtcConfig
 *    (bindAddress, mtu, TURN relay types, credentials with ':'), and hand it to
 *    the polyfill, which would otherwise rebuild TURN URLs lossily;
 *  - it does not announce the end of ICE gathering (a null candidate), which
 *    simple-peer needs without trickle; the shim does.
 * A peer keeps strong references to simple-peer, its RTCPeerConnection and
 * the data channel for as long as it lives: a garbage-collected channel
 * wrapper silently closes the channel.
 */
import SimplePeer from 'simple-peer';
import { PeerConnection, type RtcConfig } from 'node-datachannel';
import { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate } from 'node-datachannel/polyfill';
import { randomBytes } from 'node:crypto';
import type { MessageChannel } from '../transfer/channel.js';
import type { PeerFactory, WebRtcPeer } from '../rendezvous/peer-factory.js';
import { checkGathered, describeIce, diagnoseNoRelay, ensureRtcLogger, hasTurn, iceFailureMessage, noRelayMessage, planConfig, turnLogMark } from './ice.js';
import { chooseMtu, hintHost, hintLinks, parseNetHint } from './path-mtu.js';
import { offerAsDtlsClient } from './dtls-role.js';
import { describePair, iceSettled, type PairInfo, type PolyfillPeerConnection } from './candidate-pair.js';
import { DataChannelTransport } from '../webrtc/datachannel.js';
import { peerConnectionOf } from '../webrtc/simple-peer-adapter.js';
import { primarySctpBuffer, setSctpBuffers } from './sctp-buffers.js';
import { MAX_STREAMS } from '../transfer/stripes.js';

/** A session description as the polyfill makes it (its DOM types do not resolve under our ES2022 lib). */
type Description = { type: string; sdp: string };

/** Every native connection this process made, until it is closed (see closeNativeConnections). */
const natives = new Set<PeerConnection>();

/** Counts `pc` among this process's native connections (closeNativeConnections closes it). */
export function trackNative(pc: PeerConnection): void {
  natives.add(pc);
}

/**
 * Before the process exits: close the native connections that ever connected
 * and wait (at most `timeoutMs`) until every closing one says `closed`, so no
 * libdatachannel thread is still working on one while the process tears down
 * (an exit in the middle of that can abort in glibc: "The futex facility
 * returned an unexpected error code", seen about once in 300 relayed runs).
 * A connection that never connected is left alone: it may be stuck in the
 * DTLS lock cycle (dtls-role.ts), where close() would block this thread.
 */
export async function closeNativeConnections(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const waiting: PeerConnection[] = [];
  for (const pc of natives) {
    const st = pc.state();
    if (st === 'closed') natives.delete(pc);
    else if (st === 'connected' || st === 'disconnected' || st === 'failed') {
      pc.close();
      waiting.push(pc);
    }
  }
  while (waiting.some((pc) => pc.state() !== 'closed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

function wrtcFor(config: RtcConfig) {
  class ShimPeerConnection extends RTCPeerConnection {
    native: PeerConnection;
    constructor() {
      const native = new PeerConnection(`movie-share-${randomBytes(4).toString('hex')}`, config);
      natives.add(native);
      super({ iceServers: [], peerConnection: native } as unknown as ConstructorParameters<typeof RTCPeerConnection>[0]);
      this.native = native;
      // W3C: gathering complete is announced by an icecandidate event with a null
      // candidate; the polyfill omits it, and simple-peer (non-trickle) waits for it.
      this.addEventListener('icegatheringstatechange', () => {
        if (this.iceGatheringState === 'complete') {
          (this.onicecandidate as ((e: { candidate: null }) => void) | null)?.({ candidate: null });
        }
      });
    }
    override async createOffer(...args: Parameters<RTCPeerConnection['createOffer']>): ReturnType<RTCPeerConnection['createOffer']> {
      const d = (await super.createOffer(...args)) as Description;
      return { type: d.type, sdp: d.sdp } as Awaited<ReturnType<RTCPeerConnection['createOffer']>>;
    }
    override async createAnswer(...args: Parameters<RTCPeerConnection['createAnswer']>): ReturnType<RTCPeerConnection['createAnswer']> {
      const d = (await super.createAnswer(...args)) as Description;
      return { type: d.type, sdp: d.sdp } as Awaited<ReturnType<RTCPeerConnection['createAnswer']>>;
    }
  }
  return { RTCPeerConnection: ShimPeerConnection, RTCSessionDescription, RTCIceCandidate };
}

/** A Node WebRTC peer: the rendezvous' view, plus the selected pair for the CLI. */
export interface NodeRtcPeer extends WebRtcPeer {
  /** which path the connection took (after 'connect') */
  pair(): PairInfo;
}

/** simple-peer on node-datachannel, configured from `config` with the given MTU. */
export function createNodePeer(host: boolean, config: RtcConfig, debugLine?: (line: string) => void): NodeRtcPeer {
  ensureRtcLogger(config, debugLine);
  const peer = new SimplePeer({
    initiator: host, // simple-peer's word: the side that makes the offer
    // One sealed offer and one sealed answer, each with every candidate: no
    // ordering races between descriptions and candidates through the relay.
    trickle: false,
    wrtc: wrtcFor(config) as unknown as SimplePeer.Options['wrtc'],
    config: { iceServers: [] },
    channelConfig: { ordered: true },
    channelName: 'movie-share',
  });
  const pc = (): PolyfillPeerConnection => peerConnectionOf<PolyfillPeerConnection>(peer);
  return {
    peer,
    localSdp: () => pc().localDescription?.sdp ?? '',
    remoteSdp: () => pc().remoteDescription?.sdp ?? '',
    channel: (lowWaterMark: number): MessageChannel => new DataChannelTransport(peer, pc().ext_maxMessageSize || 65536, lowWaterMark),
    settled: () => iceSettled(pc(), config.iceTransportPolicy === 'relay'),
    pair: () => describePair(pc),
  };
}

/**
 * The Node PeerFactory for one transfer, from the ICE options as configured;
 * `debugLine` prints the native stack's log under MOVIE_DEBUG_RTC; `streams`:
 * the most connections a transfer may be striped over (--streams).
 */
export function nodePeerFactory(config: RtcConfig, debugLine?: (line: string) => void, streams: number = MAX_STREAMS): PeerFactory<NodeRtcPeer> {
  const relayOnly = config.iceTransportPolicy === 'relay';
  let turnMark = turnLogMark();
  return {
    relayOnly,
    // the most connections this side stripes a transfer over (peer/transfer/stripes.ts); one under --relay-only
    streams: relayOnly ? 1 : streams,
    // behind TURN our addresses stay here (--relay-only promises it)
    localLinks: () => hintLinks({ bindAddress: config.bindAddress, relayOnly, turnConfigured: hasTurn(config) }),
    // one kernel and network namespace: the same value on both sides (path-mtu.ts)
    hostValue: (key) => hintHost(key, { relayOnly, turnConfigured: hasTurn(config) }),
    chooseMtu(mine, theirs, hosts = {}) {
      const hint = parseNetHint({ type: 'net', links: theirs, host: hosts.theirs });
      return hint ? chooseMtu(config.mtu, mine, hint.links, hasTurn(config), { mine: hosts.mine, theirs: hint.host }) : undefined;
    },
    hasTurn: hasTurn(config),
    describe: (plan) => describeIce(planConfig(config, plan)),
    create(host, mtu, plan, peerStreams) {
      turnMark = turnLogMark();
      const striped = peerStreams !== undefined && peerStreams > 1 && streams > 1 && plan !== 'relay';
      setSctpBuffers(primarySctpBuffer(mtu, { striped, cliPeer: peerStreams !== undefined }));
      return createNodePeer(host, { ...planConfig(config, plan), mtu }, debugLine);
    },
    // a relayed path: the host is the DTLS client (see dtls-role.ts)
    prepareOffer: (sdp, plan) => (plan === 'relay' ? offerAsDtlsClient(sdp) : sdp),
    checkGathered(sdp, plan) {
      const g = checkGathered(sdp, planConfig(config, plan));
      return {
        summary: g.summary,
        // only --relay-only makes a missing relay the end; on a relayed attempt of our own choosing the next attempt goes direct
        fatal: g.missingRelay && relayOnly,
        relayProblem: g.noRelay ? diagnoseNoRelay(turnMark).then((why) => ({ why, message: noRelayMessage(why, g.missingRelay) })) : undefined,
      };
    },
    failureMessage: (kind, detail, timeoutMs) => iceFailureMessage(kind, config, detail, timeoutMs),
  };
}
