/**
 * The signaling wire contract between peers and `movie-signal`, as typed
 * socket.io events. The server only ever sees room ids and opaque, size-bounded
 * payloads: PAKE messages (public group elements) and SDP / ICE candidates
 * sealed under the PAKE key. It relays `signal` payloads between the two
 * members of a room without interpreting them.
 */

export const SIGNAL_PROTOCOL_VERSION = 1;

/** Size limits enforced by the server on relayed payloads (characters of the base64 string). */
export const SIGNAL_LIMITS = {
  /** sealed SDP: a 64 KiB SDP, base64 + AEAD overhead */
  sdp: 88 * 1024,
  /** sealed ICE candidate: 2 KiB candidate, base64 + AEAD overhead */
  candidate: 3 * 1024,
  /** a PAKE message (32-byte point + framing) */
  pake: 1024,
  /** a "bye" (sealed reason) */
  bye: 1024,
  roomId: 32,
  token: 64,
} as const;

export type SignalKind = 'pake' | 'sdp' | 'candidate' | 'bye';

/** One relayed message. `data` is opaque to the server (base64). */
export interface SignalPayload {
  kind: SignalKind;
  data: string;
}

export type Role = 'host' | 'receiver';

/** ICE server as handed out by the server (`movie-signal --ice-config`). */
export interface IceServerConfig {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export type SignalErrorReason =
  | 'bad-request'
  | 'not-found'
  | 'busy'
  | 'rate-limited'
  | 'too-many-rooms'
  | 'expired'
  | 'not-in-room'
  /** (added) a `signal` could not be relayed: the other member is reconnecting (or has not joined yet) */
  | 'peer-absent'
  | 'version'
  | 'shutting-down'
  | 'internal';

export interface SignalError {
  ok: false;
  reason: SignalErrorReason;
  message: string;
}

export interface CreateRequest {
  v: number;
}
export interface CreateOk {
  ok: true;
  room: string;
  token: string;
  iceServers: IceServerConfig[];
}
export type CreateReply = CreateOk | SignalError;

export interface JoinRequest {
  v: number;
  room: string;
}
export interface JoinOk {
  ok: true;
  room: string;
  iceServers: IceServerConfig[];
  /** (added, optional) the receiver's secret to `rejoin` after its own connection dropped */
  token?: string;
  /** (added, optional) whether the host is connected right now (false while it is reconnecting) */
  peerPresent?: boolean;
}
export type JoinReply = JoinOk | SignalError;

/** A host whose connection (or whose node) dropped reclaims its room with the token (a receiver may do the same with the token from its JoinOk). */
export interface RejoinRequest {
  v: number;
  room: string;
  token: string;
}
export interface RejoinOk {
  ok: true;
  room: string;
  peerPresent: boolean;
  /** (added, optional) which member the token belongs to */
  role?: Role;
}
export type RejoinReply = RejoinOk | SignalError;

/**
 * (added) Either peer, reconnecting to a peer it already shares a PAKE session key with: the
 * meeting room `room` (`m` + 26 base32 characters, see `isValidMeetId` in common/code/room-id.ts)
 * is the one both derive from that key, and knowing it is the credential. The first to `meet`
 * creates it; a later `meet` takes the slot of its `role`, replacing whoever held it.
 */
export interface MeetRequest {
  v: number;
  room: string;
  role: Role;
}
export interface MeetOk {
  ok: true;
  room: string;
  /** the secret to `rejoin` after this connection dropped */
  token: string;
  /** whether the other member is connected right now */
  peerPresent: boolean;
  iceServers: IceServerConfig[];
}
export type MeetReply = MeetOk | SignalError;

export type SignalReply = { ok: true } | SignalError;

export interface PeerLeftInfo {
  reopened?: boolean;
}

export interface ClientToServerEvents {
  create: (req: CreateRequest, ack: (reply: CreateReply) => void) => void;
  join: (req: JoinRequest, ack: (reply: JoinReply) => void) => void;
  rejoin: (req: RejoinRequest, ack: (reply: RejoinReply) => void) => void;
  meet: (req: MeetRequest, ack: (reply: MeetReply) => void) => void;
  signal: (msg: SignalPayload, ack?: (reply: SignalReply) => void) => void;
  leave: () => void;
}

export interface ServerToClientEvents {
  /** to the host: a receiver joined its room; to either member: the other one came back (`rejoin`), or took its place in a meeting room (`meet`) */
  'peer-joined': () => void;
  /**
   * to either: the other member left (explicit `leave`), or its connection dropped and it did not `rejoin` within the grace period.
   * (added) `{reopened: true}`, to the host only: the receiver went away before it relayed any `pake` message, so it spent no
   * guess and the room is waiting for a receiver again; the host keeps waiting (a client that ignores the argument gives up as before)
   */
  'peer-left': (info?: PeerLeftInfo) => void;
  signal: (msg: SignalPayload) => void;
  /**
   * an error not tied to an ack (e.g. an event sent without an ack callback); `not-in-room` unasked: a
   * newer `meet` took this connection's place in its meeting room
   */
  'signal-error': (err: SignalError) => void;
  /** the node is shutting down (SIGTERM); reconnect or retry later */
  shutdown: () => void;
}
