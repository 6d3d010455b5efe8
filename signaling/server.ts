/**
 * movie-signal: the socket.io signaling server that introduces two peers.
 *
 * It only ever sees room ids and opaque, size-bounded `signal` payloads,
 * which it relays verbatim to the other member of the room. Room rules live
 * in `rooms.ts`; input validation in `validate.ts`.
 *
 * Embeddable: `movie-share` runs it in-process, so this module never prints
 * (everything goes through `log`), never exits the process, and `close()`
 * releases every handle (socket.io, HTTP server, Redis clients, timers).
 */
import http from 'node:http';
import { withTimeout } from '../common/timeout.js';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
// redis and its adapter are loaded only in scale-out mode (`redisUrl`): they
// take ~250 ms to load, and movie-share embeds this server on every LAN share
import type { createClient } from 'redis';
import type {
  ClientToServerEvents,
  CreateOk,
  JoinOk,
  RejoinOk,
  IceServerConfig,
  Role,
  ServerToClientEvents,
  SignalError,
  SignalErrorReason,
} from '../common/signal-protocol.js';
import { MemoryRoomStore, RoomManager, type Effect, type RoomStore } from './rooms.js';
import type { RedisRoomStore } from './server/redis-store.js';
import { createMetrics } from './metrics.js';
import { turnRestCredentials } from './turn.js';
import { parseCreate, parseJoin, parseRejoin, parseSignal } from './validate.js';

export interface SignalServerOptions {
  host?: string; // default '0.0.0.0'
  port?: number; // default 8080; 0 = ephemeral
  redisUrl?: string; // scale-out mode when set
  iceServers?: IceServerConfig[]; // static ICE servers handed to clients in create/join replies
  turnSecret?: { secret: string; urls: string[]; ttlSeconds?: number }; // coturn use-auth-secret REST creds minted per client
  roomTtlMs?: number; // idle TTL, default 10 min
  maxRooms?: number; // default 10000
  rateLimit?: { windowMs: number; maxCreates: number; maxJoins: number }; // per client address
  log?: (line: string) => void;
  /** how long a member whose connection dropped may `rejoin` before it counts as gone; default 30 s */
  rejoinGraceMs?: number;
  /** take the client address for rate limits from X-Forwarded-For (only behind a trusted proxy); default false */
  trustProxy?: boolean;
}

export interface RunningSignalServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const SIGNAL_DEFAULTS = {
  host: '0.0.0.0',
  port: 8080,
  roomTtlMs: 10 * 60_000,
  maxRooms: 10_000,
  rejoinGraceMs: 30_000,
  /** per client address: generous enough for a 1000-room load test from one address, small enough to stop code-burning floods */
  rateLimit: { windowMs: 60_000, maxCreates: 1200, maxJoins: 1200 },
  /** socket.io / engine.io frame limit; a sealed SDP (the largest message) is < 90 KiB */
  maxHttpBufferSize: 128 * 1024,
} as const;

/** Per-connection flood control: events per window; above `max` they are refused, above `kick` the connection is closed. */
const SOCKET_FLOOD = { windowMs: 10_000, max: 300, kick: 1500, queue: 64 };

interface SocketData {
  addr: string;
  room: string | null;
  role: Role | null;
  chain: Promise<void>;
  queued: number;
  floodWindow: number;
  floodCount: number;
}

type IO = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type Sock = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type RedisClient = ReturnType<typeof createClient>;
type Ack = (reply: unknown) => void;

const KNOWN_EVENTS = new Set(['create', 'join', 'rejoin', 'signal', 'leave']);

function redactUrl(u: string): string {
  try {
    const x = new URL(u);
    if (x.password) x.password = '***';
    return x.toString();
  } catch {
    return '(invalid URL)';
  }
}

function normalizeAddr(a: string | undefined): string {
  if (!a) return 'unknown';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}


