/**
 * `leave`: the member is done with its room for good; the other member is
 * told `peer-left` at once. Takes any arguments and is served even while the
 * server shuts down: leaving must always work.
 */
import { emitEffects, type EventHandler } from '../context.js';

export const leave: EventHandler = {
  needsAck: false,
  oneArgument: false,
  duringShutdown: true,
  async run(ctx, sock, _arg, ack, now) {
    const d = sock.data;
    if (d.room) {
      const room = d.room;
      d.room = null;
      d.role = null;
      const { effects } = await ctx.rooms.depart(room, sock.id, now, true);
      emitEffects(ctx.io, effects);
    }
    if (ack) ctx.reply(sock, ack, { ok: true });
  },
};
