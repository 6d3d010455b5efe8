/**
 * Which side of the connection is the DTLS client.
 *
 * libdatachannel 0.24 (inside node-datachannel 0.33) can deadlock when the
 * DTLS *server* receives the client's ClientHello before its own ICE agent has
 * reported "connected": the libjuice poll thread, holding the agent lock, runs
 * DtlsTransport::start() → handleTimeout() and waits for the SSL mutex, while a
 * worker thread holds the SSL mutex answering the ClientHello and waits for the
 * agent lock to send (upstream: libdatachannel PR #1630, merged after 0.24).
 * The process then hangs for good, even close() blocks. Through a TURN relay
 * on loopback it hit about one transfer in 4 to 15.
 *
 * It needs the relay: juice_send() takes the agent lock only for a relayed
 * pair. Which side reports ICE "connected" first decides who is exposed:
 * the DTLS server must be the first, or the client's ClientHello overtakes
 * the server's own state change. On a relayed path the receiver (answerer,
 * ICE-controlled) is first; on a direct path the host is. By default the
 * answerer is the DTLS client (RFC 8842 `a=setup:active`): right for direct
 * paths, wrong for relayed ones. So under --relay-only (the path is surely
 * relayed) the host's offer says `a=setup:active` (RFC 8842 lets an offerer
 * choose) and the receiver answers `a=setup:passive`, the DTLS server.
 * Measured through coturn on loopback: 0 stalls in 40 transfers, against 6 in
 * 40 with the default roles. With TURN only as a fallback the path is not known
 * in advance: the default roles stay (the swapped ones stalled once in ~6 runs
 * of the direct netns test: the receiver, ICE-connected last there, got the
 * ClientHello early), and a stall is left to the backstop in rendezvous.ts
 * (exit 5 within DTLS_TIMEOUT_MS, never a hang).
 *
 * The offer is sealed under the PAKE keys, and the DTLS fingerprints (not the
 * roles) are what the key confirmation binds, so this changes no security
 * property.
 */

/** The host's offer, rewritten so that the host is the DTLS client. */
export function offerAsDtlsClient(sdp: string): string {
  return sdp.replace(/^a=setup:actpass(\r?)$/gm, 'a=setup:active$1');
}
