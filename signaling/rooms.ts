/**
 * Room logic of movie-signal: the one place that decides who may create, join,
 * rejoin, leave and relay, and when a room ends.
 *
 * A room holds exactly one host and at most one receiver, ever. The rules are
 * written once, as pure transitions over a `RoomState` record (`RoomManager`);
 * storage is behind `RoomStore`, with an in-memory implementation here and a
 * Redis one in `server/redis-store.ts`. Every write is a compare-and-set on the
 * room's version, so the same code is correct when several nodes share Redis:
 * a transition that lost a race is re-read and re-applied.
 *
 * Lifecycle:
 *  - `create` (host): a fresh room id and a secret host token.
 *  - `join` (receiver): pairs; the host gets `peer-joined`. A room whose
 *    receiver relayed a `pake` message (its one guess at the code) is never
 *    joinable again (one receiver per code): a second joiner gets `busy`, an
 *    unknown id `not-found`.
 *  - a receiver that leaves (or whose connection drops) before it relayed
 *    any `pake` message spent no guess: the room is waiting again, joinable by
 *    the next receiver, and the host gets `peer-left` with `{reopened: true}`
 *    (it keeps waiting). A host's own messages while no receiver is there do
 *    not keep a room alive.
 *  - a member `leave`s: the other gets `peer-left` at once.
 *  - a member's connection drops: it has `graceMs` to `rejoin` with its token
 *    (a node restart, a network blip). Only if it does not come back in time
 *    does the other get `peer-left`. On `rejoin` the other gets `peer-joined`
 *    (clients treat it as "present again"). A `signal` for a member that is
 *    away is refused with `peer-absent` so the sender can hold it.
 *  - the room ends when the host leaves explicitly, when the host's grace
 *    period runs out, when the receiver leaves while the host is away, or
 *    after `ttlMs` without activity (present members get `signal-error`
 *    with reason `expired`).
 *
 * Meeting rooms (`meet`): two peers that already share a PAKE session key
 * reconnect through a room whose id both derive from that key (`m` + 26
 * base32 characters, a namespace of its own: `join` never reaches a meeting
 * room, `meet` never an ordinary one). Knowing the id is the credential, and
 * the server holds no state the peers depend on: after a restart that lost
 * every room (memory store), `meet` simply creates it again.
 *  - `meet(id, role)`, room absent: created with the caller in the slot of
 *    `role` (host or receiver), a fresh token; `peerPresent: false`.
 *  - slot of `role` empty: the caller takes it; the other member, if
 *    connected, gets `peer-joined`; `peerPresent` says whether it is.
 *  - slot of `role` occupied (connected, or away in its grace period): the
 *    caller replaces it, with a fresh token (the old one no longer rejoins);
 *    a connected displaced socket gets `signal-error` `not-in-room`
 *    ("replaced by a newer connection") and is no member any more; the other
 *    member gets `peer-joined`. A peer whose network changed may still look
 *    connected through a half-open socket: the new connection wins.
 *  - no PAKE gating, no "one receiver per code", no reopening: both members
 *    relay any `signal` kind both ways, and any `signal` of a member keeps
 *    the room alive (even one held for an absent member). `rejoin` with its
 *    token and the grace period work as above, for either slot.
 *  - a member `leave`s (or its grace period runs out): the other gets a plain
 *    `peer-left`, the slot is empty (a later `meet` takes it). The room ends
 *    when both slots are empty, or after `ttlMs` without activity; its id is
 *    not burned (no tombstone): the peers may meet there again.
 *  - a `meet` counts as a `create` for the per-address rate limit, and the
 *    one that creates the room counts against the address's open rooms and
 *    the server's `maxRooms` (`server/limits.ts`, `server/handlers/meet.ts`).
 */
import { randomBytes } from 'node:crypto';
import { constantTimeEqual } from '../common/crypto/mac.js';
import { utf8 } from '../common/bytes.js';
import { customAlphabet } from 'nanoid';
import { ROOM_ALPHABET, ROOM_LENGTH } from '../common/code/room-id.js';
import type { Role, SignalError, SignalErrorReason, SignalKind } from '../common/protocol/signal-protocol.js';

