/**
 * libdatachannel's SCTP settings: process-wide, taken by each association
 * when it is created (`setSctpSettings`), so they are set right before each
 * connection is made.
 *
 * - Send and receive buffers: a window of W bytes moves at most W / RTT: the
 *   library's 1 MiB caps one association at ~8.7 MB/s at 120 ms
 *   (docs/PERFORMANCE.md, "High round-trip times").
 * - The SACK delay: SACK_DELAY_MS instead of the library's 20 ms. With 20 ms,
 *   an association on a 120 ms path with no loss at all fell from 6 MB/s to
 *   0.2-0.4 MB/s a few seconds into most transfers, and never recovered
 *   (usrsctp retransmitted data that had arrived, as if its retransmission
 *   timer fired before the delayed acknowledgements came back); with 1 ms none did
 *   (docs/PERFORMANCE.md, "Delayed acknowledgements").
 */
import nodeDataChannel, { type SctpSettings } from 'node-datachannel';

const MiB = 1024 * 1024;
/** libdatachannel's SCTP send and receive buffers when we set none */
export const LIBRARY_SCTP_BUFFER = 1 * MiB;

/**
 * The primary connection's buffers, chosen before any round trip is measured,
 * from the MTU the net hints gave (peer/rtc/path-mtu.ts): the library's
 * default on one machine (4096: both sides proved one kernel); on any other
 * path toward a CLI 2 MiB (~17 MB/s at 120 ms; over the delay line's
 * long-haul profile, 100 Mbit/s, 120 ms, one association moved 10.2 MB/s with
 * 2 MiB, 4.6-6.2 with 1 MiB and 2.3-6.9 with 4 MiB, which overran the
 * bottleneck's queue), unless the
 * transfer is likely striped (`striped`: both sides stripe), when the extra
 * connections bring the rest of the path's budget (peer/rtc/path-tuning.ts):
 * buffers that add up to more than the path's bottleneck queue holds cost
 * more than they give (docs/PERFORMANCE.md, "High round-trip times"). Toward
 * a page (`cliPeer` false: its hint names no streams) the library's default
 * too: Chromium's 64 KiB UDP receive buffer drops a larger burst, and
 * usrsctp's recovery from that stalled a 32 MiB transfer to a page for two
 * minutes in a CI run.
 */
export function primarySctpBuffer(mtu: number, peer: { striped: boolean; cliPeer: boolean }): number | undefined {
  return mtu >= 4096 || peer.striped || !peer.cliPeer ? undefined : 2 * MiB;
}

/** how long usrsctp may hold back an acknowledgement (it acknowledges every second packet at once anyway) */
export const SACK_DELAY_MS = 1;
/** MOVIE_SCTP_SACK_MS=N: another SACK delay (for measurements: docs/PERFORMANCE.md) */
const sackDelay = Number(process.env.MOVIE_SCTP_SACK_MS) || SACK_DELAY_MS;

/** MOVIE_SCTP_BUFFER=BYTES: every association's buffers, whatever the path (for measurements: docs/PERFORMANCE.md) */
const forced = Number(process.env.MOVIE_SCTP_BUFFER) || undefined;

/** The settings for associations with `bytes` of SCTP buffers (undefined: the library's default). */
export function sctpSettings(bytes: number | undefined): SctpSettings {
  const size = forced ?? bytes;
  return { delayedSackTime: sackDelay, ...(size ? { recvBufferSize: size, sendBufferSize: size } : {}) };
}

/** Sets the SCTP buffers (undefined: the library's default) and the SACK delay of the associations made from now on. */
export function setSctpBuffers(bytes: number | undefined): void {
  nodeDataChannel.setSctpSettings(sctpSettings(bytes));
}
