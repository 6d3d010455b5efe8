/**
 * The page's half of playing a file while it arrives: it registers the
 * service worker (sw.ts), which turns the <video>'s requests for
 * `play/<id>/<name>` into questions to this page, and answers them from the
 * transfer's reader (peer/transfer/files.ts `TransferReader`): bytes that
 * are here at once, up to 1 MiB; otherwise one chunk's worth, which the
 * reader asks the host for first (a seek, or an MP4's index at its end) and
 * hands over once it arrived and authenticated.
 *
 * A stream is served only while the transfer is good: `stop()` forgets it,
 * so every later read (and every pending one, whose reader rejects when the
 * transfer fails) ends the video's response in an error.
 */
import type { TransferReader } from '../transfer/files.js';
import { PLAY_PATH, type OpenRequest, type PortReply, type PortRequest, type ToWorker } from './play-protocol.js';

/**
 * What the page reads when nothing is here yet: less than a chunk (64 KiB),
 * so the answer waits for one chunk at most (it needs no more than the one
 * holding `offset` unless `offset` is in a chunk's last quarter); the next
 * read finds the rest of the chunk here.
 */
const WANT_BYTES = 16 * 1024;
/** a service worker's stream that no event touches for long may be stopped: poke it while playing */
const KEEPALIVE_MS = 20_000;

/** The type a file's name says it has, when this browser says it can play that. */
export function playableType(name: string, video: HTMLVideoElement): string | undefined {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  const type = ext ? TYPES[ext] : undefined;
  return type && video.canPlayType(type) !== '' ? type : undefined;
}

const TYPES: Readonly<Record<string, string>> = {
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  webm: 'video/webm',
  ogv: 'video/ogg',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  ogg: 'audio/ogg',
  opus: 'audio/ogg',
  wav: 'audio/wav',
};

export interface PlaySource {
  reader: TransferReader;
  type: string;
  /** bytes from `offset` (at most `max`) that can be read without waiting */
  available(offset: number, max: number): number;
}

const sources = new Map<string, PlaySource>();

/** Registers the service worker; resolves true once it controls this page (false without one: the page then only saves). */
export function startPlayer(timeoutMs = 5000): Promise<boolean> {
  const sw = navigator.serviceWorker as ServiceWorkerContainer | undefined;
  if (!sw || !window.isSecureContext) return Promise.resolve(false);
  sw.onmessage = (ev: MessageEvent<OpenRequest>) => {
    if (ev.data?.t === 'movie-share-open' && ev.ports[0]) serve(ev.data.id, ev.ports[0]);
  };
  return new Promise<boolean>((resolve) => {
    if (sw.controller) return resolve(true);
    const timer = setTimeout(() => resolve(false), timeoutMs);
    sw.addEventListener(
      'controllerchange',
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      { once: true },
    );
    sw.register('sw.js', { scope: './', updateViaCache: 'none' }).then(
      async (reg) => {
        // already active (a forced reload bypasses it): ask it to take this page
        const active = (await sw.ready).active ?? reg.active;
        if (!sw.controller) active?.postMessage({ t: 'claim' } satisfies ToWorker);
      },
      (e: unknown) => {
        console.debug(`movie-share: no service worker, so no playback while receiving (${(e as Error).message})`);
        clearTimeout(timer);
        resolve(false);
      },
    );
  });
}

/** Serves `source` to the video at the returned URL, until `stop()`. */
export function publish(source: PlaySource, name: string): { url: string; stop(): void } {
  const id = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
  sources.set(id, source);
  const keepalive = setInterval(() => navigator.serviceWorker.controller?.postMessage({ t: 'keepalive' } satisfies ToWorker), KEEPALIVE_MS);
  return {
    url: `${PLAY_PATH}${id}/${encodeURIComponent(name)}`,
    stop() {
      sources.delete(id);
      clearInterval(keepalive);
    },
  };
}

function serve(id: string, port: MessagePort): void {
  const reply = (r: PortReply, transfer: Transferable[] = []): void => port.postMessage(r, transfer);
  const known = sources.get(id);
  if (!known) {
    reply({ t: 'gone' });
    port.close();
    return;
  }
  reply({ t: 'head', size: known.reader.size, type: known.type });
  let first = true;
  port.onmessage = (ev: MessageEvent<PortRequest>) => {
    const m = ev.data;
    if (m.t === 'cancel') return port.close();
    if (first) console.debug(`movie-share: the player asks for bytes ${m.offset}… (${Math.round(performance.now())} ms)`);
    first = false;
    const source = sources.get(id);
    if (!source) return reply({ t: 'error', message: 'the transfer failed; nothing more is played' });
    const here = source.available(m.offset, m.length);
    const length = here || Math.min(m.length, WANT_BYTES);
    const t0 = performance.now();
    source.reader.read(m.offset, length).then(
      (bytes) => {
        if (!here) console.debug(`movie-share: the player waited ${Math.round(performance.now() - t0)} ms for bytes ${m.offset}–${m.offset + length}`);
        if (!sources.has(id)) return reply({ t: 'error', message: 'the transfer failed; nothing more is played' });
        const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? bytes.buffer : bytes.slice().buffer;
        reply({ t: 'data', bytes: own }, [own]);
      },
      (e: unknown) => reply({ t: 'error', message: (e as Error)?.message ?? String(e) }),
    );
  };
}
