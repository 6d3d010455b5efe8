/**
 * What every part of the server shares: the socket.io types with our
 * per-connection state, the `ServerContext` handed to each event handler, and
 * the two helpers several handlers need. Built once per server, in
 * `signaling/server/index.ts`.
 */
import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, CreateOk, IceServerConfig, JoinOk, MeetOk, RejoinOk, Role, ServerToClientEvents, SignalError } from '../../common/protocol/signal-protocol.js';
import type { Effect, RoomManager } from '../rooms.js';
import type { SignalMetrics } from '../metrics.js';

/** Per-connection state, in `socket.data`. */
export interface SocketData {
  /** the client address rate limits count against (see `clientAddr` in `limits.ts`) */
  addr: string;
  room: string | null;
  role: Role | null;
  /** the connection's work, run in arrival order (see `enqueue` in `sockets.ts`) */
  chain: Promise<void>;
  queued: number;
  /** flood control (see `floodGate` in `limits.ts`) */
  floodWindow: number;
  floodCount: number;
}

export type IO = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type Sock = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type Ack = (reply: unknown) => void;

/** Any reply an acknowledgement may carry. */
export type ReplyPayload = { ok: true } | CreateOk | JoinOk | RejoinOk | MeetOk | SignalError;

/** Answer through the ack when there is one, else (errors only) as a `signal-error` event. */
export type Reply = (sock: Sock, ack: Ack | undefined, payload: ReplyPayload) => void;

export interface ServerContext {
  io: IO;
  rooms: RoomManager;
  metrics: SignalMetrics;
  log: (line: string) => void;
  reply: Reply;
  /** true once this client address went over its create (or join) allowance for the current window */
  overLimit(kind: 'create' | 'join', addr: string): Promise<boolean>;
  /** charge this client address the extra cost of a join answered `not-found` */
  joinMissed(addr: string): Promise<void>;
  /** the ICE servers for a create/join/meet reply (fresh TURN credentials each time) */
  iceFor(): IceServerConfig[];
  /** true from the moment `close()` is called (or listening failed) */
  isClosing(): boolean;
}

/** One client-to-server event. The dispatcher in `sockets.ts` checks the first three fields, in this order, before `run`. */
export interface EventHandler {
  /** refused without an acknowledgement callback */
  needsAck: boolean;
  /** refused unless it carries exactly one argument */
  oneArgument: boolean;
  /** still served while the server shuts down */
  duringShutdown: boolean;
  run(ctx: ServerContext, sock: Sock, arg: unknown, ack: Ack | undefined, now: number): Promise<void>;
}

/** Send what a room transition asked for, to members on any node (the Redis adapter routes by socket id). */
export function emitEffects(io: IO, effects: Effect[]): void {
  for (const e of effects) {
    if (e.event === 'signal-error') io.to(e.to).emit('signal-error', e.err);
    else if (e.event === 'peer-left' && e.reopened) io.to(e.to).emit('peer-left', { reopened: true });
    else io.to(e.to).emit(e.event);
  }
}

/** Whether this connection is still in the room it remembers; forgets a room that ended meanwhile (expired, or the host left). */
export async function alreadyInRoom(ctx: ServerContext, sock: Sock): Promise<boolean> {
  const d = sock.data;
  if (!d.room) return false;
  if (await ctx.rooms.isMember(d.room, sock.id)) return true;
  d.room = null;
  d.role = null;
  return false;
}
