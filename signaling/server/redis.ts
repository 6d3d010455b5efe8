/**
 * Scale-out mode (`redisUrl`): the three Redis connections of a node, the room
 * store on them (`redis-store.ts`) and the socket.io adapter that routes an
 * event to a socket on any node.
 *
 * redis and its adapter are loaded only here, by dynamic import, and only
 * when `redisUrl` is set: they take ~250 ms to load, and movie-share embeds
 * this server on every LAN share.
 */
import type { createClient } from 'redis';
import type { ServerOptions } from 'socket.io';
import { withTimeout } from '../../common/timeout.js';
import type { RedisRoomStore } from './redis-store.js';

type RedisClient = ReturnType<typeof createClient>;

export interface RedisWiring {
  store: RedisRoomStore;
  /** for `createIo` in `sockets.ts` */
  adapter: NonNullable<ServerOptions['adapter']>;
  /** close the connections (the store does not own them) */
  close(): Promise<void>;
}

/** `url` with its password masked, for logs and error messages. */
function redactUrl(u: string): string {
  try {
    const x = new URL(u);
    if (x.password) x.password = '***';
    return x.toString();
  } catch {
    return '(invalid URL)';
  }
}

/** Connect the three clients (state, pub, sub), or throw one clear error and leave nothing open. */
async function connectRedis(url: string, log: (l: string) => void): Promise<RedisClient[]> {
  // a CommonJS package: its exports are the namespace's `default`, under Node as
  // in the bundle (esbuild gives a lazily loaded CommonJS chunk no named exports)
  const { createClient } = (await import('redis')).default;
  const shown = redactUrl(url);
  const cannotConnect = `Cannot connect to Redis at ${shown}`;
  const lastLog = new Map<string, number>();
  const mk = (name: string, disableOfflineQueue: boolean): RedisClient => {
    let ready = false;
    const c: RedisClient = createClient({
      url,
      disableOfflineQueue,
      socket: {
        connectTimeout: 5000,
        // at startup give up after a few quick tries (fail fast, clearly); once up, keep reconnecting
        reconnectStrategy: (n: number, cause: Error) => (!ready && n >= 4 ? cause : Math.min(50 * 2 ** n, 2000)),
      },
    });
    c.on('ready', () => {
      ready = true;
    });
    c.on('error', (e: unknown) => {
      if (!ready) return; // a startup failure is reported once, by the error connectRedis throws
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
    await withTimeout(all, 5000, `${cannotConnect}.`);
  } catch (e) {
    for (const c of clients) {
      try {
        c.destroy();
      } catch {
        /* not connected */
      }
    }
    throw new Error(`${cannotConnect}: ${(e as Error).message}`, { cause: e });
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

/** Connect to Redis as node `nodeId` and advertise that this node is alive; throws (with nothing left open) when Redis is unusable. */
export async function openRedis(url: string, nodeId: string, log: (l: string) => void): Promise<RedisWiring> {
  const [{ RedisRoomStore: Store }, adapterModule] = await Promise.all([import('./redis-store.js'), import('@socket.io/redis-adapter')]);
  const createAdapter = adapterModule.default.createAdapter; // CommonJS: see connectRedis
  const clients = await connectRedis(url, log);
  const [state, pub, sub] = clients as [RedisClient, RedisClient, RedisClient];
  const store: RedisRoomStore = new Store(state, nodeId);
  try {
    // liveness: other nodes see this subscription as long as this process is connected to Redis
    await sub.subscribe(store.nodeChannel(), () => undefined);
  } catch (e) {
    await closeRedis(clients);
    throw new Error(`Cannot subscribe on Redis: ${(e as Error).message}`, { cause: e });
  }
  return { store, adapter: createAdapter(pub, sub), close: () => closeRedis(clients) };
}
