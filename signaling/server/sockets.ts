/**
 * socket.io: the server's transport settings, and each connection's life:
 * its state, the flood gate, the dispatch of every client event to its
 * handler in `handlers/`, and the queue that runs a connection's events one
 * at a time in arrival order (a `signal` never overtakes the `join` before it).
 */
import { Server, type ServerOptions } from 'socket.io';
import { SIGNAL_DEFAULTS } from './options.js';
import type { WebServer } from './http.js';
import type { Ack, EventHandler, IO, ServerContext, Sock } from './context.js';
import { clientAddr, floodGate, type SocketLedger } from './limits.js';
import { fail, REPLIES } from './reply.js';
import { create } from './handlers/create.js';
import { join } from './handlers/join.js';
import { rejoin } from './handlers/rejoin.js';
import { meet } from './handlers/meet.js';
import { signal } from './handlers/signal.js';
import { leave } from './handlers/leave.js';
import { disconnect } from './handlers/disconnect.js';

/** The client events we serve; anything else is refused as an unknown event. */
const HANDLERS: ReadonlyMap<string, EventHandler> = new Map(Object.entries({ create, join, rejoin, meet, signal, leave }));

/** The socket.io server on `httpServer`; `adapter` is the Redis adapter in scale-out mode. */
export function createIo(httpServer: WebServer, adapter: ServerOptions['adapter'] | undefined): IO {
  return new Server(httpServer, {
    // websocket only: no long-polling, so no sticky sessions behind a load balancer
    transports: ['websocket'],
    maxHttpBufferSize: SIGNAL_DEFAULTS.maxHttpBufferSize,
    serveClient: false,
    pingInterval: 10_000,
    pingTimeout: 10_000,
    connectTimeout: 10_000,
    ...(adapter ? { adapter } : {}),
  });
}

/** Run one unit of work for a socket, in arrival order, never throwing. */
function enqueue(sock: Sock, work: () => Promise<void>, onError: (e: unknown) => void): void {
  const d = sock.data;
  d.queued++;
  d.chain = d.chain
    .then(work)
    .catch(onError)
    .finally(() => {
      d.queued--;
    });
}

/** The checks every event passes before its handler runs, in the order clients have always seen their refusals. */
async function handle(ctx: ServerContext, sock: Sock, event: string, h: EventHandler, args: unknown[], ack: Ack | undefined): Promise<void> {
  const now = Date.now();
  if (h.needsAck && !ack) return ctx.reply(sock, undefined, fail('bad-request', REPLIES.needsAck(event)));
  if (h.oneArgument && args.length !== 1) return ctx.reply(sock, ack, fail('bad-request', REPLIES.oneArgument(event)));
  if (ctx.isClosing() && !h.duringShutdown) return ctx.reply(sock, ack, fail('shutting-down', REPLIES.shuttingDown));
  return h.run(ctx, sock, args[0], ack, now);
}

/**
 * Serve every connection `ctx.io` accepts. Beyond the per-address cap of
 * `sockets` (on this node, or with Redis on all nodes) a new connection is
 * refused before it connects, with a `rate-limited` connect error (`data.reason`).
 */
export function serveConnections(ctx: ServerContext, trustProxy: boolean, sockets: SocketLedger): void {
  const { io, log, metrics, reply } = ctx;
  // counted when admitted (one atomic check-and-count, across nodes on Redis); released on 'disconnect',
  // or just after admission when socket.io dropped the socket because its client left during the check
  io.use((socket: Sock, next) => {
    const addr = clientAddr(socket, trustProxy);
    const id = socket.id;
    sockets.admit(addr, id).then(
      (ok) => {
        if (!ok) {
          metrics.reject('rate-limited');
          const err = new Error(REPLIES.tooManySockets) as Error & { data?: unknown };
          err.data = { reason: 'rate-limited' };
          return next(err);
        }
        socket.data = { ...socket.data, addr };
        next();
        // socket.io connects (or drops) an admitted socket on the next tick
        setImmediate(() => {
          if (!socket.connected) sockets.release(addr, id);
        });
      },
      (e: unknown) => next(e instanceof Error ? e : new Error(String(e))),
    );
  });
  io.on('connection', (socket: Sock) => {
    const addr = socket.data.addr;
    const id = socket.id;
    socket.data = {
      addr,
      room: null,
      role: null,
      chain: Promise.resolve(),
      queued: 0,
      floodWindow: 0,
      floodCount: 0,
    };
    metrics.peersConnected.inc();

    socket.onAny((rawEvent: unknown, ...args: unknown[]) => {
      const event = typeof rawEvent === 'string' ? rawEvent : String(rawEvent);
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined;
      if (!floodGate(socket, ack, Date.now(), reply, log)) return;
      const h = HANDLERS.get(event);
      if (!h) return reply(socket, ack, fail('bad-request', REPLIES.unknownEvent(event)));
      enqueue(
        socket,
        () => handle(ctx, socket, event, h, args, ack),
        (e) => {
          log(`error handling "${event}": ${(e as Error)?.message ?? e}`);
          reply(socket, ack, fail('internal', REPLIES.internal));
        },
      );
    });

    socket.on('disconnect', () => {
      sockets.release(addr, id);
      metrics.peersConnected.dec();
      // while shutting down, keep room state: members reconnect (to this node restarted, or another) and rejoin
      if (ctx.isClosing()) return;
      enqueue(
        socket,
        () => disconnect(ctx, socket),
        (e) => log(`error handling disconnect: ${(e as Error)?.message ?? e}`),
      );
    });
  });
}
