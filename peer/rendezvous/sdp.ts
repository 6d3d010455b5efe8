/**
 * The SDP handling the rendezvous does itself: the host sends its offer
 * without candidates and the candidates after the answer (see rendezvous.ts),
 * so it splits them off here. Pure string work, the same on every platform.
 */

/** One candidate line, as simple-peer and RTCIceCandidate take it. */
export interface SdpCandidate {
  candidate: string;
  sdpMid: string;
  sdpMLineIndex: number;
}

/** An SDP without its candidate lines (and end-of-candidates), and those candidates for addIceCandidate. */
export function splitCandidates(sdp: string): { sdp: string; candidates: SdpCandidate[] } {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(/\r?\n/);
  // the mid of each media section, wherever its a=mid line is
  const mids: string[] = [];
  let section = -1;
  for (const l of lines) {
    if (l.startsWith('m=')) mids[++section] = String(section);
    else if (l.startsWith('a=mid:') && section >= 0) mids[section] = l.slice(6).trim();
  }
  const kept: string[] = [];
  const candidates: SdpCandidate[] = [];
  section = -1;
  for (const l of lines) {
    if (l.startsWith('m=')) section++;
    if (l.startsWith('a=candidate:')) candidates.push({ candidate: l.slice(2), sdpMid: mids[Math.max(section, 0)] ?? '0', sdpMLineIndex: Math.max(section, 0) });
    else if (!l.startsWith('a=end-of-candidates')) kept.push(l);
  }
  return { sdp: kept.join(eol), candidates };
}
