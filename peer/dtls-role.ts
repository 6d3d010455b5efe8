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
 * pair. On a relayed path the receiver (answerer, ICE-controlled) tends to
 * report "connected" first, and by default the answerer is the DTLS client
 * (RFC 8842 `a=setup:active`), so its ClientHello reaches the host before the
 * host's own state change: exactly the losing order. So when a TURN server is
 * configured, the host's offer says `a=setup:active` (RFC 8842 lets an offerer
 * choose), the receiver answers `a=setup:passive` and is the DTLS server.
 * Measured through coturn on loopback: 0 stalls in 40 transfers, against 6
 * in 40 with the default roles. Without TURN the default roles stay: no relay,
 * no lock; and on a direct path the host tends to connect first, so with the
 * roles swapped the receiver gets the ClientHello before its DTLS transport
 * exists, loses it, and the handshake waits for the 1 s retransmission.
 *
 * The offer is sealed under the PAKE keys, and the DTLS fingerprints (not the
 * roles) are what the key confirmation binds, so this changes no security
 * property.
 */

/** The host's offer, rewritten so that the host is the DTLS client. */
export function offerAsDtlsClient(sdp: string): string {
  return sdp.replace(/^a=setup:actpass(\r?)$/gm, 'a=setup:active$1');
}
