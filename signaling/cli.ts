#!/usr/bin/env node
/**
 * movie-signal: the signaling server bin. Prints exactly
 * `listening on http://HOST:PORT` (`https://` with --tls-cert/--tls-key) on
 * stdout once ready; logs go to stderr. SIGTERM/SIGINT: tell connected peers
 * `shutdown`, close, exit 0.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isMovieShareError } from '../common/errors.js';
import type { IceServerConfig } from '../common/protocol/signal-protocol.js';
import { SIGNAL_DEFAULTS, startSignalServer, type RunningSignalServer, type SignalServerOptions } from './server/index.js';
import { readTlsFiles } from './server/tls.js';

const log = (line: string): void => {
  process.stderr.write(`${new Date().toISOString()} movie-signal: ${line}\n`);
};

function usage(message: string): never {
  process.stderr.write(`movie-signal: ${message}\n`);
  process.exit(2);
}

const intArg =
  (min: number, max: number) =>
  (v: string): number => {
    const n = Number(v);
    if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return n;
  };

const secondsArg = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || v.trim() === '') throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
};

const nonNegSecondsArg = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || v.trim() === '') throw new InvalidArgumentError('expected a number of seconds (0 or more)');
  return n;
};

function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === 'string' && s.length > 0);
}

function readIceConfig(file: string): Pick<SignalServerOptions, 'iceServers' | 'turnSecret'> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    usage(`cannot read the ICE config ${file}: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    usage(`the ICE config ${file} must be a JSON object like {"iceServers": [...], "turnSecret": {...}}.`);
  }
  const cfg = raw as Record<string, unknown>;
  const out: Pick<SignalServerOptions, 'iceServers' | 'turnSecret'> = {};
  if (cfg.iceServers !== undefined) {
    if (!Array.isArray(cfg.iceServers)) usage(`"iceServers" in ${file} must be an array.`);
    out.iceServers = cfg.iceServers.map((s: unknown, i: number): IceServerConfig => {
      const o = s as Record<string, unknown>;
      const urlsOk = typeof o?.urls === 'string' || isStringArray(o?.urls);
      if (!o || typeof o !== 'object' || !urlsOk) usage(`iceServers[${i}] in ${file} needs "urls" (a string or an array of strings).`);
      if (o.username !== undefined && typeof o.username !== 'string') usage(`iceServers[${i}].username in ${file} must be a string.`);
      if (o.credential !== undefined && typeof o.credential !== 'string') usage(`iceServers[${i}].credential in ${file} must be a string.`);
      return {
        urls: o.urls as string | string[],
        ...(o.username !== undefined ? { username: o.username } : {}),
        ...(o.credential !== undefined ? { credential: o.credential } : {}),
      };
    });
  }
  if (cfg.turnSecret !== undefined) {
    const t = cfg.turnSecret as Record<string, unknown>;
    if (!t || typeof t !== 'object' || typeof t.secret !== 'string' || !t.secret || !isStringArray(t.urls) || !t.urls.length) {
      usage(`"turnSecret" in ${file} must be {"secret": "...", "urls": ["turn:host:3478"], "ttlSeconds": 3600}.`);
    }
    if (t.ttlSeconds !== undefined && !(typeof t.ttlSeconds === 'number' && t.ttlSeconds > 0)) {
      usage(`"turnSecret.ttlSeconds" in ${file} must be a positive number.`);
    }
    out.turnSecret = { secret: t.secret, urls: t.urls, ...(t.ttlSeconds !== undefined ? { ttlSeconds: t.ttlSeconds } : {}) };
  }
  return out;
}

interface Flags {
  port: number;
  host: string;
  redis?: string;
  iceConfig?: string;
  roomTtl: number;
  maxRooms: number;
  rateLimitCreates: number;
  rateLimitJoins: number;
  rateLimitWindow: number;
  rateLimitJoinMissCost: number;
  maxSocketsPerAddress: number;
  socketLease: number;
  maxRoomsPerAddress: number;
  metricsPort?: number;
  metricsHost: string;
  rejoinGrace: number;
  trustProxy?: boolean;
  tlsCert?: string;
  tlsKey?: string;
}

/** Test and deployment override of the page's folder (default: `web/` beside the bundle, `dist/bin/web/`). */
const PAGE_DIR_ENV = 'MOVIE_PAGE_DIR';

