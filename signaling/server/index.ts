/**
 * movie-signal: the socket.io signaling server that introduces two peers.
 *
 * It only ever sees room ids and opaque, size-bounded `signal` payloads,
 * which it relays verbatim to the other member of the room. Room rules live
 * in `signaling/rooms.ts`; input validation in `signaling/validate.ts`.
 *
 * This file only wires the parts together; each concern has its own file here:
 *   options.ts      options, defaults and their check
 *   http.ts         /healthz, /metrics, listening, HTTP or HTTPS
 *   page.ts         the browser page at / and its security headers
 *   tls.ts          reading and checking the certificate and key
 *   sockets.ts      socket.io settings, per-connection state, event dispatch
 *   handlers/       one file per event (create, join, rejoin, meet, signal, leave, disconnect)
 *   reply.ts        how clients are answered, and the sentences
 *   limits.ts       flood control per connection, rate limits per address
 *   redis.ts        scale-out: Redis connections, store (redis-store.ts), adapter
 *   sweeper.ts      idle TTL and grace-period expiry
 *
 * Embeddable: `movie-share` runs it in-process, so this server never prints
 * (everything goes through `log`), never exits the process, and `close()`
 * releases every handle (socket.io, HTTP server, Redis clients, timers).
 */
import { randomBytes } from 'node:crypto';
import type { IceServerConfig } from '../../common/protocol/signal-protocol.js';
import { MemoryRoomStore, RoomManager, type RoomStore } from '../rooms.js';
import { createMetrics } from '../metrics.js';
import { turnRestCredentials } from '../turn.js';
import { resolveOptions, type RunningSignalServer, type SignalServerOptions } from './options.js';
import type { ServerContext } from './context.js';
import { createHttpServer, createMetricsServer, listen, urlHost } from './http.js';
import { createIo, serveConnections } from './sockets.js';
import { memorySocketLedger, rateLimiter, sharedSocketLedger } from './limits.js';
import { makeReply } from './reply.js';
import { startSweeper } from './sweeper.js';
import { checkTlsPem } from './tls.js';
import { pageDirWithIndex } from './page.js';
// type-only: redis.ts loads redis itself, and only in scale-out mode
import type { RedisWiring } from './redis.js';

export { SIGNAL_DEFAULTS, type RunningSignalServer, type SignalServerOptions } from './options.js';
export type { TlsFiles } from './tls.js';

/**
 * Start one signaling node and resolve once it listens (or reject, with
 * nothing left open, when it cannot: bad options, Redis unreachable, port taken).
 */
export async function startSignalServer(opts: SignalServerOptions = {}): Promise<RunningSignalServer> {
  const o = resolveOptions(opts);
  const { log, host, port } = o;
  if (o.tls) checkTlsPem(o.tls);

  const nodeId = randomBytes(8).toString('hex');
  let redis: RedisWiring | undefined;
  if (o.redisUrl) {
    const { openRedis } = await import('./redis.js');
    redis = await openRedis(o.redisUrl, nodeId, log);
  }
  const store: RoomStore = redis?.store ?? new MemoryRoomStore();
  const rooms = new RoomManager(store, { ttlMs: o.ttlMs, graceMs: o.graceMs, maxRooms: o.maxRooms, maxRoomsPerAddr: o.maxRoomsPerAddr }, nodeId);
  const metrics = createMetrics(() => store.count());
  let closing = false;
  const isClosing = (): boolean => closing;

  const httpServer = createHttpServer({
    store,
    metrics,
    peers: () => io.of('/').sockets.size,
    isClosing,
    startedAt: Date.now(),
    pageDir: o.pageDir,
    tls: o.tls,
    metricsElsewhere: o.metricsPort !== undefined,
  });
  const metricsServer = o.metricsPort !== undefined ? createMetricsServer(metrics) : undefined;
  const io = createIo(httpServer, redis?.adapter);
  const limiter = rateLimiter(store, o.rate);
  const ctx: ServerContext = {
    io,
    rooms,
    metrics,
    log,
    reply: makeReply(metrics, log),
    overLimit: (kind, addr) => limiter.overLimit(kind, addr),
    joinMissed: (addr) => limiter.joinMissed(addr),
    iceFor: (): IceServerConfig[] => (o.turnSecret ? [...o.staticIce, turnRestCredentials(o.turnSecret)] : [...o.staticIce]),
    isClosing,
  };
  const sockets = redis ? sharedSocketLedger(redis.store, nodeId, o.maxSocketsPerAddr, o.socketLeaseMs, log) : memorySocketLedger(o.maxSocketsPerAddr);
  serveConnections(ctx, o.trustProxy, sockets);
  const stopSweeper = startSweeper({ io, store, rooms, metrics, log, isClosing, ttlMs: o.ttlMs, graceMs: o.graceMs });

  const cleanup = async (): Promise<void> => {
    stopSweeper();
    sockets.stop();
    await io.close().catch(() => undefined);
    httpServer.closeAllConnections?.();
    if (metricsServer) {
      metricsServer.closeAllConnections();
      await new Promise<void>((r) => metricsServer.close(() => r()));
    }
    await redis?.close();
    await store.close();
  };

  let realPort: number;
  let metricsUrl: string | undefined;
  try {
    realPort = await listen(httpServer, host, port);
    if (metricsServer) metricsUrl = `http://${urlHost(o.metricsHost)}:${await listen(metricsServer, o.metricsHost, o.metricsPort!)}`;
  } catch (e) {
    closing = true;
    await cleanup();
    throw e;
  }
  httpServer.on('error', (e) => log(`http server error: ${e.message}`));

  const url = `${o.tls ? 'https' : 'http'}://${urlHost(host)}:${realPort}`;
  const pageDir = pageDirWithIndex(o.pageDir);
  if (metricsUrl) log(`metrics on ${metricsUrl}/metrics`);
  log(`movie-signal on ${url} (${store.kind} store, room TTL ${Math.round(o.ttlMs / 1000)} s, max ${o.maxRooms} rooms, ${pageDir ? `web page from ${pageDir}` : 'no web page'})`);

  let closed: Promise<void> | null = null;
  return {
    url,
    port: realPort,
    pageDir,
    metricsUrl,
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
