/**
 * The page's service worker (bundled to `dist/bin/web/sw.js`, served at the
 * page's root so its scope covers the page): it lets a plain <video> play a
 * file that is still arriving. The video's requests for
 * `<scope>play/<id>/<name>` are answered from the page that made them
 * (player.ts), which reads the bytes from the transfer (asking the host for a
 * range first when they have not arrived); every other request goes to the
 * network untouched.
 *
 * A request: parse its Range, ask the page for the file's size and type, and
 * answer 206 with a body that pulls ≤ 1 MiB at a time: the next piece is
 * asked for only when the video reads on, and a cancelled body stops asking.
 * The page answering `gone` or `error` (the transfer failed: nothing of it may
 * be played any more) ends the response in an error.
 */
import { parseRange, PIECE_BYTES, PLAY_PATH, type OpenRequest, type PortReply, type PortRequest, type ToWorker } from './play-protocol.js';

// The service worker's API, typed here: the page's tsconfig has the DOM's types, not the worker's.
interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  readonly clientId: string;
  respondWith(r: Response | Promise<Response>): void;
}
interface ExtendableMessageEvent extends ExtendableEvent {
  readonly data: unknown;
}
interface WindowClient {
  readonly id: string;
  postMessage(message: OpenRequest, transfer: Transferable[]): void;
}
interface ServiceWorkerScope {
  addEventListener(type: 'install' | 'activate', fn: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', fn: (e: FetchEvent) => void): void;
  addEventListener(type: 'message', fn: (e: ExtendableMessageEvent) => void): void;
  skipWaiting(): Promise<void>;
  readonly registration: { readonly scope: string };
  readonly clients: {
    claim(): Promise<void>;
    get(id: string): Promise<WindowClient | undefined>;
  };
}
const sw = globalThis as unknown as ServiceWorkerScope;

/** how long the page may take to say whether it has the stream */
const HEAD_TIMEOUT_MS = 10_000;

sw.addEventListener('install', (e) => e.waitUntil(sw.skipWaiting()));
// control the page that registered us at once, so its first visit can play
sw.addEventListener('activate', (e) => e.waitUntil(sw.clients.claim()));
sw.addEventListener('message', (e) => {
  // a page loaded without a controller (a forced reload) asks to be claimed; a keepalive needs no answer: the event itself keeps us running
  if ((e.data as ToWorker | null)?.t === 'claim') e.waitUntil(sw.clients.claim());
});

sw.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  const scope = new URL(sw.registration.scope);
  const prefix = `${scope.pathname}${PLAY_PATH}`;
  if (url.origin !== scope.origin || !url.pathname.startsWith(prefix)) return; // the network's
  const id = url.pathname.slice(prefix.length).split('/')[0] ?? '';
  e.respondWith(answer(e, id));
});

const failure = (status: number, text: string): Response =>
  new Response(`${text}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });

/** One conversation with the page on a port: a request, then its answer. */
class PagePort {
  private waiting: ((r: PortReply) => void) | undefined;

  constructor(readonly port: MessagePort) {
    port.onmessage = (ev: MessageEvent<PortReply>) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.(ev.data);
    };
  }

  next(timeoutMs?: number): Promise<PortReply> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      if (timeoutMs) setTimeout(() => this.waiting === resolve && resolve({ t: 'error', message: 'the page did not answer' }), timeoutMs);
    });
  }

  ask(r: PortRequest, timeoutMs?: number): Promise<PortReply> {
    const reply = this.next(timeoutMs);
    this.port.postMessage(r);
    return reply;
  }

  close(): void {
    this.waiting?.({ t: 'error', message: 'closed' });
    this.port.close();
  }
}

async function answer(e: FetchEvent, id: string): Promise<Response> {
  const client = e.clientId ? await sw.clients.get(e.clientId) : undefined;
  if (!client || !id) return failure(404, 'nothing is playing here');
  const channel = new MessageChannel();
  const page = new PagePort(channel.port1);
  const headReply = page.next(HEAD_TIMEOUT_MS);
  client.postMessage({ t: 'movie-share-open', id }, [channel.port2]);
  const head = await headReply;
  if (head.t !== 'head') {
    page.close();
    return failure(head.t === 'gone' ? 404 : 502, head.t === 'error' ? head.message : 'this stream is gone');
  }
  const range = parseRange(e.request.headers.get('range'), head.size);
  if (range === null) {
    page.close();
    return new Response(null, { status: 416, headers: { 'content-range': `bytes */${head.size}`, 'cache-control': 'no-store' } });
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? head.size - 1; // inclusive
  let at = start;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (at > end) {
          controller.close();
          page.close();
          return;
        }
        const r = await page.ask({ t: 'read', offset: at, length: Math.min(PIECE_BYTES, end + 1 - at) });
        if (r.t !== 'data' || r.bytes.byteLength === 0) {
          page.close();
          controller.error(new Error(r.t === 'error' ? r.message : 'the stream is gone'));
          return;
        }
        controller.enqueue(new Uint8Array(r.bytes));
        at += r.bytes.byteLength;
        if (at > end) {
          controller.close();
          page.close();
        }
      },
      cancel() {
        page.port.postMessage({ t: 'cancel' } satisfies PortRequest);
        page.close();
      },
    },
    { highWaterMark: 0 },
  );
  const headers: Record<string, string> = {
    'content-type': head.type,
    'content-length': String(end + 1 - start),
    'accept-ranges': 'bytes',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  };
  if (range) headers['content-range'] = `bytes ${start}-${end}/${head.size}`;
  return new Response(head.size === 0 ? null : body, { status: range ? 206 : 200, headers });
}
