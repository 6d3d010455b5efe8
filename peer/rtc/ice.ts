/**
 * ICE configuration: what the user gives on the command line or in the
 * environment, merged with what the signaling server hands out, turned into
 * libdatachannel's RtcConfig. Nothing here defaults to a public STUN server:
 * without configuration only host candidates are used (LAN / loopback).
 */
import { initLogger, type IceServer, type RtcConfig } from 'node-datachannel';
import type { IceServerConfig } from '../../common/protocol/signal-protocol.js';
import { usageError } from '../../common/errors.js';
import type { PathPlan } from '../rendezvous/peer-factory.js';

export interface IceOptions {
  /** stun:HOST[:PORT] URLs */
  stun: string[];
  /** turn:HOST[:PORT][?transport=tcp] with credentials */
  turn: { url: string; username: string; password: string }[];
  relayOnly: boolean;
  /** local address to bind ICE to (tests: 127.0.0.1) */
  bindAddress?: string;
  /** SCTP/DTLS MTU; undefined = library default */
  mtu?: number;
  portRangeBegin?: number;
  portRangeEnd?: number;
}

export const defaultIceOptions = (): IceOptions => ({ stun: [], turn: [], relayOnly: false });

function parseHostPort(url: string, scheme: string, defaultPort: number): { hostname: string; port: number; query: string } {
  const m = new RegExp(`^${scheme}:(?:\\[([^\\]]+)\\]|([^:?@/]+))(?::(\\d+))?(\\?.*)?$`).exec(url.trim());
  if (!m) throw usageError(`Bad ICE server URL "${url}": expected ${scheme}:HOST[:PORT].`);
  const port = m[3] ? Number(m[3]) : defaultPort;
  if (!(port > 0 && port < 65536)) throw usageError(`Bad port in ICE server URL "${url}".`);
  return { hostname: (m[1] ?? m[2])!, port, query: m[4] ?? '' };
}

/** A STUN URL as libdatachannel takes it. */
export function stunServer(url: string): IceServer {
  const { hostname, port } = parseHostPort(url, 'stuns?', 3478);
  return { hostname, port };
}

/** A TURN URL plus credentials as libdatachannel takes it. */
export function turnServer(url: string, username: string, password: string): IceServer {
  const tls = url.trim().startsWith('turns:');
  const { hostname, port, query } = parseHostPort(url, 'turns?', tls ? 5349 : 3478);
  const tcp = /transport=tcp/i.test(query);
  return { hostname, port, username, password, relayType: tls ? 'TurnTls' : tcp ? 'TurnTcp' : 'TurnUdp' };
}

/**
 * Our ICE agent (libjuice, inside node-datachannel's prebuilt libdatachannel)
 * speaks TURN over UDP only: a TCP or TLS TURN server is ignored with a log
 * warning, so under --relay-only it would silently leave us without a relay.
 */
const udpTurn = (s: IceServer): boolean => s.relayType === 'TurnUdp';

/** ICE servers handed out by the signaling server (already validated shape). */
export function serversFromSignal(list: IceServerConfig[]): IceServer[] {
  const out: IceServer[] = [];
  for (const s of list) {
    const urls = Array.isArray(s.urls) ? s.urls : [s.urls];
    for (const u of urls) {
      try {
        if (/^turns?:/.test(u) && s.username && s.credential) {
          const t = turnServer(u, s.username, s.credential);
          // servers usually list turn:...?transport=tcp and turns: too, for browsers: skip those
          if (udpTurn(t)) out.push(t);
        } else if (/^stuns?:/.test(u)) out.push(stunServer(u));
      } catch {
        // a URL we cannot parse from the server: ignore it rather than refuse to run
      }
    }
  }
  return out;
}

/** The user's --turn servers; a usage error for one our ICE agent cannot use (see udpTurn). */
function userTurnServers(opts: IceOptions): IceServer[] {
  const mine = opts.turn.map((t) => turnServer(t.url, t.username, t.password));
  if (mine.some((t) => !udpTurn(t))) {
    throw usageError('TURN over TCP or TLS is not supported (our WebRTC stack relays over UDP only): give --turn turn:HOST[:PORT] without transport=tcp or turns:.');
  }
  return mine;
}

