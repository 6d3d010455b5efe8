/**
 * `rejoin`: a member whose connection (or node) dropped reclaims its place
 * with its token, within the grace period. The other member, if connected, is
 * told `peer-joined` (present again).
 */
import { parseRejoin } from '../../validate.js';
import { alreadyInRoom, emitEffects, type EventHandler } from '../context.js';
import { fail, REPLIES } from '../reply.js';

export const rejoin: EventHandler = {
  needsAck: true,
  oneArgument: true,
  duringShutdown: false,
  async run(ctx, sock, arg, ack, now) {
    const d = sock.data;
    const p = parseRejoin(arg);
    if (!p.ok) return ctx.reply(sock, ack, p);
    if (d.room && d.room !== p.value.room && (await alreadyInRoom(ctx, sock))) {
      return ctx.reply(sock, ack, fail('bad-request', REPLIES.alreadyInOtherRoom));
    }
    const { result, effects } = await ctx.rooms.rejoin(p.value.room, p.value.token, sock.id, now);
    if (!result.ok) return ctx.reply(sock, ack, result);
    d.room = p.value.room;
    d.role = result.role;
    ctx.reply(sock, ack, { ok: true, room: p.value.room, peerPresent: result.peerPresent, role: result.role });
    emitEffects(ctx.io, effects);
  },
};
