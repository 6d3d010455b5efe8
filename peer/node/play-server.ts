/**
 * `movie-get --play`: a small HTTP server on 127.0.0.1 that serves the file
 * while it arrives, at `http://127.0.0.1:PORT/NAME`, for a player that seeks
 * with Range requests (mpv, VLC, ffplay, a browser).
 *
 * It reads through a TransferReader (peer/transfer/files.ts): a range that has
 * not arrived yet is asked for from the host first, and the response waits
 * for it. Bodies go out in pieces of at most 1 MiB, each read only when the
 * client has taken the previous one (the socket's 'drain'), so a paused
 * player holds at most a piece in memory. Once the file is verified and saved,
 * useFile() switches to reading the saved file.
 *
 * Only GET and HEAD of the one path; single byte ranges (`bytes=a-b`,
 * `bytes=a-`, `bytes=-n`) → 206; no (or an unusable) Range → 200 with the
 * whole file; a range outside the file → 416.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { open, type FileHandle } from 'node:fs/promises';
import rangeParser from 'range-parser';
import { ExitCode, MovieShareError, usageError } from '../../common/errors.js';
import { readAt } from './file-source.js';
import { safeFileName } from '../../common/file-name.js';

/** What the server reads from: a TransferReader, or the saved file. */
export interface PlaySource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Bytes read (and so asked of the host) at most at a time for one response. */
export const PIECE_BYTES = 1024 * 1024;

const CONTENT_TYPES: Record<string, string> = {
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  mov: 'video/quicktime',
  mp3: 'audio/mpeg',
};

export function contentType(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot >= 0 && CONTENT_TYPES[name.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

/** An inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * What to send for a Range header on a file of `size` bytes: one range, the
 * whole file (no header, a malformed one, another unit, or several ranges,
 * which a server may ignore), or nothing (416: the range is outside the file).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'whole' | 'unsatisfiable' {
  if (header === undefined) return 'whole';
  // range-parser refuses a suffix longer than the file; RFC 9110 §14.1.2 says it means the whole file
  const suffix = /^\s*bytes\s*=\s*-\s*(\d+)\s*$/i.exec(header);
  if (suffix && Number(suffix[1]) > size && size > 0) return { start: 0, end: size - 1 };
  const r = rangeParser(size, header, { combine: true });
  if (r === -1) return 'unsatisfiable';
  if (r === -2 || r.type !== 'bytes' || r.length !== 1) return 'whole';
  return { start: r[0]!.start, end: r[0]!.end };
}

export class PlayServer {
  private source: PlaySource | undefined;
  private name = '';
  private file: FileHandle | undefined;

  private constructor(private readonly server: http.Server) {
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.handle(req, res));
    server.on('clientError', (_err, socket) => socket.destroy());
  }

  /** Listen on 127.0.0.1:`port` (0: any free port). */
  static async listen(port: number): Promise<PlayServer> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'EADDRINUSE') reject(usageError(`Port ${port} on 127.0.0.1 is in use; choose another --play-port, or leave it out to take any free port.`));
        else reject(new MovieShareError(ExitCode.Other, `Cannot serve the player on 127.0.0.1:${port}: ${e.message}.`, { cause: e }));
      });
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return new PlayServer(server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Serve `source` under the host's file name `name`; returns the URL. */
  serve(name: string, source: PlaySource): string {
    this.name = safeFileName(name);
    this.source = source;
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/${encodeURIComponent(this.name)}`;
  }

  /** From now on serve the saved (verified) file at `path`. */
  async useFile(path: string): Promise<void> {
    const fh = await open(path, 'r');
    const size = (await fh.stat()).size;
    await this.file?.close().catch(() => undefined);
    this.file = fh;
    this.source = { size, read: (offset, length) => readAt(fh, offset, length) };
  }

  /** Stop listening and drop every connection (responses in flight end). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    this.source = undefined;
    await this.file?.close().catch(() => undefined);
    this.file = undefined;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.on('error', () => undefined); // a client gone mid-response is not our failure
    const source = this.source;
    if (!source || requestedName(req.url) !== this.name) return plain(res, 404, 'Not found.');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return plain(res, 405, 'Only GET and HEAD.');
    }
    const { size } = source;
    const range = parseRange(req.headers.range, size);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Cache-Control', 'no-store');
    if (range === 'unsatisfiable') {
      res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': '0' });
      res.end();
      return;
    }
    const { start, end } = range === 'whole' ? { start: 0, end: size - 1 } : range;
    if (range !== 'whole') res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    res.writeHead(range === 'whole' ? 200 : 206, { 'Content-Type': contentType(this.name), 'Content-Length': String(end - start + 1) });
    if (req.method === 'HEAD' || end < start) {
      res.end();
      return;
    }
    void streamBody(source, start, end + 1, res);
  }
}

/** [from, to) of `source` into `res`, a piece at a time, each after the client took the last one. */
async function streamBody(source: PlaySource, from: number, to: number, res: http.ServerResponse): Promise<void> {
  try {
    for (let pos = from; pos < to;) {
      const n = Math.min(PIECE_BYTES, to - pos);
      const bytes = await source.read(pos, n);
      if (res.destroyed) return; // the client went away while the piece arrived
      if (bytes.length !== n) throw new Error('short read');
      pos += n;
      if (!res.write(bytes)) await drainedOrClosed(res);
    }
    res.end();
  } catch {
    // the transfer failed (or the read did): the client sees a cut-off body
    res.destroy();
  }
}

function drainedOrClosed(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** The request's path, decoded, as sent: no `..` resolution (any path but the one name is a 404). */
function requestedName(url: string | undefined): string | undefined {
  const path = (url ?? '').split('?', 1)[0]!;
  if (!path.startsWith('/')) return undefined;
  try {
    return decodeURIComponent(path.slice(1));
  } catch {
    return undefined;
  }
}

function plain(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text) + 1) });
  res.end(`${text}\n`);
}
