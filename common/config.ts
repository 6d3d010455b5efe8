/**
 * Shared defaults and tunables. Every number that shapes the transport lives
 * here so the CLIs, tests and benchmarks agree on one set of values.
 */

/** Version of the data-channel protocol (docs/PROTOCOL.md). */
export const PROTOCOL_VERSION = 1;

export const DEFAULT_SIGNAL_URL = 'http://localhost:8080';
export const SIGNAL_URL_ENV = 'MOVIE_SIGNAL_URL';

export interface TransportTuning {
  /** plaintext bytes per chunk; capped by the channel's negotiated max message size */
  chunkSize: number;
  /** the sender pauses when the data channel buffers more than this */
  highWaterMark: number;
  /** ...and resumes when it falls to this (`bufferedAmountLowThreshold`) */
  lowWaterMark: number;
  /** most plaintext bytes in flight that the receiver has not yet written (credit window) */
  windowBytes: number;
  /** the receiver acknowledges written bytes at least this often */
  ackBytes: number;
  /**
   * SCTP/DTLS MTU (bytes per UDP datagram, IP header included) handed to
   * libdatachannel; undefined = the library's default, which is also 1280.
   */
  mtu: number | undefined;
}

export const DEFAULT_TUNING: TransportTuning = {
  chunkSize: 64 * 1024,
  highWaterMark: 4 * 1024 * 1024,
  lowWaterMark: 1 * 1024 * 1024,
  windowBytes: 32 * 1024 * 1024,
  ackBytes: 1024 * 1024,
  // 1280, the IPv6 minimum: no datagram is ever fragmented, on any path (VPNs
  // and TURN included). `--mtu 4096` (MOVIE_MTU) is ~2-3x faster on loopback
  // and LANs, where IP fragmentation is harmless, but can stall a transfer on
  // internet paths that drop fragments; above ~4096 nothing arrives (libjuice's
  // receive buffer). Measured trade-off: docs/PERFORMANCE.md.
  mtu: 1280,
};

/** Liveness: a peer that sends nothing for this long is gone. */
export const PEER_TIMEOUT_MS = 10_000;
export const PING_INTERVAL_MS = 2_000;
/**
 * After its last word on the data channel (`done`, or an `abort`), a CLI waits
 * up to this long for the other side to close before it closes: closing at once
 * can lose that message (issue 5).
 */
export const LINGER_MS = 3_000;
/** How long ICE/DTLS may take to connect before we give up (exit 5). */
export const CONNECT_TIMEOUT_MS = 30_000;
/** The receiver records its progress for resume at least every this many bytes. */
export const SIDECAR_EVERY_BYTES = 2 * 1024 * 1024;
