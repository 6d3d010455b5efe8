/**
 * What an embedder (the `movie-signal` bin in `signaling/cli.ts`, or
 * `movie-share` running the server in-process) may configure, the defaults,
 * and the check that refuses nonsense before anything is opened.
 */
import type { IceServerConfig } from '../../common/protocol/signal-protocol.js';
import type { TlsPem } from './tls.js';
import { defaultPageDir } from './page.js';
import type { RateLimits } from './limits.js';

export interface SignalServerOptions {
  host?: string; // default '0.0.0.0'
  port?: number; // default 8080; 0 = ephemeral
  redisUrl?: string; // scale-out mode when set
  iceServers?: IceServerConfig[]; // static ICE servers handed to clients in create/join replies
  turnSecret?: { secret: string; urls: string[]; ttlSeconds?: number }; // coturn use-auth-secret REST creds minted per client
  roomTtlMs?: number; // idle TTL, default 10 min
  maxRooms?: number; // default 10000
  /** per client address (an IPv4 address, or an IPv6 /64); `joinMissCost` defaults to SIGNAL_DEFAULTS.rateLimit.joinMissCost */
  rateLimit?: { windowMs: number; maxCreates: number; maxJoins: number; joinMissCost?: number };
  /** socket.io connections one client address may hold open (on all nodes together with `redisUrl`); 0 = no limit; default 64 */
  maxSocketsPerAddress?: number;
  /**
   * with `redisUrl`: how long this node's entries in the shared per-address connection counts
   * outlive it if it dies without closing them (it renews them every third of this); default 30 s
   */
  socketLeaseMs?: number;
  /** rooms one client address may host at once (all nodes); 0 = no limit; default 32 */
  maxRoomsPerAddress?: number;
  /** serve `/metrics` on its own plain-HTTP listener on this port (0 = any free one) instead of on the main one */
  metricsPort?: number;
  /** the address the metrics listener binds; default 127.0.0.1 */
  metricsHost?: string;
  log?: (line: string) => void;
  /** how long a member whose connection dropped may `rejoin` before it counts as gone; default 30 s */
  rejoinGraceMs?: number;
  /** take the client address for rate limits from X-Forwarded-For (only behind a trusted proxy); default false */
  trustProxy?: boolean;
  /**
   * the browser page's folder (`index.html`, `app.js`, …), served at `/`; default: `web/` beside the
   * running bundle (`dist/bin/web/`), and when there is none `/` answers 404 (see `page.ts`)
   */
  pageDir?: string;
  /** serve HTTPS (and socket.io over it) with this certificate and key, PEM texts (see `tls.ts`); default plain HTTP */
  tls?: TlsPem;
}

export interface RunningSignalServer {
  /** `http://HOST:PORT`, or `https://…` with `tls` */
  url: string;
  port: number;
  /** the folder the browser page is served from, when it held an `index.html` at start */
  pageDir: string | undefined;
  /** `http://HOST:PORT` of the separate metrics listener, when `metricsPort` was given */
  metricsUrl: string | undefined;
  close(): Promise<void>;
}

export const SIGNAL_DEFAULTS = {
  host: '0.0.0.0',
  port: 8080,
  roomTtlMs: 10 * 60_000,
  maxRooms: 10_000,
  rejoinGraceMs: 30_000,
  /**
   * Per client address (an IPv4 address, or an IPv6 /64), per window. A join
   * ends the code it names, so joins are what an attacker burning codes
   * spends: 20 a minute is far above what a person typing codes needs, and a
   * join answered `not-found` (a wrong guess) costs 5, so an address that
   * keeps guessing gets 4 guesses a minute (about 40 per 10-minute room TTL).
   * Creates stay generous: a room costs the server little and ends by itself.
   * Load tests raise both (bench/signal-load.ts).
   */
  rateLimit: { windowMs: 60_000, maxCreates: 1200, maxJoins: 20, joinMissCost: 5 },
  /** open connections per address (all nodes): a person needs one or two; 64 leaves room for a NAT full of them */
  maxSocketsPerAddress: 64,
  /** a crashed node's connections stop counting against their addresses within this */
  socketLeaseMs: 30_000,
  /** rooms one address hosts at once: a sender shares a few files at a time, not 32 */
  maxRoomsPerAddress: 32,
  metricsHost: '127.0.0.1',
  /** socket.io / engine.io frame limit; a sealed SDP (the largest message) is < 90 KiB */
  maxHttpBufferSize: 128 * 1024,
} as const;

/** The options with every default filled in, so the parts of the server never repeat a `??`. */
export interface ResolvedOptions {
  log: (line: string) => void;
  host: string;
  port: number;
  ttlMs: number;
  graceMs: number;
  maxRooms: number;
  rate: RateLimits;
  maxSocketsPerAddr: number;
  socketLeaseMs: number;
  maxRoomsPerAddr: number;
  /** undefined: /metrics on the main listener */
  metricsPort: number | undefined;
  metricsHost: string;
  staticIce: IceServerConfig[];
  turnSecret: SignalServerOptions['turnSecret'];
  redisUrl: string | undefined;
  trustProxy: boolean;
  /** undefined: no page (not built) */
  pageDir: string | undefined;
  tls: TlsPem | undefined;
}

/** Fill in the defaults; throw (before anything is opened) when a limit could never work. */
export function resolveOptions(opts: SignalServerOptions): ResolvedOptions {
  const r: ResolvedOptions = {
    log: opts.log ?? (() => undefined),
    host: opts.host ?? SIGNAL_DEFAULTS.host,
    port: opts.port ?? SIGNAL_DEFAULTS.port,
    ttlMs: opts.roomTtlMs ?? SIGNAL_DEFAULTS.roomTtlMs,
    graceMs: opts.rejoinGraceMs ?? SIGNAL_DEFAULTS.rejoinGraceMs,
    maxRooms: opts.maxRooms ?? SIGNAL_DEFAULTS.maxRooms,
    rate: { joinMissCost: SIGNAL_DEFAULTS.rateLimit.joinMissCost, ...(opts.rateLimit ?? SIGNAL_DEFAULTS.rateLimit) },
    maxSocketsPerAddr: opts.maxSocketsPerAddress ?? SIGNAL_DEFAULTS.maxSocketsPerAddress,
    socketLeaseMs: opts.socketLeaseMs ?? SIGNAL_DEFAULTS.socketLeaseMs,
    maxRoomsPerAddr: opts.maxRoomsPerAddress ?? SIGNAL_DEFAULTS.maxRoomsPerAddress,
    metricsPort: opts.metricsPort,
    metricsHost: opts.metricsHost ?? SIGNAL_DEFAULTS.metricsHost,
    staticIce: opts.iceServers ?? [],
    turnSecret: opts.turnSecret,
    redisUrl: opts.redisUrl,
    trustProxy: Boolean(opts.trustProxy),
    pageDir: opts.pageDir ?? defaultPageDir(),
    tls: opts.tls,
  };
  if (!(r.ttlMs > 0) || !(r.socketLeaseMs >= 300) || !(r.graceMs >= 0) || !(r.maxRooms > 0) || !(r.rate.windowMs > 0)) {
    throw new Error('Invalid signaling server options: TTL, max rooms and rate-limit window must be positive, the socket lease at least 0.3 s.');
  }
  if (!(r.rate.joinMissCost >= 1) || !(r.maxSocketsPerAddr >= 0) || !(r.maxRoomsPerAddr >= 0)) {
    throw new Error('Invalid signaling server options: the join-miss cost must be at least 1, the per-address limits 0 (none) or more.');
  }
  return r;
}
