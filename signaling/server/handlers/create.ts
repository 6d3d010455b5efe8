/**
 * `create`: the host opens a room. Replies with the room id, the host's
 * `rejoin` token and the ICE servers.
 */
import { parseCreate } from '../../validate.js';
import { alreadyInRoom, type EventHandler } from '../context.js';
import { fail, REPLIES } from '../reply.js';

export const create: EventHandler = {
  needsAck: true,
  oneArgument: true,
  duringShutdown: false,
  async run(ctx, sock, arg, ack, now) {
    const d = sock.data;
    const p = parseCreate(arg);
    if (!p.ok) return ctx.reply(sock, ack, p);
    if (await alreadyInRoom(ctx, sock)) return ctx.reply(sock, ack, fail('bad-request', REPLIES.alreadyInRoom));
    if (await ctx.overLimit('create', d.addr)) return ctx.reply(sock, ack, fail('rate-limited', REPLIES.tooManyCreates));
    const r = await ctx.rooms.create(sock.id, now, d.addr);
    if (!r.ok) return ctx.reply(sock, ack, r);
    d.room = r.room;
    d.role = 'host';
    ctx.metrics.roomsCreated.inc();
    return ctx.reply(sock, ack, { ok: true, room: r.room, token: r.token, iceServers: ctx.iceFor() });
  },
};
