/**
 * libdatachannel's SCTP send and receive buffers: process-wide settings that
 * each association takes when it is created (`setSctpSettings`), so they are
 * set right before each connection is made. A window of W bytes moves at most
 * W / RTT: the library's 1 MiB caps one association at ~8.7 MB/s at 120 ms
 * (docs/PERFORMANCE.md, "High round-trip times").
 */
import nodeDataChannel from 'node-datachannel';

const MiB = 1024 * 1024;
/** libdatachannel's SCTP send and receive buffers when we set none */
export const LIBRARY_SCTP_BUFFER = 1 * MiB;

/**
 * The primary connection's buffers, chosen before any round trip is measured,
 * from the MTU the net hints gave (peer/rtc/path-mtu.ts): the library's
 * default on one machine (4096: both sides proved one kernel); on any other
 * path toward a CLI 4 MiB (enough for ~35 MB/s at 120 ms), unless the
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
  return mtu >= 4096 || peer.striped || !peer.cliPeer ? undefined : 4 * MiB;
}

/** MOVIE_SCTP_BUFFER=BYTES: every association's buffers, whatever the path (for measurements: docs/PERFORMANCE.md) */
const forced = Number(process.env.MOVIE_SCTP_BUFFER) || undefined;

/** Sets the SCTP buffers of the associations made from now on (undefined: the library's default). */
export function setSctpBuffers(bytes: number | undefined): void {
  const size = forced ?? bytes;
  nodeDataChannel.setSctpSettings(size ? { recvBufferSize: size, sendBufferSize: size } : {});
}
