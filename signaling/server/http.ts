/**
 * The HTTP side of a node: `/healthz` (for load balancers and orchestrators),
 * `/metrics` (Prometheus; on a listener of its own with `metricsPort`), the browser page at `/` (`page.ts`), 404 for
 * anything else; socket.io is attached to the same server (`sockets.ts`).
 * HTTPS instead of HTTP when given a certificate. Also the `listen` that
 * turns a bind failure into a sentence for the operator.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { RoomStore } from '../rooms.js';
import type { SignalMetrics } from '../metrics.js';
import { pageHandler } from './page.js';
import type { TlsPem } from './tls.js';

/** The server socket.io runs on: HTTP, or HTTPS with `--tls-cert`. */
export type WebServer = http.Server | https.Server;

export interface HttpDeps {
  store: RoomStore;
  metrics: SignalMetrics;
  /** socket.io connections open on this node */
  peers(): number;
  isClosing(): boolean;
  startedAt: number;
  /** the page's folder; undefined: `/` answers that the page is not built */
  pageDir: string | undefined;
  /** HTTPS with this certificate and key */
  tls: TlsPem | undefined;
  /** `/metrics` has its own listener (`createMetricsServer`): not served here */
  metricsElsewhere: boolean;
}

/** `/metrics` in Prometheus' text format. */
function serveMetrics(metrics: SignalMetrics, send: (status: number, type: string, body: string) => void): void {
  metrics.registry
    .metrics()
    .then((text) => send(200, metrics.registry.contentType, text))
    .catch((e) => send(500, 'text/plain', `metrics error: ${(e as Error).message}\n`));
}

function sender(req: http.IncomingMessage, res: http.ServerResponse): (status: number, type: string, body: string) => void {
  return (status, type, body) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

/**
 * The separate listener of `metricsPort`: `/metrics` only (plain HTTP), so
 * the metrics can stay on a private interface while the main listener is public.
 */
export function createMetricsServer(metrics: SignalMetrics): http.Server {
  return http.createServer((req, res) => {
    const send = sender(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    if ((req.url ?? '/').split('?')[0] !== '/metrics') return send(404, 'text/plain', 'not found\n');
    serveMetrics(metrics, send);
  });
}

export function createHttpServer(deps: HttpDeps): WebServer {
  const { store, metrics } = deps;
  const page = pageHandler(deps.pageDir);
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const send = sender(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    if (path === '/healthz') {
      store
        .count()
        .catch(() => -1)
        .then((n) => {
          const closing = deps.isClosing();
          const ok = !closing && store.healthy() && n >= 0;
          send(
            ok ? 200 : 503,
            'application/json',
            JSON.stringify({
              ok,
              status: closing ? 'shutting-down' : ok ? 'ok' : 'store-unavailable',
              mode: store.kind,
              rooms: n,
              peers: deps.peers(),
              uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
            }) + '\n',
          );
        })
        .catch(() => send(500, 'text/plain', 'error\n'));
      return;
    }
    if (path === '/metrics' && !deps.metricsElsewhere) return serveMetrics(metrics, send);
    page(req, res, path ?? '')
      .then((served) => {
        if (!served) send(404, 'text/plain', 'not found\n');
      })
      .catch(() => send(500, 'text/plain', 'error\n'));
  };
  return deps.tls ? https.createServer({ cert: deps.tls.cert, key: deps.tls.key }, handler) : http.createServer(handler);
}

/** Bind `server`; resolves with the port actually bound (`port` 0 picks a free one). */
export async function listen(server: WebServer, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(new Error(`Cannot listen on ${host}:${port}: ${e.code === 'EADDRINUSE' ? 'the address is already in use.' : e.message}`));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host });
  });
  return (server.address() as AddressInfo).port;
}

/** `host` as it appears in a URL (IPv6 literals in brackets). */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