export interface Member {
  /** socket id of the member's current connection; null while it is away */
  sid: string | null;
  /** secret for `rejoin` */
  token: string;
  /** when its connection dropped (ms epoch); null while connected */
  goneAt: number | null;
  /** id of the movie-signal node holding its connection (to notice members of a crashed node) */
  node: string;
}

export interface RoomState {
  id: string;
  /** version for compare-and-set; 1 on creation, +1 on every write */
  ver: number;
  createdAt: number;
  /** last activity (create, join, rejoin, relayed messages): idle TTL counts from here */
  activeAt: number;
  host: Member;
  /** null until a receiver joined; set for good once that receiver relayed a `pake` message */
  receiver: Member | null;
  /** the receiver relayed a `pake` message: its guess is spent, the room can never be joined again */
  receiverPake: boolean;
  /** the receiver has left for good (explicit leave, or its grace ran out) */
  receiverLeft: boolean;
  /** a meeting room (`meet`): slots taken and replaced by id, no PAKE gating (see the lifecycle above) */
  meeting: boolean;
  /** meeting rooms only: the host slot is empty (not taken yet, or its member left for good); `host` is then a placeholder */
  hostLeft: boolean;
}

export type InsertResult = 'ok' | 'exists' | 'full' | 'addr-full';

/** Open rooms per client address: `insert` refuses (`addr-full`) a room when `addr` already hosts `max` (max 0: no limit). */
export interface AddrQuota {
  addr: string;
  max: number;
}
export type CasResult = 'ok' | 'conflict';

/** Storage of room state and of the rate-limit counters. */
export interface RoomStore {
  readonly kind: 'memory' | 'redis';
  /** insert a new room unless the id is taken (or tombstoned), `maxRooms` rooms exist, or the address is over its quota */
  insert(room: RoomState, maxRooms: number, deadline: number, quota?: AddrQuota): Promise<InsertResult>;
  get(id: string): Promise<RoomState | null>;
  /**
   * Replace (next) or delete (null) the room if its version is still
   * `expectedVer`. A deletion with `tombstoneMs` > 0 leaves a tombstone: the id
   * stays "used" (joins get `busy`, no new room gets it) for that long.
   */
  cas(id: string, expectedVer: number, next: RoomState | null, deadline: number, tombstoneMs?: number): Promise<CasResult>;
  /** whether `id` belonged to a paired room that ended recently */
  tombstoned(id: string): Promise<boolean>;
  /** ids of rooms whose deadline (idle TTL or a grace period) is at or before `now` */
  due(now: number, limit: number): Promise<string[]>;
  count(): Promise<number>;
  /** count `by` (default 1) events for a fixed-window rate limit; returns the count in the current window */
  hit(key: string, windowMs: number, now: number, by?: number): Promise<number>;
  /** whether the movie-signal node `node` is alive (its Redis subscription exists); always true in memory. `fresh`: no cached answer */
  nodeAlive(node: string, fresh?: boolean): Promise<boolean>;
  /** whether the backing store is usable right now (for /healthz) */
  healthy(): boolean;
  close(): Promise<void>;
}

export interface RoomPolicy {
  ttlMs: number;
  graceMs: number;
  maxRooms: number;
  /** open rooms one client address may host at once (0 or absent: no limit) */
  maxRoomsPerAddr?: number;
  /** how long the id of a paired room that ended stays burned (default: ttlMs) */
  tombstoneMs?: number;
}

/** Something a transition wants sent to a member (by socket id, on whatever node it is). */
export type Effect = { to: string; event: 'peer-joined' } | { to: string; event: 'peer-left'; reopened?: true } | { to: string; event: 'signal-error'; err: SignalError };

export interface Fail {
  ok: false;
  reason: SignalErrorReason;
  message: string;
}
export type Result<T> = ({ ok: true } & T) | Fail;

export const MESSAGES = {
  notFound: 'No room with that id is waiting (it may have expired, ended, or never existed).',
  busy: 'room is busy: that code has already been used by another receiver.',
  used: 'room is busy: that code has already been used (its transfer is over); ask the sender for a new one.',
  full: 'The signaling server has too many open rooms right now; try again later.',
  addrFull: 'Too many open rooms from your address; end one (or wait for one to expire) and try again.',
  rejoinNotFound: 'That room no longer exists or the token does not match.',
  replaced: 'replaced by a newer connection',
  notMeeting: 'That id names a room that is not a meeting room.',
  otherPlace: 'This connection already holds the other place in that meeting room.',
  expiredIdle: 'The room expired after being idle too long.',
  notMember: 'This connection is not a member of that room.',
} as const;

