/**
 * What the service worker (sw.ts) and the page (player.ts) say to each other
 * while a <video> plays a file that is still arriving, and the byte ranges
 * the video asks for. No DOM and no worker API here: both sides import it.
 *
 * The video element requests `<scope>play/<id>/<name>`; the service worker
 * posts `{ t: 'open', id }` to the page that made the request, with a
 * MessagePort. On that port the page answers `head` (or `gone`), then one
 * `data` (or `error`) per `read`, in order; `cancel` ends the conversation.
 */

/** the path under the service worker's scope that it answers */
export const PLAY_PATH = 'play/';

/** page → service worker, outside any port: claim this page if you do not control it yet; keepalive: a long stream is still being read */
export type ToWorker = { t: 'claim' } | { t: 'keepalive' };

/** service worker → page, on the client: a request for stream `id`, with the port to answer on */
export interface OpenRequest {
  t: 'movie-share-open';
  id: string;
}

/** service worker → page, on the port */
export type PortRequest = { t: 'read'; offset: number; length: number } | { t: 'cancel' };

/** page → service worker, on the port */
export type PortReply = { t: 'head'; size: number; type: string } | { t: 'gone' } | { t: 'data'; bytes: ArrayBuffer } | { t: 'error'; message: string };

/** the most a service worker asks for in one read; the page may answer with fewer bytes */
export const PIECE_BYTES = 1024 * 1024;

/**
 * The one range of an HTTP Range header (RFC 9110 §14.1.2) as [start, end]
 * inclusive in a file of `size` bytes; `undefined` for no header (the whole
 * file, status 200); `null` when it cannot be satisfied (416). Of several
 * ranges, only the first is answered, as browsers' media players ask for one.
 */
export function parseRange(header: string | null, size: number): { start: number; end: number } | null | undefined {
  if (header === null) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*(?:,.*)?$/i.exec(header);
  if (!m) return undefined; // not a byte range: ignore it and send the whole file
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (size === 0) return null;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return null;
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  if (start >= size) return null;
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (end < start) return null;
  return { start, end };
}
