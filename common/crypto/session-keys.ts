/**
 * Keys derived from the CPace ISK (common/crypto/pake.ts) with HKDF-SHA256
 * (the crypto backend), one independent, labelled key per purpose and
 * direction, as the CPace draft recommends (§10.3: run ISK through a KDF).
 */
import { cryptoBackend } from './backend.js';
import { concatBytes, u32, utf8 } from '../bytes.js';
import { prependLen } from './pake.js';

export interface SessionKeys {
  /** 32-byte AES-256-GCM key: signaling payloads sealed by the host for the receiver. */
  sealHostToReceiver: Uint8Array;
  /** 32-byte AES-256-GCM key: signaling payloads sealed by the receiver for the host. */
  sealReceiverToHost: Uint8Array;
  /** 32-byte HMAC-SHA256 key for the host's key-confirmation MAC. */
  confirmHost: Uint8Array;
  /** 32-byte HMAC-SHA256 key for the receiver's key-confirmation MAC. */
  confirmReceiver: Uint8Array;
  /** Twelve digits, "1234 5678 9012" (about 40 bits); equal on both sides iff their ISKs are equal. */
  verification: string;
  /**
   * 32-byte secret for reconnecting (peer/rendezvous/meeting.ts): the meeting
   * room's id and each reconnection attempt's keys come from it.
   */
  reconnect: Uint8Array;
  /**
   * 32-byte HMAC-SHA256 key for the net hint's `host` value
   * (peer/rtc/path-mtu.ts, hostValue): per session, and per reconnection
   * attempt, so that the value cannot be linked across transfers.
   */
  sameHost: Uint8Array;
}

const SALT = utf8('movie-share/v1 session keys');
const LABEL = {
  sealHostToReceiver: 'movie-share/v1 seal host->receiver',
  sealReceiverToHost: 'movie-share/v1 seal receiver->host',
  confirmHost: 'movie-share/v1 confirm host',
  confirmReceiver: 'movie-share/v1 confirm receiver',
  verification: 'movie-share/v1 verification',
  reconnect: 'movie-share/v1 reconnect',
  sameHost: 'movie-share/v1 same host',
  meetingRoom: 'movie-share/v1 meeting room',
  attempt: 'movie-share/v1 reconnection attempt',
} as const;

function expand(isk: Uint8Array, label: string, length: number): Uint8Array {
  return cryptoBackend().hkdfSha256(isk, SALT, utf8(label), length);
}

/**
 * Derives all session keys from a CPace ISK (at least 32 bytes; CPace gives
 * 64). Deterministic; the keys are independent of one another (distinct HKDF
 * info labels) and reveal nothing about the ISK or each other.
 */
export function deriveSessionKeys(isk: Uint8Array): SessionKeys {
  if (!(isk instanceof Uint8Array) || isk.length < 32) throw new TypeError('ISK must be at least 32 bytes');
  const v8 = expand(isk, LABEL.verification, 8);
  const v = new DataView(v8.buffer, v8.byteOffset, 8).getBigUint64(0) % 10n ** 12n;
  const digits = v.toString().padStart(12, '0');
  return {
    sealHostToReceiver: expand(isk, LABEL.sealHostToReceiver, 32),
    sealReceiverToHost: expand(isk, LABEL.sealReceiverToHost, 32),
    confirmHost: expand(isk, LABEL.confirmHost, 32),
    confirmReceiver: expand(isk, LABEL.confirmReceiver, 32),
    verification: `${digits.slice(0, 4)} ${digits.slice(4, 8)} ${digits.slice(8)}`,
    reconnect: expand(isk, LABEL.reconnect, 32),
    sameHost: expand(isk, LABEL.sameHost, 32),
  };
}

/** RFC 4648 base32's alphabet, lower case: what a meeting room id is written in. */
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** characters of a meeting room id after its `m` (5 bits each: 130 bits) */
export const MEETING_ID_CHARS = 26;

/**
 * The meeting room of a session: `m` and 26 base32 characters (130 bits)
 * derived from the session's reconnect secret. Both peers compute it, nobody
 * else can; the server learns it, but everything said there is sealed.
 */
export function meetingRoomId(reconnect: Uint8Array): string {
  const bytes = cryptoBackend().hkdfSha256(reconnect, SALT, utf8(LABEL.meetingRoom), 17);
  let id = 'm';
  for (let i = 0; i < MEETING_ID_CHARS; i++) {
    const bit = i * 5;
    const word = (bytes[bit >> 3]! << 8) | bytes[(bit >> 3) + 1]!;
    id += BASE32[(word >> (11 - (bit & 7))) & 31];
  }
  return id;
}

/**
 * The keys of reconnection attempt `attempt`: from the session's reconnect
 * secret and both sides' fresh nonces (the host's first), so nothing sealed in
 * another attempt (or another session) opens in this one.
 */
export function deriveAttemptKeys(reconnect: Uint8Array, attempt: number, nonceHost: Uint8Array, nonceReceiver: Uint8Array): SessionKeys {
  const info = concatBytes(utf8(LABEL.attempt), u32(attempt), prependLen(nonceHost), prependLen(nonceReceiver));
  return deriveSessionKeys(cryptoBackend().hkdfSha256(reconnect, SALT, info, 64));
}
