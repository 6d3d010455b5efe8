/**
 * Which ICE candidate pair the connection selected (host, srflx, prflx, relay):
 * reported once connected, so users and tests can see whether a relay is used.
 */
import type { PeerConnection, SelectedCandidateInfo } from 'node-datachannel';
import type { PeerConnectionLike } from '../webrtc/simple-peer-adapter.js';

/** node-datachannel's polyfill RTCPeerConnection, with what it adds to the W3C API. */
export interface PolyfillPeerConnection extends PeerConnectionLike {
  selectedCandidatePair(): { local: SelectedCandidateInfo; remote: SelectedCandidateInfo } | null;
  readonly ext_maxMessageSize: number;
  /** the native connection: its iceState() tells "completed" apart (the polyfill folds it into "connected") */
  readonly native?: PeerConnection;
}

export interface PairInfo {
  /** the kind of path: "relay" if either end is a relay, else the local type */
  type: string;
  local: string;
  remote: string;
  summary: string;
}

export function describePair(pc: () => PolyfillPeerConnection): PairInfo {
  try {
    const p = pc().selectedCandidatePair();
    if (!p) return { type: 'unknown', local: '', remote: '', summary: 'candidate pair unknown' };
    const type = p.local.type === 'relay' || p.remote.type === 'relay' ? 'relay' : p.local.type;
    const local = `${p.local.type} ${p.local.address}:${p.local.port}`;
    const remote = `${p.remote.type} ${p.remote.address}:${p.remote.port}`;
    return { type, local, remote, summary: `${type}: ${local} <-> ${remote}` };
  } catch {
    return { type: 'unknown', local: '', remote: '', summary: 'candidate pair unknown' };
  }
}

const FINAL = new Set(['completed', 'failed', 'closed']);

/**
 * Resolves once the selected pair is final enough to report: at once if it is
 * direct (a nominated pair is never of lower priority than a relayed one) or
 * if only relays are allowed; otherwise when ICE completes (its nominated
 * pair), or after `maxMs`. Why: libjuice reports "connected" with the first
 * pair whose check succeeded, which on the controlled side is sometimes a
 * relayed pair that a direct, nominated pair replaces a moment later.
 */
export function iceSettled(pc: PolyfillPeerConnection, relayOnly: boolean, maxMs = 500): Promise<void> {
  // the native state: the polyfill reports "completed" as "connected"
  const ready = (): boolean => {
    try {
      const state = pc.native?.iceState() ?? 'closed';
      return relayOnly || FINAL.has(state) || describePair(() => pc).type !== 'relay';
    } catch {
      return true;
    }
  };
  if (ready()) return Promise.resolve();
  return new Promise((resolve) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      if (ready() || Date.now() - t0 >= maxMs) {
        clearInterval(poll);
        resolve();
      }
    }, 20);
  });
}