async function connectRedis(url: string, log: (l: string) => void): Promise<RedisClient[]> {
  // a CommonJS package: its exports are the namespace's `default`, under Node as
  // in the bundle (esbuild gives a lazily loaded CommonJS chunk no named exports)
  const { createClient } = (await import('redis')).default;
  const shown = redactUrl(url);
  const lastLog = new Map<string, number>();
  const mk = (name: string, disableOfflineQueue: boolean): RedisClient => {
    let ready = false;
    const c = createClient({
      url,
      disableOfflineQueue,
      socket: {
        connectTimeout: 5000,
        // at startup give up after a few quick tries (fail fast, clearly); once up, keep reconnecting
        reconnectStrategy: (n: number, cause: Error) => (!ready && n >= 4 ? cause : Math.min(50 * 2 ** n, 2000)),
      },
    }) as RedisClient;
    c.on('ready', () => {
      ready = true;
    });
    c.on('error', (e: unknown) => {
      if (!ready) return; // a startup failure is reported once, by startSignalServer's error
      const now = Date.now();
      if (now - (lastLog.get(name) ?? 0) > 5000) {
        lastLog.set(name, now);
        log(`redis (${name}) ${shown}: ${(e as Error)?.message ?? e}`);
      }
    });
    return c;
  };
  // commands fail fast while Redis is away (we answer `internal`); the adapter's pub/sub clients queue
  const clients = [mk('state', true), mk('pub', false), mk('sub', false)];
  const all = Promise.all(clients.map((c) => c.connect()));
  all.catch(() => undefined);
  try {
    await withTimeout(all, 5000, `Cannot connect to Redis at ${shown}.`);
  } catch (e) {
    for (const c of clients) {
      try {
        c.destroy();
      } catch {
        /* not connected */
      }
    }
    throw new Error(`Cannot connect to Redis at ${shown}: ${(e as Error).message}`);
  }
  return clients;
}

async function closeRedis(clients: RedisClient[]): Promise<void> {
  await Promise.allSettled(
    clients.map(async (c) => {
      try {
        if (c.isOpen) await withTimeout(c.close(), 2000, 'redis close timeout');
      } catch {
        try {
          c.destroy();
        } catch {
          /* already gone */
        }
      }
    }),
  );
}

