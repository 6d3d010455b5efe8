/**
 * `join`: a receiver pairs with a waiting room. Every attempt counts against
 * the address's join allowance, valid or not, and one answered `not-found` (a
 * wrong guess) costs extra, so guessing codes stays expensive. The host is
 * told (`peer-joined`) after the receiver's reply.
 */
import { parseJoin } from '../../validate.js';
import { alreadyInRoom, emitEffects, type EventHandler } from '../context.js';
import { fail, REPLIES } from '../reply.js';

export const join: EventHandler = {
  needsAck: true,
  oneArgument: true,
  duringShutdown: false,
  async run(ctx, sock, arg, ack, now) {
    const d = sock.data;
    const p = parseJoin(arg);
    if (await ctx.overLimit('join', d.addr)) return ctx.reply(sock, ack, fail('rate-limited', REPLIES.tooManyJoins));
    if (!p.ok) {
      if (p.reason === 'not-found') await ctx.joinMissed(d.addr);
      return ctx.reply(sock, ack, p);
    }
    if (await alreadyInRoom(ctx, sock)) return ctx.reply(sock, ack, fail('bad-request', REPLIES.alreadyInRoom));
    const { result, effects } = await ctx.rooms.join(p.value.room, sock.id, now);
    if (!result.ok) {
      if (result.reason === 'not-found') await ctx.joinMissed(d.addr);
      return ctx.reply(sock, ack, result);
    }
    d.room = p.value.room;
    d.role = 'receiver';
    ctx.metrics.pairings.inc();
    ctx.reply(sock, ack, {
      ok: true,
      room: p.value.room,
      iceServers: ctx.iceFor(),
      token: result.token,
      peerPresent: result.peerPresent,
    });
    emitEffects(ctx.io, effects);
  },
};