/** Throws a usage error for a STUN/TURN URL we cannot use (checked before anything connects). */
export function validateIceOptions(opts: IceOptions): void {
  opts.stun.forEach(stunServer);
  userTurnServers(opts);
}

export function buildRtcConfig(opts: IceOptions, fromSignal: IceServerConfig[]): RtcConfig {
  const mine = userTurnServers(opts);
  const iceServers: IceServer[] = [...opts.stun.map(stunServer), ...mine, ...serversFromSignal(fromSignal)];
  if (opts.relayOnly && !iceServers.some(udpTurn)) {
    throw usageError('--relay-only needs a TURN server: give --turn URL --turn-user U --turn-pass P, or use a signaling server that hands one out.');
  }
  const cfg: RtcConfig = { iceServers, iceTransportPolicy: opts.relayOnly ? 'relay' : 'all' };
  if (opts.bindAddress) cfg.bindAddress = opts.bindAddress;
  if (opts.mtu) cfg.mtu = opts.mtu;
  if (opts.portRangeBegin) cfg.portRangeBegin = opts.portRangeBegin;
  if (opts.portRangeEnd) cfg.portRangeEnd = opts.portRangeEnd;
  return cfg;
}

/** One line for --verbose: which ICE servers and policy are in use (no secrets). */
export function describeIce(cfg: RtcConfig): string {
  const servers = (cfg.iceServers ?? []).map((s) =>
    typeof s === 'string'
      ? s.replace(/^(turns?:)[^@]*@/, '$1')
      : `${s.relayType ? `turn(${s.relayType === 'TurnUdp' ? 'udp' : s.relayType})` : 'stun'} ${s.hostname}:${s.port ?? 3478}`,
  );
  return `ICE policy ${cfg.iceTransportPolicy ?? 'all'}, servers: ${servers.length ? servers.join(', ') : 'none (host candidates only)'}${cfg.bindAddress ? `, bound to ${cfg.bindAddress}` : ''}`;
}

/** A TURN server is among the configuration's ICE servers (a relayed path is possible). */
const isTurn = (s: string | IceServer): boolean => (typeof s === 'string' ? /^turns?:/.test(s) : Boolean(s.relayType));
export const hasTurn = (cfg: RtcConfig): boolean => (cfg.iceServers ?? []).some(isTurn);

/**
 * The configuration of one attempt on `plan` (peer/rendezvous/peer-factory.ts):
 * `direct` leaves the TURN servers out, `relay` takes relayed candidates only
 * where a TURN server is configured (a side without one offers its own
 * candidates to the other's relay).
 */
export function planConfig(cfg: RtcConfig, plan: PathPlan): RtcConfig {
  if (plan === 'direct') return { ...cfg, iceServers: (cfg.iceServers ?? []).filter((s) => !isTurn(s)), iceTransportPolicy: 'all' };
  if (plan === 'relay' && hasTurn(cfg)) return { ...cfg, iceTransportPolicy: 'relay' };
  return cfg;
}

/*
 * TURN diagnostics. libjuice reports a refused TURN allocation only through
 * libdatachannel's log: "juice: TURN authentication failed" (wrong user name
 * or password, Error level) or "juice: TURN allocation failed" (no answer,
 * after ~24 s of retransmissions, Info level). Gathering then completes
 * without a relay candidate and, under the relay policy, ICE fails only after
 * ~40 s. We listen to the log (installed once, when a TURN server is
 * configured: the native logger is process-wide and keeps the event loop
 * alive, which the CLIs do not mind since they exit explicitly) and count
 * those lines; the rendezvous checks the gathered SDP and, if the relay is
 * missing, names the reason at once.
 */
export interface TurnLogMark {
  auth: number;
  allocation: number;
}
const turnLog: TurnLogMark = { auth: 0, allocation: 0 };
let loggerInstalled = false;

/**
 * Install the native logger if this configuration needs it (TURN, or
 * MOVIE_DEBUG_RTC, whose lines go to `debugLine`: the CLI's printer, which
 * keeps them off a live progress bar). Idempotent.
 */
