/**
 * The limits on what one client may ask of the server:
 *  - flood control, per connection: events per window, in this process only;
 *    above `max` they are refused, above `kick` the connection is closed;
 *  - rate limits, per client address: rooms created and join attempts per
 *    window, counted in the room store (so shared by all nodes on Redis), which
 *    is what makes guessing room codes expensive. A join answered `not-found`
 *    (a wrong guess) costs `joinMissCost` attempts, so an address that keeps
 *    guessing runs out of its allowance after a few tries. Every `meet` counts
 *    as a create (never as a join: a meeting id is not guessed, and an unknown
 *    one creates its room);
 *  - open connections per address (`SocketLedger`): on this node, or with
 *    Redis on all nodes together (leased entries, so a crashed node's
 *    connections stop counting within one lease); open rooms per address are
 *    checked by the store when a room is created (by `create`, or by the
 *    `meet` that finds no meeting room; so on Redis across nodes too).
 *
 * "Address" is `addrKey` below: an IPv4 address, or the /64 of an IPv6 one
 * (one subscriber usually holds a whole /64, so counting each /128 apart
 * would give one host billions of addresses).
 */
import { isIP } from 'node:net';
import type { RoomStore } from '../rooms.js';
import { fail, REPLIES } from './reply.js';
import type { Reply } from './context.js';
import type { Ack, Sock } from './context.js';

/** Per-connection flood control: events per window; above `max` they are refused, above `kick` the connection is closed. */
const SOCKET_FLOOD = { windowMs: 10_000, max: 300, kick: 1500, queue: 64 };

/**
 * Count one event of this connection; true when it may be handled. Otherwise
 * it was refused (`rate-limited`), or dropped because the connection is being
 * closed for flooding.
 */
export function floodGate(sock: Sock, ack: Ack | undefined, now: number, reply: Reply, log: (line: string) => void): boolean {
  const d = sock.data;
  const w = Math.floor(now / SOCKET_FLOOD.windowMs);
  if (w !== d.floodWindow) {
    d.floodWindow = w;
    d.floodCount = 0;
  }
  d.floodCount++;
  if (d.floodCount > SOCKET_FLOOD.kick) {
    if (d.floodCount === SOCKET_FLOOD.kick + 1) {
      log(`closing a connection from ${d.addr}: message flood`);
      sock.disconnect(true);
    }
    return false;
  }
  if (d.floodCount > SOCKET_FLOOD.max || d.queued >= SOCKET_FLOOD.queue) {
    reply(sock, ack, fail('rate-limited', REPLIES.tooManyMessages));
    return false;
  }
  return true;
}

export interface RateLimits {
  windowMs: number;
  maxCreates: number;
  maxJoins: number;
  /** what a join answered `not-found` costs, in join attempts (1: no extra cost) */
  joinMissCost: number;
}

export interface RateLimiter {
  /** count one create (or meet, which counts as one) or join for this address; true when it is over the allowance of the current window */
  overLimit(kind: 'create' | 'join', addr: string): Promise<boolean>;
  /** a join from this address was answered `not-found`: charge the extra cost of a wrong guess */
  joinMissed(addr: string): Promise<void>;
}

export function rateLimiter(store: RoomStore, rate: RateLimits): RateLimiter {
  return {
    async overLimit(kind, addr) {
      const max = kind === 'create' ? rate.maxCreates : rate.maxJoins;
      const n = await store.hit(`${kind}:${addr}`, rate.windowMs, Date.now());
      return n > max;
    },
    async joinMissed(addr) {
      const extra = Math.floor(rate.joinMissCost) - 1;
      if (extra > 0) await store.hit(`join:${addr}`, rate.windowMs, Date.now(), extra);
    },
  };
}

/**
 * Open connections per client address. `admit` reserves a place for
 * connection `id` (its socket id) unless `addr` already holds `max` (0: no
 * limit); `release` gives it back when the connection closes or never
 * connected (idempotent: an id is counted once).
 */
export interface SocketLedger {
  admit(addr: string, id: string): Promise<boolean>;
  release(addr: string, id: string): void;
  /** stop the lease renewal timer (scale-out) */
  stop(): void;
}

/** The connections of this node, per address. */
class LocalSockets {
  private readonly open = new Map<string, Set<string>>();
  count(addr: string): number {
    return this.open.get(addr)?.size ?? 0;
  }
  add(addr: string, id: string): void {
    const ids = this.open.get(addr) ?? new Set<string>();
    ids.add(id);
    this.open.set(addr, ids);
  }
  /** true when `id` was counted */
  remove(addr: string, id: string): boolean {
    const ids = this.open.get(addr);
    if (!ids?.delete(id)) return false;
    if (ids.size === 0) this.open.delete(addr);
    return true;
  }
  entries(): IterableIterator<[string, Set<string>]> {
    return this.open.entries();
  }
}