function pageDirFromEnv(): string | undefined {
  const dir = process.env[PAGE_DIR_ENV];
  if (!dir) return undefined;
  if (!existsSync(join(dir, 'index.html'))) usage(`${PAGE_DIR_ENV}=${dir} has no index.html; point it at the web page's folder, or unset it.`);
  return dir;
}

function tlsFromFlags(f: Flags): Pick<SignalServerOptions, 'tls'> {
  if (!f.tlsCert && !f.tlsKey) return {};
  if (!f.tlsCert || !f.tlsKey) usage('--tls-cert and --tls-key go together: give both (or neither).');
  try {
    const { cert, key } = readTlsFiles(f.tlsCert, f.tlsKey);
    return { tls: { cert, key } };
  } catch (e) {
    if (isMovieShareError(e)) usage(e.message);
    throw e;
  }
}

const D = SIGNAL_DEFAULTS;
const program = new Command('movie-signal')
  .description('Signaling server for movie-share: introduces two peers; never sees files or the secret part of a code.')
  .addOption(new Option('--port <n>', 'TCP port (0 = any free port)').env('MOVIE_SIGNAL_PORT').default(D.port).argParser(intArg(0, 65535)))
  .addOption(new Option('--host <addr>', 'address to bind').env('MOVIE_SIGNAL_HOST').default(D.host))
  .addOption(new Option('--redis <url>', 'Redis URL: share rooms with other movie-signal nodes (scale-out)').env('MOVIE_SIGNAL_REDIS'))
  .addOption(new Option('--ice-config <file>', 'JSON file with {"iceServers": [...], "turnSecret": {...}} handed to peers').env('MOVIE_SIGNAL_ICE_CONFIG'))
  .addOption(
    new Option('--room-ttl <seconds>', 'idle time after which a room expires')
      .env('MOVIE_SIGNAL_ROOM_TTL')
      .default(D.roomTtlMs / 1000)
      .argParser(secondsArg),
  )
  .addOption(new Option('--max-rooms <n>', 'maximum open rooms').env('MOVIE_SIGNAL_MAX_ROOMS').default(D.maxRooms).argParser(intArg(1, 10_000_000)))
  .addOption(
    new Option('--rate-limit-creates <n>', 'rooms one client address may create per window')
      .env('MOVIE_SIGNAL_RATE_LIMIT_CREATES')
      .default(D.rateLimit.maxCreates)
      .argParser(intArg(0, 100_000_000)),
  )
  .addOption(
    new Option('--rate-limit-joins <n>', 'join attempts one client address may make per window')
      .env('MOVIE_SIGNAL_RATE_LIMIT_JOINS')
      .default(D.rateLimit.maxJoins)
      .argParser(intArg(0, 100_000_000)),
  )
  .addOption(
    new Option('--rate-limit-window <seconds>', 'rate-limit window')
      .env('MOVIE_SIGNAL_RATE_LIMIT_WINDOW')
      .default(D.rateLimit.windowMs / 1000)
      .argParser(secondsArg),
  )
  .addOption(
    new Option('--rate-limit-join-miss-cost <n>', 'join attempts a join answered "no such room" counts as (1 = no extra cost)')
      .env('MOVIE_SIGNAL_RATE_LIMIT_JOIN_MISS_COST')
      .default(D.rateLimit.joinMissCost)
      .argParser(intArg(1, 1_000_000)),
  )
  .addOption(
    new Option('--max-sockets-per-address <n>', 'connections one client address may hold open (with --redis: on all nodes together; 0 = no limit)')
      .env('MOVIE_SIGNAL_MAX_SOCKETS_PER_ADDRESS')
      .default(D.maxSocketsPerAddress)
      .argParser(intArg(0, 10_000_000)),
  )
  .addOption(
    new Option('--socket-lease <seconds>', 'with --redis: a node that dies stops counting its connections against their addresses within this (it renews them every third of it)')
      .env('MOVIE_SIGNAL_SOCKET_LEASE')
      .default(D.socketLeaseMs / 1000)
      .argParser(secondsArg),
  )
  .addOption(
    new Option('--max-rooms-per-address <n>', 'rooms one client address may host at once (0 = no limit)')
      .env('MOVIE_SIGNAL_MAX_ROOMS_PER_ADDRESS')
      .default(D.maxRoomsPerAddress)
      .argParser(intArg(0, 10_000_000)),
  )
  .addOption(
    new Option('--metrics-port <n>', 'serve /metrics on its own HTTP listener on this port instead of the main one (0 = any free port)')
      .env('MOVIE_SIGNAL_METRICS_PORT')
      .argParser(intArg(0, 65535)),
  )
  .addOption(new Option('--metrics-host <addr>', 'address the --metrics-port listener binds').env('MOVIE_SIGNAL_METRICS_HOST').default(D.metricsHost))
  .addOption(
    new Option('--rejoin-grace <seconds>', 'how long a peer whose connection dropped may reclaim its room')
      .env('MOVIE_SIGNAL_REJOIN_GRACE')
      .default(D.rejoinGraceMs / 1000)
      .argParser(nonNegSecondsArg),
  )
  .addOption(new Option('--trust-proxy', 'rate-limit by the address your proxy puts last in X-Forwarded-For (only behind a proxy you control)').env('MOVIE_SIGNAL_TRUST_PROXY'))
  .addOption(new Option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM, chain after it); needs --tls-key').env('MOVIE_SIGNAL_TLS_CERT'))
  .addOption(new Option('--tls-key <file>', 'the private key (PEM) of --tls-cert').env('MOVIE_SIGNAL_TLS_KEY'))
  .addHelpText('after', `\nThe browser page is served at / from web/ beside this program (dist/bin/web/); ${PAGE_DIR_ENV}=DIR serves another folder (tests, deployments).`)
  .helpOption('-h, --help', 'show this help')
  .showHelpAfterError(false)
  .exitOverride();

