/**
 * The browser page, served by the signaling server at `/`: `GET /` is the page
 * directory's `index.html`, `GET /<name>` any other regular file directly in
 * it (by exact name: no subdirectory, no `..`, no dotfile, no symlink). Every
 * page response carries the security headers below. The server then delivers
 * the code that runs the crypto in the browser, so it sends a strict CSP and
 * nothing outside that one directory.
 *
 * The directory: `SignalServerOptions.pageDir`, else `web/` next to the
 * running bundle (`dist/bin/web/`, found from `dist/bin/*.js` and from
 * `dist/bin/chunks/*.js`). Without one (not built), `/` answers 404 with one
 * sentence and the rest of the server works as before.
 */
import { constants, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The headers of every page response (200, 304 and the page's own 404). */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self'; connect-src 'self'; " +
    "worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cross-origin-opener-policy': 'same-origin',
};

export const PAGE_NOT_BUILT = 'the web page is not built into this server\n';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/** A name the page may have: one path segment, no leading dot, nothing to decode. */
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** Bigger files are not part of a page (and are not read into memory to find out). */
const MAX_FILE_BYTES = 32 * 1024 * 1024;

/** `web/` beside the running bundle (`dist/bin/web/` from `dist/bin/*.js` or `dist/bin/chunks/*.js`), if it holds an `index.html`. */
export function defaultPageDir(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  return pageDirWithIndex(join(here, 'web')) ?? pageDirWithIndex(join(here, '..', 'web'));
}

/** `dir` when it holds an `index.html` (a page to serve). */
export function pageDirWithIndex(dir: string | undefined): string | undefined {
  return dir && existsSync(join(dir, 'index.html')) ? dir : undefined;
}

export function contentTypeOf(name: string): string {
  return TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/** A regular file directly in `dir` (never through a symlink), or null. */
async function readPageFile(dir: string, name: string): Promise<{ body: Buffer; etag: string } | null> {
  let fh;
  try {
    fh = await open(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return null;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_FILE_BYTES) return null;
    const body = await fh.readFile();
    return { body, etag: `W/"${body.length.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"` };
  } catch {
    return null;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * The page's part of the HTTP handler: `serve(req, res, path)` answers and
 * returns true when `path` is the page's (`/`, or `/<name>` of a file in the
 * directory), and returns false, having sent nothing, for everything else.
 */
export function pageHandler(dir: string | undefined): (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean> {
  return async (req, res, path) => {
    if (!path.startsWith('/')) return false;
    const name = path === '/' ? 'index.html' : path.slice(1);
    if (!FILE_NAME.test(name)) return false;
    const file = dir ? await readPageFile(dir, name) : null;
    if (!file) {
      if (path !== '/') return false;
      res.writeHead(404, { ...PAGE_SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : PAGE_NOT_BUILT);
      return true;
    }
    const headers = { ...PAGE_SECURITY_HEADERS, 'content-type': contentTypeOf(name), 'cache-control': 'no-cache', etag: file.etag };
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    res.writeHead(200, { ...headers, 'content-length': String(file.body.length) });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  };
}
