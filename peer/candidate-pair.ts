/**
 * Which ICE candidate pair the connection selected (host, srflx, prflx, relay):
 * reported once connected, so users and tests can see whether a relay is used.
 */
import type { WebRtcPeer } from './webrtc.js';

export interface PairInfo {
  /** the kind of path: "relay" if either end is a relay, else the local type */
  type: string;
  local: string;
  remote: string;
  summary: string;
}

export function describePair(rtc: WebRtcPeer): PairInfo {
  try {
    const p = rtc.pc().selectedCandidatePair();
    if (!p) return { type: 'unknown', local: '', remote: '', summary: 'candidate pair unknown' };
    const type = p.local.type === 'relay' || p.remote.type === 'relay' ? 'relay' : p.local.type;
    const local = `${p.local.type} ${p.local.address}:${p.local.port}`;
    const remote = `${p.remote.type} ${p.remote.address}:${p.remote.port}`;
    return { type, local, remote, summary: `${type}: ${local} <-> ${remote}` };
  } catch {
    return { type: 'unknown', local: '', remote: '', summary: 'candidate pair unknown' };
  }
}
