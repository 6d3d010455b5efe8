/**
 * Validation of everything a client sends to movie-signal. Nothing here
 * trusts the shape of its input: arguments may be any JSON value, Buffers
 * (binary attachments), or missing.
 */
import { SIGNAL_LIMITS, SIGNAL_PROTOCOL_VERSION, type Role, type SignalErrorReason, type SignalKind, type SignalPayload } from '../common/protocol/signal-protocol.js';
import { isValidMeetId, isValidRoomId, MEET_ID_LENGTH } from '../common/code/room-id.js';
import { isBase64 } from '../common/bytes.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: SignalErrorReason; message: string };

const MAX_KEYS = 16;
const KINDS: ReadonlySet<string> = new Set<SignalKind>(['pake', 'sdp', 'candidate', 'bye']);

const bad = (message: string): { ok: false; reason: 'bad-request'; message: string } => ({
  ok: false,
  reason: 'bad-request',
  message,
});

function plainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || ArrayBuffer.isView(x) || x instanceof ArrayBuffer) {
    return false;
  }
  const proto: unknown = Object.getPrototypeOf(x);
  return (proto === Object.prototype || proto === null) && Object.keys(x).length <= MAX_KEYS;
}

function request(x: unknown, what: string): Parsed<Record<string, unknown>> {
  if (!plainObject(x)) return bad(`${what} expects one object argument like {"v": ${SIGNAL_PROTOCOL_VERSION}, ...}.`);
  const v = x.v;
  if (typeof v !== 'number' || !Number.isInteger(v)) return bad(`${what} needs an integer protocol version "v".`);
  if (v !== SIGNAL_PROTOCOL_VERSION) {
    return {
      ok: false,
      reason: 'version',
      message: `This server speaks signaling protocol version ${SIGNAL_PROTOCOL_VERSION}, the client version ${v}; update movie-share (or the server) so both match.`,
    };
  }
  return { ok: true, value: x };
}

/** A room id for `join`; with `meetings`, a meeting id too (`rejoin` serves both kinds of room). */
function room(x: unknown, meetings = false): Parsed<string> {
  if (typeof x !== 'string' || x.length === 0 || x.length > SIGNAL_LIMITS.roomId) {
    return bad(`"room" must be a string of 1..${SIGNAL_LIMITS.roomId} characters.`);
  }
  // a meeting id is never a room id (and vice versa): `join` cannot reach a meeting room
  if (!(isValidRoomId(x) && !isValidMeetId(x)) && !(meetings && isValidMeetId(x))) {
    return { ok: false, reason: 'not-found', message: 'No room with that id is waiting (that is not a valid room id).' };
  }
  return { ok: true, value: x };
}

export function parseCreate(x: unknown): Parsed<object> {
  const r = request(x, 'create');
  return r.ok ? { ok: true, value: {} } : r;
}

export function parseJoin(x: unknown): Parsed<{ room: string }> {
  const r = request(x, 'join');
  if (!r.ok) return r;
  const id = room(r.value.room);
  return id.ok ? { ok: true, value: { room: id.value } } : id;
}

export function parseRejoin(x: unknown): Parsed<{ room: string; token: string }> {
  const r = request(x, 'rejoin');
  if (!r.ok) return r;
  const id = room(r.value.room, true);
  if (!id.ok) return id;
  const token = r.value.token;
  if (typeof token !== 'string' || token.length === 0 || token.length > SIGNAL_LIMITS.token) {
    return bad(`"token" must be a string of 1..${SIGNAL_LIMITS.token} characters.`);
  }
  return { ok: true, value: { room: id.value, token } };
}

/** `meet`: a meeting id (never an ordinary room id) and the slot the caller takes. */
export function parseMeet(x: unknown): Parsed<{ room: string; role: Role }> {
  const r = request(x, 'meet');
  if (!r.ok) return r;
  const id = r.value.room;
  if (!isValidMeetId(id) || isValidRoomId(id)) {
    return bad(`meet "room" must be a meeting id: "m" and ${MEET_ID_LENGTH - 1} characters of lowercase base32 (a-z, 2-7).`);
  }
  const role = r.value.role;
  if (role !== 'host' && role !== 'receiver') return bad('meet "role" must be "host" or "receiver".');
  return { ok: true, value: { room: id, role } };
}

/** A `signal` payload: `{kind, data}` with `data` an opaque base64 string within the kind's limit. */
export function parseSignal(x: unknown): Parsed<SignalPayload> {
  if (!plainObject(x)) return bad('signal expects one object argument {"kind", "data"}.');
  const { kind, data } = x;
  if (typeof kind !== 'string' || !KINDS.has(kind)) return bad('signal "kind" must be one of pake, sdp, candidate, bye.');
  const k = kind as SignalKind;
  if (typeof data !== 'string') return bad('signal "data" must be a base64 string.');
  const limit = SIGNAL_LIMITS[k];
  if (data.length > limit) return bad(`signal "${k}" data is ${data.length} characters; the limit is ${limit}.`);
  if (!isBase64(data)) return bad('signal "data" must be base64.');
  return { ok: true, value: { kind: k, data } };
}
