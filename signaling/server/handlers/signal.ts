/**
 * `signal`: relay one opaque payload to the other member of the room. The ack
 * is optional; while the other member is away the sender gets `peer-absent`
 * and holds the message.
 */
import { parseSignal } from '../../validate.js';
import type { EventHandler } from '../context.js';
import { fail, REPLIES } from '../reply.js';

export const signal: EventHandler = {
  needsAck: false,
  oneArgument: true,
  duringShutdown: false,
  async run(ctx, sock, arg, ack, now) {
    const d = sock.data;
    const p = parseSignal(arg);
    if (!p.ok) return ctx.reply(sock, ack, p);
    if (!d.room) return ctx.reply(sock, ack, fail('not-in-room', REPLIES.notInRoom));
    const t = await ctx.rooms.relayTarget(d.room, sock.id, now, p.value.kind);
    if (!t.ok) return ctx.reply(sock, ack, t);
    if (!t.to) return ctx.reply(sock, ack, fail('peer-absent', REPLIES.peerAbsent));
    // relayed verbatim (only the two validated fields, nothing else the client attached)
    ctx.io.to(t.to).emit('signal', { kind: p.value.kind, data: p.value.data });
    ctx.metrics.relayed.inc();
    if (ack) ctx.reply(sock, ack, { ok: true });
  },
};