const newRoomId = customAlphabet(ROOM_ALPHABET, ROOM_LENGTH);
const newToken = (): string => randomBytes(24).toString('base64url');

/** Room tokens are secrets: compared in constant time. */
const tokenEquals = (a: string, b: string): boolean => constantTimeEqual(utf8(a), utf8(b));

/** A member that is in the room (connected or away in its grace period), not gone for good. */
function hostOf(s: RoomState): Member | null {
  return s.hostLeft ? null : s.host;
}
function receiverOf(s: RoomState): Member | null {
  return s.receiver && !s.receiverLeft ? s.receiver : null;
}

/** An empty host slot of a meeting room: a placeholder with a secret nobody was ever told (`hostLeft` keeps it out anyway). */
function vacantHost(): Member {
  return { sid: null, token: newToken(), goneAt: null, node: '' };
}

function clone(s: RoomState): RoomState {
  return {
    ...s,
    host: { ...s.host },
    receiver: s.receiver ? { ...s.receiver } : null,
  };
}

/**
 * The receiver is gone before it relayed any `pake` message: it spent no
 * guess, so the room waits for a receiver again (joinable, no tombstone) and a
 * present host is told `peer-left` with `reopened`, to keep waiting.
 */
function reopen(s: RoomState): Effect[] {
  s.receiver = null;
  s.receiverLeft = false;
  s.receiverPake = false;
  return s.host.sid ? [{ to: s.host.sid, event: 'peer-left', reopened: true }] : [];
}

/** The earliest moment something has to happen to this room by itself. */
export function deadlineOf(s: RoomState, p: RoomPolicy): number {
  let d = s.activeAt + p.ttlMs;
  if (!s.hostLeft && s.host.goneAt !== null) d = Math.min(d, s.host.goneAt + p.graceMs);
  if (s.receiver && !s.receiverLeft && s.receiver.goneAt !== null) d = Math.min(d, s.receiver.goneAt + p.graceMs);
  return d;
}

type Step<T> = { write: false; next?: undefined; result: Result<T>; effects?: Effect[] } | { write: true; next: RoomState | null; result: Result<T>; effects?: Effect[] };

const MAX_CAS_RETRIES = 16;

export class RoomManager {
  constructor(
    readonly store: RoomStore,
    readonly policy: RoomPolicy,
    /** this node's id, recorded with each member it connects */
    readonly nodeId = 'local',
  ) {}

