/**
 * The page's WebRTC (the PeerFactory of peer/rendezvous/peer-factory.ts):
 * simple-peer on the browser's own RTCPeerConnection, the same library and
 * options as the Node shell (peer/rtc/node-peer.ts) minus what only a native
 * stack needs.
 *
 * What a page cannot do, and what follows:
 *  - it cannot read its interfaces or their MTUs, so its net hint lists no
 *    links; the other side then finds no shared link and uses the safe MTU of
 *    1280 (peer/rtc/path-mtu.ts). That is also the cap a browser needs:
 *    Chromium stalled receiving from a node peer at SCTP MTU 4096.
 *  - it cannot set its own SCTP packet size: the browser chooses (about 1200).
 *  - its host candidates are mDNS `.local` names; the connection still forms,
 *    because the browser checks the other side's plain addresses.
 */
import SimplePeer from 'simple-peer';
import type { IceServerConfig } from '../../common/protocol/signal-protocol.js';
import type { LinkHint, MtuChoice, PathPlan, PeerFactory, WebRtcPeer } from '../rendezvous/peer-factory.js';
import type { MessageChannel } from '../transfer/channel.js';
import { DataChannelTransport } from '../webrtc/datachannel.js';
import { peerConnectionOf } from '../webrtc/simple-peer-adapter.js';

/** the most links a net hint may list (as the Node shell accepts) */
const MAX_LINKS = 32;
/** what a browser's SCTP sends per packet; only reported, never configured */
const BROWSER_MTU = 1200;

/** A well-formed net hint from the other side: a short list of { address, prefix, mtu }. */
function isLinkList(v: unknown): v is LinkHint[] {
  return (
    Array.isArray(v) &&
    v.length <= MAX_LINKS &&
    v.every((l: unknown) => {
      const x = l as Partial<LinkHint> | null;
      return typeof x === 'object' && x !== null && typeof x.address === 'string' && x.address.length <= 64 && Number.isInteger(x.prefix) && Number.isInteger(x.mtu);
    })
  );
}

function candidateTypes(sdp: string): string {
  const types = [...sdp.matchAll(/^a=candidate:\S+ \d+ \S+ \d+ \S+ \d+ typ (\w+)/gm)].map((m) => m[1]);
  const count = (t: string): number => types.filter((x) => x === t).length;
  return `gathered ${count('host')} host, ${count('srflx')} server-reflexive, ${count('relay')} relay candidates`;
}

/** The browser's configuration for an attempt on `plan` (peer/rendezvous/peer-factory.ts). */
function planConfig(config: RTCConfiguration, plan: PathPlan): RTCConfiguration {
  const turn = (s: RTCIceServer): boolean => [s.urls].flat().some((u) => /^turns?:/.test(u));
  if (plan === 'direct') return { ...config, iceServers: (config.iceServers ?? []).filter((s) => !turn(s)) };
  if (plan === 'relay' && (config.iceServers ?? []).some(turn)) return { ...config, iceTransportPolicy: 'relay' };
  return config;
}

/** The page's PeerFactory for one transfer, with the ICE servers the signaling server handed out. */
export function browserPeerFactory(iceServers: IceServerConfig[]): PeerFactory {
  const config: RTCConfiguration = { iceServers: iceServers.map((s) => ({ urls: s.urls, username: s.username, credential: s.credential })) };
  return {
    relayOnly: false,
    hasTurn: iceServers.some((s) => [s.urls].flat().some((u) => /^turns?:/.test(u))),
    localLinks: () => [],
    // a page cannot tell which machine it runs on: no host value, so never the same-host MTU
    hostValue: () => undefined,
    chooseMtu: (_mine, theirs): MtuChoice | undefined => (isLinkList(theirs) ? { mtu: BROWSER_MTU, reason: "the browser's own SCTP packet size" } : undefined),
    describe: () =>
      iceServers.length ? `ICE servers: ${iceServers.map((s) => [s.urls].flat().join(' ')).join(', ')}` : 'ICE: host candidates only (no STUN/TURN server configured)',
    create(host, _mtu, plan): WebRtcPeer {
      const peer = new SimplePeer({
        initiator: host,
        trickle: false, // one sealed description each way, with every candidate (peer/rendezvous/handshake.ts)
        config: planConfig(config, plan),
        channelConfig: { ordered: true },
        channelName: 'movie-share',
      });
      const pc = (): RTCPeerConnection => peerConnectionOf<RTCPeerConnection & { localDescription: { sdp: string } | null; remoteDescription: { sdp: string } | null }>(peer);
      return {
        peer,
        localSdp: () => pc().localDescription?.sdp ?? '',
        remoteSdp: () => pc().remoteDescription?.sdp ?? '',
        channel: (lowWaterMark: number): MessageChannel => new DataChannelTransport(peer, pc().sctp?.maxMessageSize || 65536, lowWaterMark),
        settled: () => Promise.resolve(),
      };
    },
    // a relayed path: the host is the DTLS client (as peer/rtc/dtls-role.ts explains for the Node side)
    prepareOffer: (sdp, plan) => (plan === 'relay' ? sdp.replace(/^a=setup:actpass(\r?)$/gm, 'a=setup:active$1') : sdp),
    checkGathered: (sdp) => ({ summary: candidateTypes(sdp), fatal: false }),
    failureMessage(kind, detail, timeoutMs) {
      const why = kind === 'timeout' ? `did not connect within ${Math.round((timeoutMs ?? 0) / 1000)} s` : `failed${detail ? ` (${detail})` : ''}`;
      return `The direct connection to the other side ${why}. A firewall may block it; the sender can add a TURN relay. Try again with a new code.`;
    },
  };
}
