/**
 * The transport sized from the path (docs/PERFORMANCE.md, "High round-trip
 * times"): how many connections a transfer is striped over
 * (peer/transfer/stripes.ts), each association's SCTP buffers, and the host's
 * credit window, from the round-trip time the striping layer measures and
 * the cores of this machine (the primary connection's SCTP buffers, made
 * before any round trip is measured: peer/rtc/sctp-buffers.ts).
 *
 * A window of W bytes moves at most W / RTT: libdatachannel's SCTP buffers
 * (1 MiB by default) cap one association at ~8.7 MB/s at 120 ms, and the
 * credit window (8 MiB by default) the whole transfer at ~70 MB/s.
 */
import type { RtcConfig } from 'node-datachannel';
import { availableParallelism } from 'node:os';
import { DEFAULT_TUNING } from '../../common/config.js';
import { MAX_STREAMS, StripedChannel, type StripePlan } from '../transfer/stripes.js';
import type { SecureSession } from '../transfer/session.js';
import type { Connected } from '../rendezvous/handshake.js';
import { trackNative, type NodeRtcPeer } from './node-peer.js';
import { LIBRARY_SCTP_BUFFER } from './sctp-buffers.js';
import { planConfig } from './ice.js';
import { nodeStripeConnector } from './stripe-connector.js';

const MiB = 1024 * 1024;
/** the rate we size windows for: what one transfer here can move at most (two loopback CLIs, mtu 4096) */
const TARGET_RATE = 200e6;
/** the rate the SCTP buffer budget of a path is sized for (a routed path's bottleneck, not loopback's) */
const BUDGET_RATE = 35e6;
/** round-trip times below this are one machine or one LAN: no window is too small there */
const LOCAL_RTT_MS = 5;

/**
 * How many connections (the primary included) for a path of `rttMs`, on
 * `cores` cores. On one machine or a LAN, one per two cores beyond the first
 * two (each side runs a native SCTP thread per association beside its
 * JavaScript, so two cores are taken by one association already), at most 4.
 * On longer paths 4: each association has its own congestion window, so a
 * random loss halves a quarter of the rate, not all of it (1 % loss at 40 ms:
 * 0.3 MB/s over one, 0.7 over four, 1.7 over eight; docs/PERFORMANCE.md).
 */
export function defaultStreams(rttMs: number | undefined, cores: number): number {
  if (rttMs === undefined || rttMs < LOCAL_RTT_MS) return Math.max(1, Math.min(4, Math.floor((cores - 2) / 2) + 1));
  return 4;
}

/**
 * Each extra association's SCTP buffers: a share of one budget for the whole
 * path, not a full window each. The budget is the bandwidth-delay product at
 * BUDGET_RATE, 1 to 4 MiB (the unstriped primary takes 2 MiB on a routed path,
 * peer/rtc/sctp-buffers.ts); each association at least 256 KiB (usrsctp's own
 * default). More than the path's bottleneck queue holds is worse than too
 * little: usrsctp recovers from a burst of tail drops slowly (over the delay
 * line's long-haul profile, 8 MiB per association fell to 2.5 MB/s where
 * 1 MiB moved 7.6).
 */
export function sctpBufferFor(rttMs: number | undefined, streams: number): number | undefined {
  if (rttMs === undefined || rttMs < LOCAL_RTT_MS) return undefined;
  const budget = Math.min(4 * MiB, Math.max(LIBRARY_SCTP_BUFFER, Math.ceil(BUDGET_RATE * (rttMs / 1000))));
  return Math.max(256 * 1024, Math.ceil(budget / streams));
}

/** The host's credit window: the bandwidth-delay product at the target rate, 8 (the default) to 32 MiB. */
export function windowFor(rttMs: number | undefined): number {
  if (rttMs === undefined) return DEFAULT_TUNING.windowBytes;
  return Math.min(32 * MiB, Math.max(DEFAULT_TUNING.windowBytes, Math.ceil(TARGET_RATE * (rttMs / 1000))));
}

export interface StripeOptions {
  host: boolean;
  /** the ICE configuration the CLI built (the extra connections take its direct plan) */
  config: RtcConfig;
  lowWaterMark: number;
  /** --streams: this many connections (host), at most this many (receiver); undefined: chosen */
  streams?: number;
  log?: (line: string) => void;
}

export interface Striped {
  session: SecureSession;
  /** the host's measured round-trip time (undefined: not measured, or the receiver) */
  rtt: Promise<number | undefined>;
}

/**
 * The transfer's session over several connections when both sides stripe
 * (their net hints said so); the session as it is otherwise. Never over a
 * relay: a TURN allocation per connection, for a path whose bottleneck is the
 * relay.
 */
export function stripeSession(c: Connected<NodeRtcPeer>, o: StripeOptions): Striped {
  if (c.peerStreams === undefined) return { session: c.session, rtt: Promise.resolve(undefined) };
  const relayed = o.config.iceTransportPolicy === 'relay' || c.rtc.pair().type === 'relay';
  const cores = availableParallelism();
  const plan = (rttMs: number | undefined): StripePlan => {
    const streams = relayed ? 1 : (o.streams ?? defaultStreams(rttMs, cores));
    const buf = sctpBufferFor(rttMs, streams);
    return { streams, params: buf ? { sctpBufferBytes: buf } : {} };
  };
  const channel = new StripedChannel(c.session.channel, {
    role: o.host ? 'host' : 'receiver',
    connector: nodeStripeConnector({ ...planConfig(o.config, 'direct'), mtu: c.mtu.mtu }, o.lowWaterMark, trackNative),
    plan,
    peerMax: c.peerStreams,
    max: relayed ? 1 : (o.streams ?? MAX_STREAMS),
    log: o.log,
  });
  return { session: { ...c.session, channel }, rtt: channel.rtt };
}
