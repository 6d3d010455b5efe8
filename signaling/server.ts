/**
 * movie-signal: the socket.io signaling server that introduces two peers.
 *
 * It only ever sees room ids and opaque, size-bounded `signal` payloads,
 * which it relays verbatim to the other member of the room. Room rules live
 * in `rooms.ts`; input validation in `validate.ts`. This file wires the parts
 * in `server/` together and dispatches the socket events.
 *
 * Embeddable: `movie-share` runs it in-process, so this module never prints
 * (everything goes through `log`), never exits the process, and `close()`
 * releases every handle (socket.io, HTTP server, Redis clients, timers).
 */
import { randomBytes } from 'node:crypto';
import { Server } from 'socket.io';
import type { IceServerConfig } from '../common/signal-protocol.js';
import { MemoryRoomStore, RoomManager, type RoomStore } from './rooms.js';
import { createMetrics } from './metrics.js';
import { turnRestCredentials } from './turn.js';
import { parseCreate, parseJoin, parseRejoin, parseSignal } from './validate.js';
import { resolveOptions, SIGNAL_DEFAULTS, type RunningSignalServer, type SignalServerOptions } from './server/options.js';
import { emitEffects, type Ack, type IO, type Sock } from './server/context.js';
import { createHttpServer, listen, urlHost } from './server/http.js';
import { clientAddr, floodGate, rateLimiter } from './server/limits.js';
import { fail, makeReply, REPLIES } from './server/reply.js';
import { startSweeper } from './server/sweeper.js';
// type-only: redis.ts loads redis itself, and only in scale-out mode
import type { RedisWiring } from './server/redis.js';

export { SIGNAL_DEFAULTS, type RunningSignalServer, type SignalServerOptions } from './server/options.js';

const KNOWN_EVENTS = new Set(['create', 'join', 'rejoin', 'signal', 'leave']);

