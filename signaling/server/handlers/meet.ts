/**
 * `meet`: a peer takes its place (`role`) in a meeting room whose id it and
 * the other peer derived from their PAKE session key, creating the room when
 * it does not exist, replacing whoever held that place (see the lifecycle in
 * `signaling/rooms.ts`). It counts as a `create` for the per-address rate
 * limit and, when it creates the room, for the open rooms per address and
 * the server's maximum; an unknown id is not a miss (there is nothing to
 * guess: it creates the room), so it never pays the cost of a wrong `join`.
 */
import { parseMeet } from '../../validate.js';
import { alreadyInRoom, emitEffects, type EventHandler } from '../context.js';
import { fail, REPLIES } from '../reply.js';

export const meet: EventHandler = {
  needsAck: true,
  oneArgument: true,
  duringShutdown: false,
  async run(ctx, sock, arg, ack, now) {
    const d = sock.data;
    const p = parseMeet(arg);
    if (!p.ok) return ctx.reply(sock, ack, p);
    if (await alreadyInRoom(ctx, sock)) return ctx.reply(sock, ack, fail('bad-request', REPLIES.alreadyInRoom));
    if (await ctx.overLimit('create', d.addr)) return ctx.reply(sock, ack, fail('rate-limited', REPLIES.tooManyCreates));
    const { result, effects } = await ctx.rooms.meet(p.value.room, p.value.role, sock.id, now, d.addr);
    if (!result.ok) return ctx.reply(sock, ack, result);
    d.room = p.value.room;
    d.role = p.value.role;
    if (result.created) ctx.metrics.roomsCreated.inc();
    ctx.reply(sock, ack, { ok: true, room: p.value.room, token: result.token, peerPresent: result.peerPresent, iceServers: ctx.iceFor() });
    // after the reply: the displaced member hears it is out, the other member that we are here
    emitEffects(ctx.io, effects);
  },
};
