/**
 * The handshake transcript that both key-confirmation MACs cover. It binds the
 * session key from the PAKE to everything an attacker in the middle would have
 * to change: the DTLS certificate fingerprints of the connection actually in
 * use (each side reads them from its own local and remote SDP), the protocol
 * version, the receiver's RSA public key and the encrypted key message.
 */
import { authError, AUTH_FAILURE_SENTENCE } from '../errors.js';
import { constantTimeEqual, hmacSha256, lengthPrefixed } from './mac.js';
import { u32, u64, utf8 } from '../bytes.js';

export interface TranscriptInput {
  version: number;
  /** DTLS fingerprint of the host's certificate, "sha-256 AB:CD:..." */
  hostFingerprint: string;
  /** DTLS fingerprint of the receiver's certificate */
  receiverFingerprint: string;
  rsaPublicKey: Uint8Array;
  encryptedKey: Uint8Array;
}

const LABEL = utf8('movie-share transcript v2');
const SENDER_LABEL = utf8('sender key-confirmation');
const RECEIVER_LABEL = utf8('receiver key-confirmation');

/** Extract the DTLS certificate fingerprint from an SDP (normalized: "sha-256 AB:CD:..."). */
export function sdpFingerprint(sdp: string): string {
  const m = /^a=fingerprint:(\S+)\s+([0-9A-Fa-f:]+)\s*$/m.exec(sdp);
  if (!m) throw authError(AUTH_FAILURE_SENTENCE);
  return `${m[1]!.toLowerCase()} ${m[2]!.toUpperCase()}`;
}

export function transcriptBytes(t: TranscriptInput): Uint8Array {
  return lengthPrefixed(LABEL, u32(t.version), utf8(t.hostFingerprint), utf8(t.receiverFingerprint), t.rsaPublicKey, t.encryptedKey);
}

export function hostMac(confirmHost: Uint8Array, transcript: Uint8Array): Uint8Array {
  return hmacSha256(confirmHost, SENDER_LABEL, transcript);
}

/** What the receiver's confirm asks for; its MAC covers it, so nobody in the middle can change it. */
export interface ConfirmTerms {
  /** chunk ranges the receiver already has, flattened [s0, e0, ...] */
  have: readonly number[];
  /** bytes per second the receiver wants at most; 0: no cap */
  maxRate: number;
  /** SHA-256 (hex) of the bytes of the `have` chunks, concatenated in file order (of nothing when `have` is empty) */
  kept: string;
}

export function receiverMac(confirmReceiver: Uint8Array, transcript: Uint8Array, terms: ConfirmTerms): Uint8Array {
  return hmacSha256(confirmReceiver, RECEIVER_LABEL, transcript, u64(terms.maxRate), u32(terms.have.length), ...terms.have.map(u64), utf8(terms.kept));
}

/** Constant-time check; throws the authentication error (exit 4) on mismatch. */
export function checkMac(expected: Uint8Array, received: Uint8Array): void {
  if (!constantTimeEqual(expected, received)) throw authError(AUTH_FAILURE_SENTENCE);
}
