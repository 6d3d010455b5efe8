/**
 * How the server answers a client, and every sentence it answers with that is
 * not a room rule (those are `MESSAGES` in `signaling/rooms.ts`). Each
 * sentence is written once here, so two refusals of the same kind always read
 * the same and a wording change is one edit.
 */
import type { SignalError, SignalErrorReason } from '../../common/protocol/signal-protocol.js';
import type { SignalMetrics } from '../metrics.js';
import type { Reply } from './context.js';

/** Events are named in sentences by at most this many characters (a client may send any string). */
const EVENT_NAME_SHOWN = 40;

export const REPLIES = {
  needsAck: (event: string): string => `"${event}" must be sent with an acknowledgement callback.`,
  oneArgument: (event: string): string => `"${event}" takes exactly one argument.`,
  unknownEvent: (event: string): string => `Unknown event "${event.slice(0, EVENT_NAME_SHOWN)}".`,
  shuttingDown: 'This signaling server is shutting down; reconnect and try again.',
  alreadyInRoom: 'This connection is already in a room; leave it first.',
  alreadyInOtherRoom: 'This connection is already in another room; leave it first.',
  tooManyCreates: 'Too many rooms created from your address; wait a minute and try again.',
  tooManyJoins: 'Too many join attempts from your address; wait a minute and try again.',
  tooManySockets: 'Too many connections from your address; close some and try again.',
  tooManyMessages: 'Too many messages on this connection; slow down.',
  notInRoom: 'Create or join a room before sending signals.',
  peerAbsent: 'The other peer is not connected to this room right now.',
  internal: 'The signaling server had an internal error; try again.',
} as const;

export const fail = (reason: SignalErrorReason, message: string): SignalError => ({ ok: false, reason, message });

/** The one `Reply` of a server: it counts every refusal by reason and never lets a failing ack throw into a handler. */
export function makeReply(metrics: SignalMetrics, log: (line: string) => void): Reply {
  return (sock, ack, payload) => {
    if (!payload.ok) metrics.reject(payload.reason);
    try {
      if (ack) ack(payload);
      else if (!payload.ok) sock.emit('signal-error', { ok: false, reason: payload.reason, message: payload.message });
    } catch (e) {
      log(`reply failed: ${(e as Error).message}`);
    }
  };
}