  /** Read-modify-CAS loop around a transition. */
  private async mutate<T>(id: string, fn: (s: RoomState | null) => Step<T> | Promise<Step<T>>): Promise<{ result: Result<T>; effects: Effect[] }> {
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt++) {
      const cur = await this.store.get(id);
      const step = await fn(cur ? clone(cur) : null);
      if (!step.write) return { result: step.result, effects: step.effects ?? [] };
      if (!cur) throw new Error('transition wrote a room that does not exist');
      let deadline = 0;
      if (step.next) {
        step.next.ver = cur.ver + 1;
        deadline = deadlineOf(step.next, this.policy);
      }
      // a code that paired once is burned: when its room ends, the id stays "used" for a while (a meeting id never is)
      const tomb = !step.next && cur.receiver && !cur.meeting ? (this.policy.tombstoneMs ?? this.policy.ttlMs) : 0;
      const r = await this.store.cas(id, cur.ver, step.next, deadline, tomb);
      if (r === 'ok') return { result: step.result, effects: step.effects ?? [] };
    }
    throw new Error(`room ${id}: too much contention`);
  }

  /** A room is unusable once its idle TTL passed, even if the sweeper has not removed it yet. */
  private idleExpired(s: RoomState, now: number): boolean {
    return now >= s.activeAt + this.policy.ttlMs;
  }

  /** An ordinary room ends with its host's grace period (a meeting room only loses its host). */
  private hostExpired(s: RoomState, now: number): boolean {
    return !s.meeting && s.host.goneAt !== null && now >= s.host.goneAt + this.policy.graceMs;
  }

  private graceOver(m: Member, now: number): boolean {
    return m.goneAt !== null && now >= m.goneAt + this.policy.graceMs;
  }

  private async connectedOnLiveNode(m: Member | null, fresh = false): Promise<boolean> {
    return !!m?.sid && (m.node === this.nodeId || (await this.store.nodeAlive(m.node, fresh)));
  }

  /**
   * Members whose node crashed (no disconnect was ever processed for them)
   * count as away from now on: their grace period starts. Returns true if
   * anything changed.
   */
  private async markCrashed(s: RoomState, now: number, fresh = true): Promise<boolean> {
    let changed = false;
    for (const m of [hostOf(s), receiverOf(s)]) {
      if (m?.sid && !(await this.connectedOnLiveNode(m, fresh))) {
        m.sid = null;
        m.goneAt = now;
        changed = true;
      }
    }
    return changed;
  }

  async create(sid: string, now: number, addr?: string): Promise<Result<{ room: string; token: string }>> {
    const quota = addr !== undefined && this.policy.maxRoomsPerAddr ? { addr, max: this.policy.maxRoomsPerAddr } : undefined;
    for (let i = 0; i < 20; i++) {
      const state: RoomState = {
        id: newRoomId(),
        ver: 1,
        createdAt: now,
        activeAt: now,
        host: { sid, token: newToken(), goneAt: null, node: this.nodeId },
        receiver: null,
        receiverLeft: false,
        receiverPake: false,
        meeting: false,
        hostLeft: false,
      };
      const r = await this.store.insert(state, this.policy.maxRooms, deadlineOf(state, this.policy), quota);
      if (r === 'ok') return { ok: true, room: state.id, token: state.host.token };
      if (r === 'full') return { ok: false, reason: 'too-many-rooms', message: MESSAGES.full };
      if (r === 'addr-full') return { ok: false, reason: 'rate-limited', message: MESSAGES.addrFull };
      // 'exists': id collision, draw again
    }
    return { ok: false, reason: 'too-many-rooms', message: MESSAGES.full };
  }

  async join(id: string, sid: string, now: number): Promise<{ result: Result<{ token: string; peerPresent: boolean }>; effects: Effect[] }> {
    return this.mutate<{ token: string; peerPresent: boolean }>(id, async (s) => {
      if (s?.receiver) {
        return { write: false, result: { ok: false, reason: 'busy', message: MESSAGES.busy } };
      }
      if (!s && (await this.store.tombstoned(id))) {
        return { write: false, result: { ok: false, reason: 'busy', message: MESSAGES.used } };
      }
      if (!s || s.meeting || this.idleExpired(s, now) || this.hostExpired(s, now)) {
        return { write: false, result: { ok: false, reason: 'not-found', message: MESSAGES.notFound } };
      }
      const token = newToken();
      await this.markCrashed(s, now);
      s.receiver = { sid, token, goneAt: null, node: this.nodeId };
      s.activeAt = now;
      const effects: Effect[] = s.host.sid ? [{ to: s.host.sid, event: 'peer-joined' }] : [];
      return { write: true, next: s, result: { ok: true, token, peerPresent: s.host.sid !== null }, effects };
    });
  }

  async rejoin(id: string, token: string, sid: string, now: number): Promise<{ result: Result<{ role: Role; peerPresent: boolean }>; effects: Effect[] }> {
    return this.mutate<{ role: Role; peerPresent: boolean }>(id, async (s) => {
      const notFound: Fail = { ok: false, reason: 'not-found', message: MESSAGES.rejoinNotFound };
      if (!s || this.idleExpired(s, now) || this.hostExpired(s, now)) return { write: false, result: notFound };
      let role: Role;
      const host = hostOf(s);
      const receiver = receiverOf(s);
      if (host && tokenEquals(host.token, token)) role = 'host';
      else if (receiver && tokenEquals(receiver.token, token)) role = 'receiver';
      else return { write: false, result: notFound };
      const me = role === 'host' ? host! : receiver!;
      // (an ordinary room's host past its grace period ended the room, above)
      if (this.graceOver(me, now)) return { write: false, result: notFound };
      const other = role === 'host' ? receiver : host;
      const wasAway = me.sid !== sid;
      me.sid = sid;
      me.goneAt = null;
      me.node = this.nodeId;
      await this.markCrashed(s, now);
      s.activeAt = now;
      const effects: Effect[] = other?.sid && wasAway ? [{ to: other.sid, event: 'peer-joined' }] : [];
      return { write: true, next: s, result: { ok: true, role, peerPresent: !!other?.sid }, effects };
    });
  }

  /**
   * Explicit `leave` (permanent): the other member is told at once. A dropped
   * connection (permanent=false) only marks the member away; the sweeper
   * tells the other member if the grace period passes without a `rejoin`.
   */
  async depart(id: string, sid: string, now: number, permanent: boolean): Promise<{ effects: Effect[] }> {
    const { effects } = await this.mutate<object>(id, (s) => {
      const none: Step<object> = { write: false, result: { ok: true } };
      if (!s) return none;
      if (s.meeting) return this.departMeeting(s, sid, now, permanent);
      const rsid = s.receiver && !s.receiverLeft ? s.receiver.sid : null;
      if (s.host.sid === sid) {
        if (permanent) {
          return { write: true, next: null, result: { ok: true }, effects: rsid ? [{ to: rsid, event: 'peer-left' }] : [] };
        }
        s.host.sid = null;
        s.host.goneAt = now;
        return { write: true, next: s, result: { ok: true } };
      }
      if (s.receiver && !s.receiverLeft && s.receiver.sid === sid) {
        // no guess spent (no pake relayed): the room waits for a receiver again
        if (!s.receiverPake) return { write: true, next: s, result: { ok: true }, effects: reopen(s) };
        if (permanent) {
          s.receiver.sid = null;
          s.receiver.goneAt = null;
          s.receiverLeft = true;
          const effects: Effect[] = s.host.sid ? [{ to: s.host.sid, event: 'peer-left' }] : [];
          // both have left: the room ends
          return { write: true, next: s.host.sid === null ? null : s, result: { ok: true }, effects };
        }
        s.receiver.sid = null;
        s.receiver.goneAt = now;
        return { write: true, next: s, result: { ok: true } };
      }
      return none; // not (or no longer) a member: e.g. superseded by a rejoin
    });
    return { effects };
  }

  /** `depart` from a meeting room: the slot empties (or waits out a grace period); the room ends with its last member. */
  private departMeeting(s: RoomState, sid: string, now: number, permanent: boolean): Step<object> {
    const host = hostOf(s);
    const receiver = receiverOf(s);
    const me = host?.sid === sid ? host : receiver?.sid === sid ? receiver : null;
    if (!me) return { write: false, result: { ok: true } }; // not (or no longer) a member: replaced, or superseded by a rejoin
    if (!permanent) {
      me.sid = null;
      me.goneAt = now;
      return { write: true, next: s, result: { ok: true } };
    }
    const other = me === host ? receiver : host;
    this.vacate(s, me === host ? 'host' : 'receiver');
    const effects: Effect[] = other?.sid ? [{ to: other.sid, event: 'peer-left' }] : [];
    return { write: true, next: other ? s : null, result: { ok: true }, effects };
  }

  /** Empty a meeting room's slot (its member left for good). */
  private vacate(s: RoomState, role: Role): void {
    if (role === 'host') {
      s.host = vacantHost();
      s.hostLeft = true;
    } else if (s.receiver) {
      s.receiver.sid = null;
      s.receiver.goneAt = null;
      s.receiverLeft = true;
    }
  }

  /**
   * `meet`: take the slot of `role` in meeting room `id`, creating the room
   * when it does not exist (see the lifecycle at the top). `created` says
   * whether this call created it (it then counted against `addr`'s open
   * rooms and the server's `maxRooms`).
   */
  async meet(
    id: string,
    role: Role,
    sid: string,
    now: number,
    addr?: string,
  ): Promise<{ result: Result<{ token: string; peerPresent: boolean; created: boolean }>; effects: Effect[] }> {
    const quota = addr !== undefined && this.policy.maxRoomsPerAddr ? { addr, max: this.policy.maxRoomsPerAddr } : undefined;
    for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt++) {
      let absent = false;
      const out = await this.mutate<{ token: string; peerPresent: boolean; created: boolean }>(id, async (s) => {
        absent = false;
        if (!s) {
          absent = true;
          return { write: false, result: { ok: false, reason: 'not-found', message: MESSAGES.notFound } };
        }
        if (!s.meeting) return { write: false, result: { ok: false, reason: 'bad-request', message: MESSAGES.notMeeting } };
        // idle past its TTL but not swept yet: a room that is over; start it afresh in its place
        if (this.idleExpired(s, now)) {
          const fresh = this.newMeeting(id, role, sid, now);
          const err: SignalError = { ok: false, reason: 'expired', message: MESSAGES.expiredIdle };
          const effects: Effect[] = [hostOf(s)?.sid, receiverOf(s)?.sid].filter((x): x is string => !!x).map((to) => ({ to, event: 'signal-error', err }));
          return { write: true, next: fresh.state, result: { ok: true, token: fresh.token, peerPresent: false, created: false }, effects };
        }
        await this.markCrashed(s, now);
        return this.meetStep(s, role, sid, now);
      });
      if (!absent) return out;
      const fresh = this.newMeeting(id, role, sid, now);
      const r = await this.store.insert(fresh.state, this.policy.maxRooms, deadlineOf(fresh.state, this.policy), quota);
      if (r === 'ok') return { result: { ok: true, token: fresh.token, peerPresent: false, created: true }, effects: [] };
      if (r === 'full') return { result: { ok: false, reason: 'too-many-rooms', message: MESSAGES.full }, effects: [] };
      if (r === 'addr-full') return { result: { ok: false, reason: 'rate-limited', message: MESSAGES.addrFull }, effects: [] };
      // 'exists': the other peer created it a moment ago; take a slot in it
    }
    throw new Error(`room ${id}: too much contention`);
  }

  private newMeeting(id: string, role: Role, sid: string, now: number): { state: RoomState; token: string } {
    const me: Member = { sid, token: newToken(), goneAt: null, node: this.nodeId };
    const state: RoomState = {
      id,
      ver: 1,
      createdAt: now,
      activeAt: now,
      host: role === 'host' ? me : vacantHost(),
      hostLeft: role !== 'host',
      receiver: role === 'receiver' ? me : null,
      receiverLeft: false,
      receiverPake: false,
      meeting: true,
    };
    return { state, token: me.token };
  }

  /** The pure part of `meet` on an existing meeting room: take (or replace) the slot of `role`. */
  private meetStep(s: RoomState, role: Role, sid: string, now: number): Step<{ token: string; peerPresent: boolean; created: boolean }> {
    const displaced = role === 'host' ? hostOf(s) : receiverOf(s);
    const other = role === 'host' ? receiverOf(s) : hostOf(s);
    if (other?.sid === sid) {
      return { write: false, result: { ok: false, reason: 'bad-request', message: MESSAGES.otherPlace } };
    }
    const me: Member = { sid, token: newToken(), goneAt: null, node: this.nodeId };
    if (role === 'host') {
      s.host = me;
      s.hostLeft = false;
    } else {
      s.receiver = me;
      s.receiverLeft = false;
    }
    s.activeAt = now;
    const effects: Effect[] = [];
    if (displaced?.sid && displaced.sid !== sid) {
      effects.push({ to: displaced.sid, event: 'signal-error', err: { ok: false, reason: 'not-in-room', message: MESSAGES.replaced } });
    }
    if (other?.sid) effects.push({ to: other.sid, event: 'peer-joined' });
    return { write: true, next: s, result: { ok: true, token: me.token, peerPresent: !!other?.sid, created: false }, effects };
  }

  /**
   * Whom to relay a `signal` from `sid` to: the other member's socket id, or
   * null while there is none (not joined yet, or away reconnecting). A Fail
   * when `sid` is not a member.
   */
  async relayTarget(id: string, sid: string, now: number, kind?: SignalKind): Promise<Result<{ to: string | null }>> {
    const s = await this.store.get(id);
    if (!s || this.idleExpired(s, now) || this.hostExpired(s, now)) {
      return { ok: false, reason: 'not-in-room', message: 'You are not in a room (it ended or expired).' };
    }
    let other: Member | null;
    const host = hostOf(s);
    const receiver = receiverOf(s);
    if (host?.sid === sid) other = receiver;
    else if (receiver?.sid === sid) other = host;
    else return { ok: false, reason: 'not-in-room', message: MESSAGES.notMember };
    if (other?.sid && !(await this.connectedOnLiveNode(other))) {
      // the other member's node crashed: it is away (its grace period starts), the sender holds the message
      await this.mutate(id, async (c) => {
        if (!c || !(await this.markCrashed(c, now, false))) return { write: false, result: { ok: true } };
        return { write: true, next: c, result: { ok: true } };
      });
      return { ok: true, to: null };
    }
    const to = other?.sid ?? null;
    if (to && kind === 'pake' && !s.meeting && s.receiver?.sid === sid && !s.receiverPake) {
      // the receiver's first pake message: its guess is spent, recorded before it is relayed
      const { result } = await this.mutate<object>(id, (c) => {
        if (!c || !c.receiver || c.receiverLeft || c.receiver.sid !== sid) return { write: false, result: { ok: false, reason: 'not-in-room', message: MESSAGES.notMember } };
        c.receiverPake = true;
        c.activeAt = Math.max(c.activeAt, now);
        return { write: true, next: c, result: { ok: true } };
      });
      if (!result.ok) return result;
      return { ok: true, to };
    }
    // keep the room alive while it is used (in an ordinary room only by messages that reach the other
    // member: a host alone cannot keep its room alive); throttled so relays stay read-only most of the time
    if ((to || s.meeting) && now - s.activeAt > Math.min(30_000, this.policy.ttlMs / 10)) {
      void this.mutate(id, (c) => {
        if (!c) return { write: false, result: { ok: true } };
        c.activeAt = Math.max(c.activeAt, now);
        return { write: true, next: c, result: { ok: true } };
      }).catch(() => undefined);
    }
    return { ok: true, to };
  }

  /** Whether `sid` is still a member of room `id` (used to refuse a second create/join on one connection). */
  async isMember(id: string, sid: string): Promise<boolean> {
    const s = await this.store.get(id);
    return !!s && (hostOf(s)?.sid === sid || receiverOf(s)?.sid === sid);
  }

  /** Apply whatever is due for one room (idle TTL, grace periods). */
  async sweepOne(id: string, now: number): Promise<{ effects: Effect[]; ended: 'expired' | 'host-gone' | 'members-gone' | null }> {
    let ended: 'expired' | 'host-gone' | 'members-gone' | null = null;
    const { effects } = await this.mutate<object>(id, (s) => {
      ended = null;
      if (!s) return { write: false, result: { ok: true } };
      const present = [hostOf(s)?.sid, receiverOf(s)?.sid].filter((x): x is string => !!x);
      if (this.idleExpired(s, now)) {
        ended = 'expired';
        const err: SignalError = { ok: false, reason: 'expired', message: MESSAGES.expiredIdle };
        return { write: true, next: null, result: { ok: true }, effects: present.map((to) => ({ to, event: 'signal-error', err })) };
      }
      if (this.hostExpired(s, now)) {
        ended = 'host-gone';
        const rsid = s.receiver && !s.receiverLeft ? s.receiver.sid : null;
        return { write: true, next: null, result: { ok: true }, effects: rsid ? [{ to: rsid, event: 'peer-left' }] : [] };
      }
      if (s.meeting) {
        const step = this.sweepMeeting(s, now);
        if (!step.next) ended = 'members-gone';
        return step;
      }
      let effects: Effect[] = [];
      if (s.receiver && !s.receiverLeft && s.receiver.goneAt !== null && now >= s.receiver.goneAt + this.policy.graceMs) {
        if (!s.receiverPake) return { write: true, next: s, result: { ok: true }, effects: reopen(s) };
        s.receiver.goneAt = null;
        s.receiverLeft = true;
        if (s.host.sid) effects = [{ to: s.host.sid, event: 'peer-left' }];
      }
      // rewrite even when nothing changed: refreshes the stored deadline
      return { write: true, next: s, result: { ok: true }, effects };
    });
    return { effects, ended };
  }

  /** Grace periods in a meeting room: a member that did not come back leaves its slot; the room ends with its last member. */
  private sweepMeeting(s: RoomState, now: number): Step<object> {
    const effects: Effect[] = [];
    for (const role of ['host', 'receiver'] as const) {
      const me = role === 'host' ? hostOf(s) : receiverOf(s);
      if (!me || !this.graceOver(me, now)) continue;
      this.vacate(s, role);
      const other = role === 'host' ? receiverOf(s) : hostOf(s);
      if (other?.sid) effects.push({ to: other.sid, event: 'peer-left' });
    }
    const empty = !hostOf(s) && !receiverOf(s);
    // rewrite even when nothing changed: refreshes the stored deadline
    return { write: true, next: empty ? null : s, result: { ok: true }, effects };
  }
}

