/**
 * What every part of the server shares: the socket.io types with our
 * per-connection state, and how room transitions reach their members.
 */
import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, Role, ServerToClientEvents } from '../../common/signal-protocol.js';
import type { Effect } from '../rooms.js';

/** Per-connection state, in `socket.data`. */
export interface SocketData {
  /** the client address rate limits count against (see `clientAddr` in `limits.ts`) */
  addr: string;
  room: string | null;
  role: Role | null;
  /** the connection's work, run in arrival order (see `enqueue` in `signaling/server.ts`) */
  chain: Promise<void>;
  queued: number;
  /** flood control (see `floodGate` in `limits.ts`) */
  floodWindow: number;
  floodCount: number;
}

export type IO = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type Sock = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type Ack = (reply: unknown) => void;

/** Send what a room transition asked for, to members on any node (the Redis adapter routes by socket id). */
export function emitEffects(io: IO, effects: Effect[]): void {
  for (const e of effects) {
    if (e.event === 'signal-error') io.to(e.to).emit('signal-error', e.err);
    else io.to(e.to).emit(e.event);
  }
}
