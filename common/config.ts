/**
 * Shared defaults and tunables. Every number that shapes the transport lives
 * here so the CLIs, tests and benchmarks agree on one set of values.
 */

/** Version of the data-channel protocol (docs/PROTOCOL.md). */
export const PROTOCOL_VERSION = 3;

export const DEFAULT_SIGNAL_URL = 'http://localhost:8080';
export const SIGNAL_URL_ENV = 'MOVIE_SIGNAL_URL';

export interface TransportTuning {
  /** plaintext bytes per chunk; capped by the channel's negotiated max message size */
  chunkSize: number;
  /** the host pauses when the data channel buffers more than this */
  highWaterMark: number;
  /** ...and resumes when it falls to this (`bufferedAmountLowThreshold`) */
  lowWaterMark: number;
  /** most plaintext bytes in flight that the receiver has not yet written (credit window) */
  windowBytes: number;
  /** the receiver acknowledges written bytes at least this often */
  ackBytes: number;
  /**
   * the host seals this many bytes of chunks before it hands them to the
   * channel back to back (and sooner whenever it must wait for the channel)
   */
  sendBatchBytes: number;
  /**
   * SCTP/DTLS MTU (bytes per UDP datagram, IP header included) handed to
   * libdatachannel; undefined = chosen per connection (peer/rtc/path-mtu.ts).
   */
  mtu: number | undefined;
}

export const DEFAULT_TUNING: TransportTuning = {
  chunkSize: 64 * 1024,
  highWaterMark: 4 * 1024 * 1024,
  lowWaterMark: 1 * 1024 * 1024,
  // 8 MiB: enough for 80 MB/s at 100 ms RTT; a larger window lets more
  // received chunks wait for the disk long enough to be promoted by V8, whose
  // memory then waits for a mark-compact (receiver peak RSS at 4 GiB: 118-124 MB
  // at 8 MiB, up to 200 MB at 32 MiB with movie-get's heap flag; PERFORMANCE.md)
  windowBytes: 8 * 1024 * 1024,
  ackBytes: 1024 * 1024,
  // 1 MiB (16 chunks): frames queued in a burst cost the SCTP stack less than
  // frames trickling in one per AES-GCM call: streaming +4.5 %, host CPU -5 %
  // (two A/B series on 512 MiB, mtu 4096; docs/PERFORMANCE.md). 3 MiB: no better.
  sendBatchBytes: 1024 * 1024,
  // Chosen per connection: 1280 (the IPv6 minimum, never fragmented on any
  // path, VPNs and TURN included) unless both sides prove they share one link,
  // then that link's MTU up to 4096 (~2x faster on loopback). `--mtu`
  // (MOVIE_MTU) overrides. Measured trade-off: docs/PERFORMANCE.md.
  mtu: undefined,
};

/** Liveness: a peer that sends nothing for this long is gone. */
export const PEER_TIMEOUT_MS = 10_000;
export const PING_INTERVAL_MS = 2_000;
/**
 * After its last word on the data channel (`done`, or an `abort`), a CLI waits
 * up to this long for the other side to close before it closes: closing at once
 * can lose that message (docs/RELIABILITY.md, "The last message could be lost at close").
 */
export const LINGER_MS = 3_000;
/** How long ICE/DTLS may take to connect before we give up (exit 5). */
export const CONNECT_TIMEOUT_MS = 30_000;
/**
 * Once ICE has connected, the DTLS handshake (a few round trips, retransmitted
 * after 1, 2, 4 s on loss) must open the data channel within this long;
 * otherwise the native stack is taken to be stuck (peer/rtc/dtls-role.ts).
 */
export const DTLS_TIMEOUT_MS = 12_000;
/**
 * The DTLS client's shorter bound: it cannot be caught in the lock cycle
 * (peer/rtc/dtls-role.ts), so it gives up this soon and tries again
 * (peer/rendezvous/handshake.ts); a handshake needs a few round trips.
 */
export const DTLS_STALL_MS = 3_000;
/**
 * An attempt on the direct path while a TURN relay waits as the fallback:
 * ICE must connect this soon after both descriptions are applied (on real
 * paths it takes well under a second), or the next attempt goes relayed.
 */
export const DIRECT_ATTEMPT_MS = 3_000;
/** A reconnection attempt (meeting room, nonces, ICE, DTLS) ends after this long. */
export const ATTEMPT_TIMEOUT_MS = 20_000;
/** How long the peers keep trying to reconnect after their connection is lost (--patience). */
export const DEFAULT_PATIENCE_MS = 120_000;
/** The receiver records its progress for resume at least every this many bytes. */
export const SIDECAR_EVERY_BYTES = 2 * 1024 * 1024;