/* ------------------------------------------------------------------ */

/** Rooms and counters in this process only (single node, or the embedded server). */
export class MemoryRoomStore implements RoomStore {
  readonly kind = 'memory' as const;
  private rooms = new Map<string, { state: RoomState; deadline: number }>();
  private counters = new Map<string, { n: number; until: number }>();
  private tombs = new Map<string, number>();
  /** room ids created per client address; ids of rooms that ended are pruned when counted */
  private byAddr = new Map<string, Set<string>>();
  private lastPurge = 0;

  // no await inside: the check and the write are one step (two `meet`s may insert one id at once)
  insert(room: RoomState, maxRooms: number, deadline: number, quota?: AddrQuota): Promise<InsertResult> {
    return Promise.resolve(this.insertNow(room, maxRooms, deadline, quota));
  }

  private insertNow(room: RoomState, maxRooms: number, deadline: number, quota?: AddrQuota): InsertResult {
    if (this.rooms.has(room.id) || this.tombstonedNow(room.id)) return 'exists';
    if (maxRooms > 0 && this.rooms.size >= maxRooms) return 'full';
    if (quota) {
      const mine = this.byAddr.get(quota.addr) ?? new Set<string>();
      for (const id of mine) if (!this.rooms.has(id)) mine.delete(id);
      if (quota.max > 0 && mine.size >= quota.max) return 'addr-full';
      mine.add(room.id);
      this.byAddr.set(quota.addr, mine);
    }
    this.rooms.set(room.id, { state: clone(room), deadline });
    return 'ok';
  }