export async function startSignalServer(opts: SignalServerOptions = {}): Promise<RunningSignalServer> {
  const o = resolveOptions(opts);
  const { log, host, port } = o;

  const nodeId = randomBytes(8).toString('hex');
  let redis: RedisWiring | undefined;
  if (o.redisUrl) {
    const { openRedis } = await import('./server/redis.js');
    redis = await openRedis(o.redisUrl, nodeId, log);
  }
  const store: RoomStore = redis?.store ?? new MemoryRoomStore();
  const rooms = new RoomManager(store, { ttlMs: o.ttlMs, graceMs: o.graceMs, maxRooms: o.maxRooms }, nodeId);
  const metrics = createMetrics(() => store.count());
  let closing = false;
  const isClosing = (): boolean => closing;

  const iceFor = (): IceServerConfig[] => (o.turnSecret ? [...o.staticIce, turnRestCredentials(o.turnSecret)] : [...o.staticIce]);

  const httpServer = createHttpServer({ store, metrics, peers: () => io.of('/').sockets.size, isClosing, startedAt: Date.now() });

  /* ---------------- socket.io ---------------- */
  const io: IO = new Server(httpServer, {
    // websocket only: no long-polling, so no sticky sessions behind a load balancer
    transports: ['websocket'],
    maxHttpBufferSize: SIGNAL_DEFAULTS.maxHttpBufferSize,
    serveClient: false,
    pingInterval: 10_000,
    pingTimeout: 10_000,
    connectTimeout: 10_000,
    ...(redis ? { adapter: redis.adapter } : {}),
  });

  const reply = makeReply(metrics, log);
  const overLimit = rateLimiter(store, o.rate);

  async function alreadyInRoom(sock: Sock): Promise<boolean> {
    const d = sock.data;
    if (!d.room) return false;
    if (await rooms.isMember(d.room, sock.id)) return true;
    d.room = null;
    d.role = null;
    return false;
  }

  async function handle(sock: Sock, event: string, args: unknown[], ack: Ack | undefined): Promise<void> {
    const d = sock.data;
    const now = Date.now();
    const needsAck = event === 'create' || event === 'join' || event === 'rejoin';
    if (needsAck && !ack) return reply(sock, undefined, fail('bad-request', REPLIES.needsAck(event)));
    if (event !== 'leave' && args.length !== 1) return reply(sock, ack, fail('bad-request', REPLIES.oneArgument(event)));
    if (closing && event !== 'leave') return reply(sock, ack, fail('shutting-down', REPLIES.shuttingDown));
    // only KNOWN_EVENTS get here (see onAny below), so there is no default branch
    switch (event) {
      case 'create': {
        const p = parseCreate(args[0]);
        if (!p.ok) return reply(sock, ack, p);
        if (await alreadyInRoom(sock)) return reply(sock, ack, fail('bad-request', REPLIES.alreadyInRoom));
        if (await overLimit('create', d.addr)) return reply(sock, ack, fail('rate-limited', REPLIES.tooManyCreates));
        const r = await rooms.create(sock.id, now);
        if (!r.ok) return reply(sock, ack, r);
        d.room = r.room;
        d.role = 'host';
        metrics.roomsCreated.inc();
        return reply(sock, ack, { ok: true, room: r.room, token: r.token, iceServers: iceFor() });
      }
      case 'join': {
        const p = parseJoin(args[0]);
        if (await overLimit('join', d.addr)) return reply(sock, ack, fail('rate-limited', REPLIES.tooManyJoins));
        if (!p.ok) return reply(sock, ack, p);
        if (await alreadyInRoom(sock)) return reply(sock, ack, fail('bad-request', REPLIES.alreadyInRoom));
        const { result, effects } = await rooms.join(p.value.room, sock.id, now);
        if (!result.ok) return reply(sock, ack, result);
        d.room = p.value.room;
        d.role = 'receiver';
        metrics.pairings.inc();
        reply(sock, ack, {
          ok: true,
          room: p.value.room,
          iceServers: iceFor(),
          token: result.token,
          peerPresent: result.peerPresent,
        });
        emitEffects(io, effects);
        return;
      }
      case 'rejoin': {
        const p = parseRejoin(args[0]);
        if (!p.ok) return reply(sock, ack, p);
        if (d.room && d.room !== p.value.room && (await alreadyInRoom(sock))) {
          return reply(sock, ack, fail('bad-request', REPLIES.alreadyInOtherRoom));
        }
        const { result, effects } = await rooms.rejoin(p.value.room, p.value.token, sock.id, now);
        if (!result.ok) return reply(sock, ack, result);
        d.room = p.value.room;
        d.role = result.role;
        reply(sock, ack, { ok: true, room: p.value.room, peerPresent: result.peerPresent, role: result.role });
        emitEffects(io, effects);
        return;
      }
      case 'signal': {
        const p = parseSignal(args[0]);
        if (!p.ok) return reply(sock, ack, p);
        if (!d.room) return reply(sock, ack, fail('not-in-room', REPLIES.notInRoom));
        const t = await rooms.relayTarget(d.room, sock.id, now);
        if (!t.ok) return reply(sock, ack, t);
        if (!t.to) return reply(sock, ack, fail('peer-absent', REPLIES.peerAbsent));
        // relayed verbatim (only the two validated fields, nothing else the client attached)
        io.to(t.to).emit('signal', { kind: p.value.kind, data: p.value.data });
        metrics.relayed.inc();
        if (ack) reply(sock, ack, { ok: true });
        return;
      }
      case 'leave': {
        if (d.room) {
          const room = d.room;
          d.room = null;
          d.role = null;
          const { effects } = await rooms.depart(room, sock.id, now, true);
          emitEffects(io, effects);
        }
        if (ack) reply(sock, ack, { ok: true });
        return;
      }
    }
  }

  /** Run one unit of work for a socket, in arrival order, never throwing. */
  const enqueue = (sock: Sock, work: () => Promise<void>, onError: (e: unknown) => void): void => {
    const d = sock.data;
    d.queued++;
    d.chain = d.chain
      .then(work)
      .catch(onError)
      .finally(() => {
        d.queued--;
      });
  };

  io.on('connection', (socket: Sock) => {
    socket.data = {
      addr: clientAddr(socket, o.trustProxy),
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
      if (!KNOWN_EVENTS.has(event)) return reply(socket, ack, fail('bad-request', REPLIES.unknownEvent(event)));
      enqueue(
        socket,
        () => handle(socket, event, args, ack),
        (e) => {
          log(`error handling "${event}": ${(e as Error)?.message ?? e}`);
          reply(socket, ack, fail('internal', REPLIES.internal));
        },
      );
    });

    socket.on('disconnect', () => {
      metrics.peersConnected.dec();
      // while shutting down, keep room state: members reconnect (to this node restarted, or another) and rejoin
      if (closing) return;
      enqueue(
        socket,
        async () => {
          const d = socket.data;
          if (!d.room) return;
          const room = d.room;
          d.room = null;
          const { effects } = await rooms.depart(room, socket.id, Date.now(), false);
          emitEffects(io, effects);
        },
        (e) => log(`error handling disconnect: ${(e as Error)?.message ?? e}`),
      );
    });
  });

  const stopSweeper = startSweeper({ io, store, rooms, metrics, log, isClosing, ttlMs: o.ttlMs, graceMs: o.graceMs });

  /* ---------------- listen ---------------- */
  const cleanup = async (): Promise<void> => {
    stopSweeper();
    await io.close().catch(() => undefined);
    httpServer.closeAllConnections?.();
    await redis?.close();
    await store.close();
  };

  let realPort: number;
  try {
    realPort = await listen(httpServer, host, port);
  } catch (e) {
    closing = true;
    await cleanup();
    throw e;
  }
  httpServer.on('error', (e) => log(`http server error: ${e.message}`));

  const url = `http://${urlHost(host)}:${realPort}`;
  log(`movie-signal on ${url} (${store.kind} store, room TTL ${Math.round(o.ttlMs / 1000)} s, max ${o.maxRooms} rooms)`);

  let closed: Promise<void> | null = null;
  return {
    url,
    port: realPort,
    close(): Promise<void> {
      if (closed) return closed;
      closing = true;
      closed = (async () => {
        stopSweeper();
        io.local.emit('shutdown');
        // let the shutdown packets reach the wire before the transports close
        await new Promise((r) => setTimeout(r, 30));
        await cleanup();
      })();
      return closed;
    },
  };
}