let flags: Flags;
try {
  program.parse(process.argv);
  flags = program.opts<Flags>();
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  throw e;
}

let server: RunningSignalServer | undefined;
let stopping = false;

async function stop(signal: string): Promise<void> {
  if (stopping) {
    log(`${signal} again: exiting now`);
    process.exit(1);
  }
  stopping = true;
  log(`${signal}: shutting down`);
  const hard = setTimeout(() => {
    log('shutdown took too long; exiting');
    process.exit(1);
  }, 10_000);
  hard.unref();
  try {
    await server?.close();
  } catch (e) {
    log(`error while closing: ${(e as Error).message}`);
  }
  process.exit(0);
}

process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
process.on('unhandledRejection', (e) => log(`unhandled rejection: ${(e as Error)?.message ?? e}`));

async function main(): Promise<void> {
  const ice = flags.iceConfig ? readIceConfig(flags.iceConfig) : {};
  const tls = tlsFromFlags(flags);
  const pageDir = pageDirFromEnv();
  try {
    server = await startSignalServer({
      host: flags.host,
      port: flags.port,
      ...(flags.redis ? { redisUrl: flags.redis } : {}),
      ...ice,
      roomTtlMs: Math.round(flags.roomTtl * 1000),
      maxRooms: flags.maxRooms,
      rateLimit: {
        windowMs: Math.round(flags.rateLimitWindow * 1000),
        maxCreates: flags.rateLimitCreates,
        maxJoins: flags.rateLimitJoins,
        joinMissCost: flags.rateLimitJoinMissCost,
      },
      maxSocketsPerAddress: flags.maxSocketsPerAddress,
      socketLeaseMs: Math.round(flags.socketLease * 1000),
      maxRoomsPerAddress: flags.maxRoomsPerAddress,
      ...(flags.metricsPort !== undefined ? { metricsPort: flags.metricsPort, metricsHost: flags.metricsHost } : {}),
      rejoinGraceMs: Math.round(flags.rejoinGrace * 1000),
      trustProxy: Boolean(flags.trustProxy),
      ...tls,
      ...(pageDir ? { pageDir } : {}),
      log,
    });
  } catch (e) {
    process.stderr.write(`movie-signal: ${(e as Error).message}\n`);
    process.exit(1);
  }
  if (stopping) {
    await server.close();
    process.exit(0);
  }
  process.stdout.write(`listening on ${server.url}\n`);
  if (server.metricsUrl) process.stdout.write(`metrics on ${server.metricsUrl}/metrics\n`);
}

void main();