/** One node (no Redis): the counts are this process's. */
export function memorySocketLedger(max: number): SocketLedger {
  const local = new LocalSockets();
  return {
    admit(addr, id) {
      if (max > 0 && local.count(addr) >= max) return Promise.resolve(false);
      local.add(addr, id);
      return Promise.resolve(true);
    },
    release(addr, id) {
      local.remove(addr, id);
    },
    stop() {},
  };
}

/**
 * The shared per-address connection counts of scale-out mode (the room store
 * on Redis: `redis-store.ts`). Each entry is one connection, `member`, with a
 * lease: it stops counting when its lease ends unless renewed, so the
 * connections of a node that died (SIGKILL, lost host) free their places
 * within one lease.
 */
export interface SharedSocketCounts {
  /** atomically: drop `addr`'s entries whose lease ended; add `member` unless `max` (> 0) remain. True when added. */
  admitSocket(addr: string, member: string, max: number, leaseMs: number): Promise<boolean>;
  /** renew (or re-add) the leases of `members` of `addr` */
  renewSockets(addr: string, members: string[], leaseMs: number): Promise<void>;
  releaseSocket(addr: string, member: string): Promise<void>;
}

/**
 * Scale-out: `max` connections per address across all nodes. This node's own
 * connections are also counted locally, which keeps the cap on this node
 * alone while Redis is unreachable (then a connection is admitted on the
 * local count, and counted in Redis again at the next renewal).
 */
export function sharedSocketLedger(shared: SharedSocketCounts, nodeId: string, max: number, leaseMs: number, log: (line: string) => void): SocketLedger {
  const local = new LocalSockets();
  const member = (id: string): string => `${nodeId}:${id}`;
  let lastError = 0;
  const failed = (what: string, e: unknown): void => {
    const now = Date.now();
    if (now - lastError < 5000) return;
    lastError = now;
    log(`per-address connection count (${what}) on Redis failed, counting this node only: ${(e as Error)?.message ?? e}`);
  };
  let renewing = false;
  const timer = setInterval(
    () => {
      if (renewing || max <= 0) return;
      renewing = true;
      const all = [...local.entries()].map(([addr, ids]) => shared.renewSockets(addr, [...ids].map(member), leaseMs));
      void Promise.all(all)
        .catch((e) => failed('renew', e))
        .finally(() => {
          renewing = false;
        });
    },
    Math.max(100, Math.floor(leaseMs / 3)),
  );
  timer.unref();
  return {
    async admit(addr, id) {
      if (max > 0 && local.count(addr) >= max) return false;
      let ok = true;
      try {
        ok = max > 0 ? await shared.admitSocket(addr, member(id), max, leaseMs) : true;
      } catch (e) {
        failed('admit', e);
      }
      if (ok) local.add(addr, id);
      return ok;
    },
    release(addr, id) {
      if (local.remove(addr, id) && max > 0) void shared.releaseSocket(addr, member(id)).catch((e) => failed('release', e));
    },
    stop() {
      clearInterval(timer);
    },
  };
}

/** The 8 groups of an IPv6 address (text form, without zone), or null if it is not one. */
function ipv6Groups(a: string): number[] | null {
  let s = a;
  // a trailing dotted IPv4 part (::ffff:1.2.3.4, 64:ff9b::1.2.3.4): two groups
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    if (isIP(v4[2]!) !== 4) return null;
    const [b0, b1, b2, b3] = v4[2]!.split('.').map(Number) as [number, number, number, number];
    s = `${v4[1]}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string | undefined): number[] => (h ? h.split(':').map((g) => parseInt(g, 16)) : []);
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0) return null;
  const groups = [...head, ...Array<number>(fill).fill(0), ...tail];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/**
 * The key every per-address limit counts against: an IPv4 address as is; an
 * IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as that IPv4 address; any other
 * IPv6 address as its /64 (`2001:db8:1:2::/64`).
 */
export function addrKey(raw: string | undefined): string {
  const a = (raw ?? '')
    .trim()
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '');
  if (!a) return 'unknown';
  if (isIP(a) === 4) return a;
  if (isIP(a) !== 6) return a.slice(0, 64);
  const g = ipv6Groups(a.toLowerCase());
  if (!g) return a.slice(0, 64);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join('.');
  }
  return `${g
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(':')}::/64`;
}

/** The address rate limits count against: the peer's, or with `trustProxy` the one our own proxy put in X-Forwarded-For. */
export function clientAddr(sock: Sock, trustProxy: boolean): string {
  if (trustProxy) {
    // the last entry is the one our own proxy added (earlier ones are whatever the client sent)
    const xff = sock.handshake.headers['x-forwarded-for'];
    const last = (Array.isArray(xff) ? xff[xff.length - 1] : xff)?.split(',').pop()?.trim().slice(0, 64);
    if (last) return addrKey(last);
  }
  return addrKey(sock.handshake.address);
}
