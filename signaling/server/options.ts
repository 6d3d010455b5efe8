/**
 * What an embedder (the `movie-signal` bin in `signaling/cli.ts`, or
 * `movie-share` running the server in-process) may configure, the defaults,
 * and the check that refuses nonsense before anything is opened.
 */
import type { IceServerConfig } from '../../common/protocol/signal-protocol.js';
import type { TlsPem } from './tls.js';
import { defaultPageDir } from './page.js';

export interface SignalServerOptions {
  host?: string; // default '0.0.0.0'
  port?: number; // default 8080; 0 = ephemeral
  redisUrl?: string; // scale-out mode when set
  iceServers?: IceServerConfig[]; // static ICE servers handed to clients in create/join replies
  turnSecret?: { secret: string; urls: string[]; ttlSeconds?: number }; // coturn use-auth-secret REST creds minted per client
  roomTtlMs?: number; // idle TTL, default 10 min
  maxRooms?: number; // default 10000
  rateLimit?: { windowMs: number; maxCreates: number; maxJoins: number }; // per client address
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
  close(): Promise<void>;
}

export const SIGNAL_DEFAULTS = {
  host: '0.0.0.0',
  port: 8080,
  roomTtlMs: 10 * 60_000,
  maxRooms: 10_000,
  rejoinGraceMs: 30_000,
  /** per client address: generous enough for a 1000-room load test from one address, small enough to stop code-burning floods */
  rateLimit: { windowMs: 60_000, maxCreates: 1200, maxJoins: 1200 },
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
  rate: { windowMs: number; maxCreates: number; maxJoins: number };
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
    rate: opts.rateLimit ?? SIGNAL_DEFAULTS.rateLimit,
    staticIce: opts.iceServers ?? [],
    turnSecret: opts.turnSecret,
    redisUrl: opts.redisUrl,
    trustProxy: Boolean(opts.trustProxy),
    pageDir: opts.pageDir ?? defaultPageDir(),
    tls: opts.tls,
  };
  if (!(r.ttlMs > 0) || !(r.graceMs >= 0) || !(r.maxRooms > 0) || !(r.rate.windowMs > 0)) {
    throw new Error('Invalid signaling server options: TTL, max rooms and rate-limit window must be positive.');
  }
  return r;
}
