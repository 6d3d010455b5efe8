/**
 * A connection dropped (socket.io's own `disconnect`, not a client event):
 * the member only counts as away, and has the grace period to `rejoin`; the
 * sweeper (`signaling/server/sweeper.ts`) tells the other member if it does
 * not come back. A receiver that had not relayed any `pake` message is gone
 * at once: its room waits for a receiver again (see `RoomManager.depart`).
 */
import { emitEffects, type ServerContext, type Sock } from '../context.js';

/** The work to queue behind the connection's pending events (see `sockets.ts`). */
export async function disconnect(ctx: ServerContext, sock: Sock): Promise<void> {
  const d = sock.data;
  if (!d.room) return;
  const room = d.room;
  d.room = null;
  const { effects } = await ctx.rooms.depart(room, sock.id, Date.now(), false);
  emitEffects(ctx.io, effects);
}