  get(id: string): Promise<RoomState | null> {
    const e = this.rooms.get(id);
    return Promise.resolve(e ? clone(e.state) : null);
  }

  cas(id: string, expectedVer: number, next: RoomState | null, deadline: number, tombstoneMs = 0): Promise<CasResult> {
    const e = this.rooms.get(id);
    if (!e || e.state.ver !== expectedVer) return Promise.resolve('conflict');
    if (next) this.rooms.set(id, { state: clone(next), deadline });
    else {
      this.rooms.delete(id);
      if (tombstoneMs > 0) this.tombs.set(id, Date.now() + tombstoneMs);
    }
    return Promise.resolve('ok');
  }

  tombstoned(id: string): Promise<boolean> {
    return Promise.resolve(this.tombstonedNow(id));
  }

  private tombstonedNow(id: string): boolean {
    const until = this.tombs.get(id);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.tombs.delete(id);
    return false;
  }

  due(now: number, limit: number): Promise<string[]> {
    const out: string[] = [];
    for (const [id, e] of this.rooms) {
      if (e.deadline <= now) {
        out.push(id);
        if (out.length >= limit) break;
      }
    }
    if (now - this.lastPurge > 5_000) {
      this.lastPurge = now;
      for (const [k, c] of this.counters) if (c.until <= now) this.counters.delete(k);
      for (const [k, until] of this.tombs) if (until <= now) this.tombs.delete(k);
      for (const [addr, ids] of this.byAddr) {
        for (const id of ids) if (!this.rooms.has(id)) ids.delete(id);
        if (ids.size === 0) this.byAddr.delete(addr);
      }
    }
    return Promise.resolve(out);
  }

  count(): Promise<number> {
    return Promise.resolve(this.rooms.size);
  }

  hit(key: string, windowMs: number, now: number, by = 1): Promise<number> {
    const w = Math.floor(now / windowMs);
    const k = `${key}:${w}`;
    let c = this.counters.get(k);
    if (!c) {
      c = { n: 0, until: (w + 1) * windowMs };
      this.counters.set(k, c);
    }
    c.n += by;
    return Promise.resolve(c.n);
  }

  nodeAlive(): Promise<boolean> {
    return Promise.resolve(true);
  }

  healthy(): boolean {
    return true;
  }

  close(): Promise<void> {
    this.rooms.clear();
    this.counters.clear();
    this.tombs.clear();
    this.byAddr.clear();
    return Promise.resolve();
  }
}