export function ensureRtcLogger(cfg: RtcConfig, debugLine: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  const debug = Boolean(process.env.MOVIE_DEBUG_RTC);
  if (loggerInstalled || !(debug || hasTurn(cfg))) return;
  loggerInstalled = true;
  initLogger(debug ? (process.env.MOVIE_DEBUG_RTC === 'verbose' ? 'Verbose' : 'Debug') : 'Info', (level, message) => {
    if (debug) debugLine(`[rtc ${level}] ${message}`);
    if (/TURN authentication failed/i.test(message)) turnLog.auth++;
    else if (/TURN allocation failed/i.test(message)) turnLog.allocation++;
  });
}

/** The TURN failure counters now: take one when a peer connection is created. */
export function turnLogMark(): TurnLogMark {
  return { ...turnLog };
}

export type TurnFailure = 'auth' | 'allocation' | 'unknown';

/** Candidate types in an SDP (non-trickle: the SDP holds every gathered candidate). */
export function candidateTypes(sdp: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of sdp.matchAll(/^a=candidate:.* typ (\w+)/gm)) out[m[1]!] = (out[m[1]!] ?? 0) + 1;
  return out;
}

export interface GatherCheck {
  /** for --verbose */
  summary: string;
  /** the policy is relay and no relay candidate was gathered: the connection cannot work */
  missingRelay: boolean;
  /** TURN servers are configured (relay policy or not) but none gave a relay candidate */
  noRelay: boolean;
}

export function checkGathered(sdp: string, cfg: RtcConfig): GatherCheck {
  const types = candidateTypes(sdp);
  const list = Object.entries(types).map(([t, n]) => `${n} ${t}`);
  const noRelay = hasTurn(cfg) && !types.relay;
  return {
    summary: `gathered ${list.length ? list.join(', ') : 'no'} candidates`,
    missingRelay: cfg.iceTransportPolicy === 'relay' && !types.relay,
    noRelay,
  };
}

/**
 * Why no relay candidate came: waits briefly for the log line (the log and the
 * gathering-state events reach JavaScript through different queues).
 */
export async function diagnoseNoRelay(since: TurnLogMark, waitMs = 300): Promise<TurnFailure> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (turnLog.auth > since.auth) return 'auth';
    if (turnLog.allocation > since.allocation) return 'allocation';
    if (Date.now() >= deadline) return 'unknown';
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The sentence for a missing relay. `relayOnly`: the connection cannot go on without it. */
export function noRelayMessage(why: TurnFailure, relayOnly: boolean): string {
  const tail = relayOnly ? '; with --relay-only there is no other way to connect' : '';
  switch (why) {
    case 'auth':
      return `TURN authentication failed: the TURN server refused the user name or password, so no relay address was allocated${tail}. Check --turn-user/--turn-pass (or MOVIE_TURN_USER/MOVIE_TURN_PASS), or that the signaling server's turnSecret matches the TURN server's static-auth-secret.`;
    case 'allocation':
      return `The TURN server did not answer (TURN allocation failed)${tail}. Check the --turn URL and that the TURN server is reachable over UDP.`;
    default:
      return `No relay address was gathered from the TURN server${tail}. Check the TURN server, its URL and its credentials.`;
  }
}

/** The sentence for ICE failing or timing out, with advice that fits the policy. */
export function iceFailureMessage(kind: 'failed' | 'timeout', cfg: RtcConfig, detail?: string, timeoutMs?: number): string {
  const relay = cfg.iceTransportPolicy === 'relay';
  const what =
    kind === 'failed'
      ? `ICE failed: no network path between the two sides worked${detail ? ` (${detail})` : ''}`
      : `Timed out${timeoutMs ? ` after ${Math.round(timeoutMs / 1000)} s` : ''}: ICE did not connect the two sides`;
  const advice = relay
    ? 'Both sides must reach the TURN server and its relay ports over UDP; check its relay-ip and firewall.'
    : hasTurn(cfg)
      ? 'Check firewalls, or try --relay-only to force the TURN relay.'
      : 'Check firewalls, or use a TURN relay (--turn, or a signaling server that hands one out).';
  return `${what}. ${advice}`;
}
