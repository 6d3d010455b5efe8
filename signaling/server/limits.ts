/**
 * The two limits on what one client may ask of the server:
 *  - flood control, per connection: events per window, in this process only;
 *    above `max` they are refused, above `kick` the connection is closed;
 *  - rate limits, per client address: rooms created and join attempts per
 *    window, counted in the room store (so shared by all nodes on Redis), which
 *    is what makes guessing room codes expensive.
 */
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

/** `overLimit(kind, addr)`: count one create (or join) for this address; true when it is over the allowance of the current window. */
export function rateLimiter(store: RoomStore, rate: { windowMs: number; maxCreates: number; maxJoins: number }): (kind: 'create' | 'join', addr: string) => Promise<boolean> {
  return async (kind, addr) => {
    const max = kind === 'create' ? rate.maxCreates : rate.maxJoins;
    const n = await store.hit(`${kind}:${addr}`, rate.windowMs, Date.now());
    return n > max;
  };
}

function normalizeAddr(a: string | undefined): string {
  if (!a) return 'unknown';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** The address rate limits count against: the peer's, or with `trustProxy` the one our own proxy put in X-Forwarded-For. */
export function clientAddr(sock: Sock, trustProxy: boolean): string {
  if (trustProxy) {
    // the last entry is the one our own proxy added (earlier ones are whatever the client sent)
    const xff = sock.handshake.headers['x-forwarded-for'];
    const last = (Array.isArray(xff) ? xff[xff.length - 1] : xff)?.split(',').pop()?.trim().slice(0, 64);
    if (last) return normalizeAddr(last);
  }
  return normalizeAddr(sock.handshake.address);
}
