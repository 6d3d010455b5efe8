/**
 * ICE configuration: what the user gives on the command line or in the
 * environment, merged with what the signaling server hands out, turned into
 * libdatachannel's RtcConfig. Nothing here defaults to a public STUN server:
 * without configuration only host candidates are used (LAN / loopback).
 */
import type { IceServer, RtcConfig } from 'node-datachannel';
import type { IceServerConfig } from '../common/signal-protocol.js';
import { usageError } from '../common/errors.js';

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

/** ICE servers handed out by the signaling server (already validated shape). */
export function serversFromSignal(list: IceServerConfig[]): IceServer[] {
  const out: IceServer[] = [];
  for (const s of list) {
    const urls = Array.isArray(s.urls) ? s.urls : [s.urls];
    for (const u of urls) {
      if (/^turns?:/.test(u) && s.username && s.credential) out.push(turnServer(u, s.username, s.credential));
      else if (/^stuns?:/.test(u)) out.push(stunServer(u));
    }
  }
  return out;
}

export function buildRtcConfig(opts: IceOptions, fromSignal: IceServerConfig[]): RtcConfig {
  const iceServers: IceServer[] = [
    ...opts.stun.map(stunServer),
    ...opts.turn.map((t) => turnServer(t.url, t.username, t.password)),
    ...serversFromSignal(fromSignal),
  ];
  if (opts.relayOnly && !iceServers.some((s) => s.relayType)) {
    throw usageError('--relay-only needs a TURN server: give --turn URL --turn-user U --turn-pass P, or use a signaling server that hands one out.');
  }
  const cfg: RtcConfig = { iceServers, iceTransportPolicy: opts.relayOnly ? 'relay' : 'all' };
  if (opts.bindAddress) cfg.bindAddress = opts.bindAddress;
  if (opts.mtu) cfg.mtu = opts.mtu;
  if (opts.portRangeBegin) cfg.portRangeBegin = opts.portRangeBegin;
  if (opts.portRangeEnd) cfg.portRangeEnd = opts.portRangeEnd;
  return cfg;
}
