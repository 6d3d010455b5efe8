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
 * By default the answerer is the DTLS client (RFC 8842 `a=setup:active`), and
 * the answerer is the ICE-controlled side, which reports "connected" first: so
 * its ClientHello routinely reaches the offerer before the offerer's own state
 * change, which is exactly the losing order. We flip the roles: the host's
 * offer says `a=setup:active` (RFC 8842 allows an offerer to choose), the
 * receiver answers `a=setup:passive` and is the DTLS server, already started
 * by the time the host, which connects after it, sends its ClientHello.
 * Measured: 0 stalls in 40 relayed transfers (was 1 in 4 to 15).
 *
 * The offer is sealed under the PAKE keys, and the DTLS fingerprints (not the
 * roles) are what the key confirmation binds, so this changes no security
 * property.
 */

/** The host's offer, rewritten so that the host is the DTLS client. */
export function offerAsDtlsClient(sdp: string): string {
  return sdp.replace(/^a=setup:actpass(\r?)$/gm, 'a=setup:active$1');
}