export async function startSignalServer(opts: SignalServerOptions = {}): Promise<RunningSignalServer> {
  const log = opts.log ?? (() => undefined);
  const host = opts.host ?? SIGNAL_DEFAULTS.host;
  const port = opts.port ?? SIGNAL_DEFAULTS.port;
  const ttlMs = opts.roomTtlMs ?? SIGNAL_DEFAULTS.roomTtlMs;
  const graceMs = opts.rejoinGraceMs ?? SIGNAL_DEFAULTS.rejoinGraceMs;
  const maxRooms = opts.maxRooms ?? SIGNAL_DEFAULTS.maxRooms;
  const rate = opts.rateLimit ?? SIGNAL_DEFAULTS.rateLimit;
  const staticIce = opts.iceServers ?? [];
  if (!(ttlMs > 0) || !(graceMs >= 0) || !(maxRooms > 0) || !(rate.windowMs > 0)) {
    throw new Error('Invalid signaling server options: TTL, max rooms and rate-limit window must be positive.');
  }

  const nodeId = randomBytes(8).toString('hex');
  let redisClients: RedisClient[] = [];
  let createAdapter: typeof import('@socket.io/redis-adapter').createAdapter | undefined;
  let store: RoomStore;
  if (opts.redisUrl) {
    const [{ RedisRoomStore: Store }, adapterModule] = await Promise.all([import('./server/redis-store.js'), import('@socket.io/redis-adapter')]);
    createAdapter = adapterModule.default.createAdapter; // CommonJS: see connectRedis
    redisClients = await connectRedis(opts.redisUrl, log);
    const rs: RedisRoomStore = new Store(redisClients[0]!, nodeId);
    try {
      // liveness: other nodes see this subscription as long as this process is connected to Redis
      await redisClients[2]!.subscribe(rs.nodeChannel(), () => undefined);
    } catch (e) {
      await closeRedis(redisClients);
      throw new Error(`Cannot subscribe on Redis: ${(e as Error).message}`);
    }
    store = rs;
  } else {
    store = new MemoryRoomStore();
  }
  const rooms = new RoomManager(store, { ttlMs, graceMs, maxRooms }, nodeId);
  const metrics = createMetrics(() => store.count());
  const startedAt = Date.now();
  let closing = false;

  const iceFor = (): IceServerConfig[] =>
    opts.turnSecret ? [...staticIce, turnRestCredentials(opts.turnSecret)] : [...staticIce];

  /* ---------------- HTTP: /healthz and /metrics ---------------- */
  const httpServer = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    if (path === '/healthz') {
      store
        .count()
        .catch(() => -1)
        .then((n) => {
          const ok = !closing && store.healthy() && n >= 0;
          send(
            ok ? 200 : 503,
            'application/json',
            JSON.stringify({
              ok,
              status: closing ? 'shutting-down' : ok ? 'ok' : 'store-unavailable',
              mode: store.kind,
              rooms: n,
              peers: io.of('/').sockets.size,
              uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
            }) + '\n',
          );
        })
        .catch(() => send(500, 'text/plain', 'error\n'));
      return;
    }
    if (path === '/metrics') {
      metrics.registry
        .metrics()
        .then((text) => send(200, metrics.registry.contentType, text))
        .catch((e) => send(500, 'text/plain', `metrics error: ${(e as Error).message}\n`));
      return;
    }
    send(404, 'text/plain', 'not found\n');
  });

  /* ---------------- socket.io ---------------- */
  const io: IO = new Server(httpServer, {
    // websocket only: no long-polling, so no sticky sessions behind a load balancer
    transports: ['websocket'],
    maxHttpBufferSize: SIGNAL_DEFAULTS.maxHttpBufferSize,
    serveClient: false,
    pingInterval: 10_000,
    pingTimeout: 10_000,
    connectTimeout: 10_000,
    ...(createAdapter ? { adapter: createAdapter(redisClients[1], redisClients[2]) } : {}),
  });

  const emitEffects = (effects: Effect[]): void => {
    for (const e of effects) {
      if (e.event === 'signal-error') io.to(e.to).emit('signal-error', e.err);
      else io.to(e.to).emit(e.event);
    }
  };

  const fail = (reason: SignalErrorReason, message: string): SignalError => ({ ok: false, reason, message });

  /** Answer through the ack when there is one, else (errors only) as a `signal-error` event. */
  const reply = (sock: Sock, ack: Ack | undefined, payload: { ok: true } | CreateOk | JoinOk | RejoinOk | SignalError): void => {
    if (!payload.ok) metrics.reject(payload.reason);
    try {
      if (ack) ack(payload);
      else if (!payload.ok) sock.emit('signal-error', { ok: false, reason: payload.reason, message: payload.message });
    } catch (e) {
      log(`reply failed: ${(e as Error).message}`);
    }
  };

  const addrOf = (sock: Sock): string => {
    if (opts.trustProxy) {
      // the last entry is the one our own proxy added (earlier ones are whatever the client sent)
      const xff = sock.handshake.headers['x-forwarded-for'];
      const last = (Array.isArray(xff) ? xff[xff.length - 1] : xff)?.split(',').pop()?.trim().slice(0, 64);
      if (last) return normalizeAddr(last);
    }
    return normalizeAddr(sock.handshake.address);
  };

  async function overLimit(kind: 'create' | 'join', addr: string): Promise<boolean> {
    const max = kind === 'create' ? rate.maxCreates : rate.maxJoins;
    const n = await store.hit(`${kind}:${addr}`, rate.windowMs, Date.now());
    return n > max;
  }

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
    if (needsAck && !ack) {
      return reply(sock, undefined, fail('bad-request', `"${event}" must be sent with an acknowledgement callback.`));
    }
    if (event !== 'leave' && args.length !== 1) {
      return reply(sock, ack, fail('bad-request', `"${event}" takes exactly one argument.`));
    }
    if (closing && event !== 'leave') {
      return reply(sock, ack, fail('shutting-down', 'This signaling server is shutting down; reconnect and try again.'));
    }
    switch (event) {
      case 'create': {
        const p = parseCreate(args[0]);
        if (!p.ok) return reply(sock, ack, p);
        if (await alreadyInRoom(sock)) {
          return reply(sock, ack, fail('bad-request', 'This connection is already in a room; leave it first.'));
        }
        if (await overLimit('create', d.addr)) {
          return reply(sock, ack, fail('rate-limited', 'Too many rooms created from your address; wait a minute and try again.'));
        }
        const r = await rooms.create(sock.id, now);
        if (!r.ok) return reply(sock, ack, r);
        d.room = r.room;
        d.role = 'host';
        metrics.roomsCreated.inc();
        return reply(sock, ack, { ok: true, room: r.room, token: r.token, iceServers: iceFor() });
      }
      case 'join': {
        const p = parseJoin(args[0]);
        if (await overLimit('join', d.addr)) {
          return reply(sock, ack, fail('rate-limited', 'Too many join attempts from your address; wait a minute and try again.'));
        }
        if (!p.ok) return reply(sock, ack, p);
        if (await alreadyInRoom(sock)) {
          return reply(sock, ack, fail('bad-request', 'This connection is already in a room; leave it first.'));
        }
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
        emitEffects(effects);
        return;
      }
      case 'rejoin': {
        const p = parseRejoin(args[0]);
        if (!p.ok) return reply(sock, ack, p);
        if (d.room && d.room !== p.value.room && (await alreadyInRoom(sock))) {
          return reply(sock, ack, fail('bad-request', 'This connection is already in another room; leave it first.'));
        }
        const { result, effects } = await rooms.rejoin(p.value.room, p.value.token, sock.id, now);
        if (!result.ok) return reply(sock, ack, result);
        d.room = p.value.room;
        d.role = result.role;
        reply(sock, ack, { ok: true, room: p.value.room, peerPresent: result.peerPresent, role: result.role });
        emitEffects(effects);
        return;
      }
      case 'signal': {
        const p = parseSignal(args[0]);
        if (!p.ok) return reply(sock, ack, p);
        if (!d.room) return reply(sock, ack, fail('not-in-room', 'Create or join a room before sending signals.'));
        const t = await rooms.relayTarget(d.room, sock.id, now);
        if (!t.ok) return reply(sock, ack, t);
        if (!t.to) return reply(sock, ack, fail('peer-absent', 'The other peer is not connected to this room right now.'));
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
          emitEffects(effects);
        }
        if (ack) reply(sock, ack, { ok: true });
        return;
      }
      default:
        return reply(sock, ack, fail('bad-request', `Unknown event "${event.slice(0, 40)}".`));
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
      addr: addrOf(socket),
      room: null,
      role: null,
      chain: Promise.resolve(),
      queued: 0,
      floodWindow: 0,
      floodCount: 0,
    };
    metrics.peersConnected.inc();

    socket.onAny((rawEvent: unknown, ...args: unknown[]) => {
      const d = socket.data;
      const event = typeof rawEvent === 'string' ? rawEvent : String(rawEvent);
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined;
      const now = Date.now();
      const w = Math.floor(now / SOCKET_FLOOD.windowMs);
      if (w !== d.floodWindow) {
        d.floodWindow = w;
        d.floodCount = 0;
      }
      d.floodCount++;
      if (d.floodCount > SOCKET_FLOOD.kick) {
        if (d.floodCount === SOCKET_FLOOD.kick + 1) {
          log(`closing a connection from ${d.addr}: message flood`);
          socket.disconnect(true);
        }
        return;
      }
      if (d.floodCount > SOCKET_FLOOD.max || d.queued >= SOCKET_FLOOD.queue) {
        return reply(socket, ack, fail('rate-limited', 'Too many messages on this connection; slow down.'));
      }
      if (!KNOWN_EVENTS.has(event)) {
        return reply(socket, ack, fail('bad-request', `Unknown event "${event.slice(0, 40)}".`));
      }
      enqueue(
        socket,
        () => handle(socket, event, args, ack),
        (e) => {
          log(`error handling "${event}": ${(e as Error)?.message ?? e}`);
          reply(socket, ack, fail('internal', 'The signaling server had an internal error; try again.'));
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
          emitEffects(effects);
        },
        (e) => log(`error handling disconnect: ${(e as Error)?.message ?? e}`),
      );
    });
  });

  /* ---------------- sweeper: idle TTL and grace periods ---------------- */
  let sweeping = false;
  const sweepEvery = Math.max(50, Math.min(1000, Math.floor(ttlMs / 4), Math.floor(Math.max(graceMs, 200) / 4)));
  const sweeper = setInterval(() => {
    if (sweeping || closing) return;
    sweeping = true;
    (async () => {
      const now = Date.now();
      const due = await store.due(now, 500);
      for (const id of due) {
        const { effects, ended } = await rooms.sweepOne(id, now);
        if (ended) metrics.roomsEnded.inc({ why: ended });
        emitEffects(effects);
      }
    })()
      .catch((e) => log(`sweeper: ${(e as Error)?.message ?? e}`))
      .finally(() => {
        sweeping = false;
      });
  }, sweepEvery);
  sweeper.unref();

  /* ---------------- listen ---------------- */
  const cleanup = async (): Promise<void> => {
    clearInterval(sweeper);
    await io.close().catch(() => undefined);
    httpServer.closeAllConnections?.();
    await closeRedis(redisClients);
    await store.close();
  };

  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        httpServer.off('listening', onListening);
        reject(
          new Error(
            e.code === 'EADDRINUSE'
              ? `Cannot listen on ${host}:${port}: the address is already in use.`
              : `Cannot listen on ${host}:${port}: ${e.message}`,
          ),
        );
      };
      const onListening = (): void => {
        httpServer.off('error', onError);
        resolve();
      };
      httpServer.once('error', onError);
      httpServer.once('listening', onListening);
      httpServer.listen({ port, host });
    });
  } catch (e) {
    closing = true;
    await cleanup();
    throw e;
  }
  httpServer.on('error', (e) => log(`http server error: ${e.message}`));

  const realPort = (httpServer.address() as AddressInfo).port;
  const url = `http://${urlHost(host)}:${realPort}`;
  log(`movie-signal on ${url} (${store.kind} store, room TTL ${Math.round(ttlMs / 1000)} s, max ${maxRooms} rooms)`);

  let closed: Promise<void> | null = null;
  return {
    url,
    port: realPort,
    close(): Promise<void> {
      if (closed) return closed;
      closing = true;
      closed = (async () => {
        clearInterval(sweeper);
        io.local.emit('shutdown');
        // let the shutdown packets reach the wire before the transports close
        await new Promise((r) => setTimeout(r, 30));
        await cleanup();
      })();
      return closed;
    },
  };
}
