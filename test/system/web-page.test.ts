/**
 * The browser page served by movie-signal (the real bundled bin, on
 * 127.0.0.1): `/` and the flat files of the page's folder with their types
 * and the security headers; nothing else (traversal, encoded dots, dotfiles,
 * subfolders, symlinks keep today's 404); /healthz and /metrics as before;
 * the folder found beside the bundle; `/` without a page.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, DIST, Procs } from '../support/procs.js';
import { tempDir } from '../support/files.js';
import { rawRequest, type RawResponse } from '../support/http.js';
import { startSignalServer } from '../../signaling/server/index.js';

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self'; connect-src 'self'; " +
  "worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";
const INDEX = '<!doctype html><html><head><title>movie-share test page</title><script src="app.js"></script></head><body></body></html>\n';
const APP = 'console.log("the test page");\n';

const procs = new Procs();
let dir: string;
let page: string;
let removeDir: () => Promise<void>;

before(async () => {
  ({ dir, remove: removeDir } = await tempDir('movie-page-'));
  page = join(dir, 'page');
  await mkdir(join(page, 'sub'), { recursive: true });
  await writeFile(join(page, 'index.html'), INDEX);
  await writeFile(join(page, 'app.js'), APP);
  await writeFile(join(page, 'app.css'), 'body { margin: 0; }\n');
  await writeFile(join(page, 'app.js.map'), '{"version":3}\n');
  await writeFile(join(page, 'icon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>\n');
  await writeFile(join(page, '.hidden'), 'not for you\n');
  await writeFile(join(page, 'sub', 'x'), 'not for you either\n');
  await writeFile(join(dir, 'secret.txt'), 'outside the page\n');
  await symlink(join(dir, 'secret.txt'), join(page, 'link.txt'));
});
after(async () => {
  await procs.cleanup();
  await removeDir();
});

function assertPageHeaders(r: RawResponse, what: string): void {
  assert.equal(r.headers['content-security-policy'], CSP, `${what}: CSP`);
  assert.equal(r.headers['referrer-policy'], 'no-referrer', `${what}: Referrer-Policy`);
  assert.equal(r.headers['x-content-type-options'], 'nosniff', `${what}: X-Content-Type-Options`);
  assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin', `${what}: Cross-Origin-Opener-Policy`);
}

test('/ is index.html and /<name> each file of the page, with their types, no-cache and every security header', async () => {
  const { url } = await procs.signal([], { MOVIE_PAGE_DIR: page });

  const root = await rawRequest(url, '/');
  assert.equal(root.status, 200);
  assert.equal(root.body, INDEX);
  assert.equal(root.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(root.headers['cache-control'], 'no-cache');
  assertPageHeaders(root, '/');

  const types: [string, string][] = [
    ['/index.html', 'text/html; charset=utf-8'],
    ['/app.js', 'text/javascript; charset=utf-8'],
    ['/app.css', 'text/css; charset=utf-8'],
    ['/app.js.map', 'application/json; charset=utf-8'],
    ['/icon.svg', 'image/svg+xml'],
    ['/app.js?v=2', 'text/javascript; charset=utf-8'],
  ];
  for (const [path, type] of types) {
    const r = await rawRequest(url, path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers['content-type'], type, path);
    assert.equal(r.headers['cache-control'], 'no-cache', path);
    assertPageHeaders(r, path);
  }
  assert.equal((await rawRequest(url, '/app.js')).body, APP);

  const head = await rawRequest(url, '/', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal(head.headers['content-length'], String(Buffer.byteLength(INDEX)));
  assertPageHeaders(head, 'HEAD /');

  // no-cache means "revalidate": the ETag answers that with a 304
  const etag = root.headers.etag;
  assert.ok(etag, 'an ETag');
  const again = await rawRequest(url, '/', { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  assertPageHeaders(again, '304');
});

test('nothing else: traversal, encoded dots, dotfiles, subfolders, symlinks and unknown names keep the plain 404', async () => {
  const { url } = await procs.signal([], { MOVIE_PAGE_DIR: page });
  const paths = [
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/..%2fsecret.txt',
    '/%2e%2e%2fsecret.txt',
    '/../page/app.js',
    '/.hidden',
    '/%2ehidden',
    '/sub/x',
    '/sub',
    '/sub/',
    '/link.txt',
    '/missing.js',
    '/app.js/',
    '//app.js',
    '/./app.js',
    '/app.js%00',
    '/socket.io',
  ];
  for (const path of paths) {
    const r = await rawRequest(url, path);
    assert.equal(r.status, 404, `${path}: ${r.status} ${r.body}`);
    assert.equal(r.body, 'not found\n', path);
    assert.equal(r.headers['content-type'], 'text/plain', path);
    assert.equal(r.headers['content-security-policy'], undefined, path);
  }
  assert.equal((await rawRequest(url, '/', { method: 'POST' })).status, 405);
  assert.equal((await rawRequest(url, '/app.js', { method: 'DELETE' })).status, 405);
});

test('/healthz and /metrics are unchanged', async () => {
  const { url } = await procs.signal([], { MOVIE_PAGE_DIR: page });
  const health = await rawRequest(url, '/healthz');
  assert.equal(health.status, 200);
  assert.equal(health.headers['content-type'], 'application/json');
  assert.equal(health.headers['cache-control'], 'no-store');
  assert.equal(health.headers['content-security-policy'], undefined);
  assert.equal((JSON.parse(health.body) as { ok: boolean }).ok, true);
  const metrics = await rawRequest(url, '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers['content-type'] ?? '', /^text\/plain/);
  assert.match(metrics.body, /^movie_signal_rooms_open /m);
});

test('without MOVIE_PAGE_DIR the page is web/ beside the bundle: found from a copy of dist/bin with a web/ folder', async (t) => {
  const { dir: copy, remove } = await tempDir('movie-bin-copy-');
  t.after(remove);
  // movie-signal needs nothing outside its bundle (node-datachannel is only the peers')
  await cp(join(DIST, 'bin'), join(copy, 'bin'), { recursive: true });
  await rm(join(copy, 'bin', 'web'), { recursive: true, force: true });
  await mkdir(join(copy, 'bin', 'web'));
  await writeFile(join(copy, 'bin', 'web', 'index.html'), INDEX);
  await writeFile(join(copy, 'bin', 'web', 'app.js'), APP);
  const proc = procs.node(join(copy, 'bin', 'movie-signal.js'), ['--host', '127.0.0.1', '--port', '0'], { MOVIE_PAGE_DIR: '' });
  const url = (await proc.waitFor(/listening on (http:\/\/\S+)/))[1]!;
  assert.match(proc.stderr(), /web page from \S+\/bin\/web\b/);
  const r = await rawRequest(url, '/');
  assert.equal(r.status, 200);
  assert.equal(r.body, INDEX);
  assert.equal((await rawRequest(url, '/app.js')).body, APP);
});

test('the real dist/bin: / serves dist/bin/web/ when the page is built, else answers 404 with one sentence and the rest works', async () => {
  const proc = procs.node(BIN.signal, ['--host', '127.0.0.1', '--port', '0'], { MOVIE_PAGE_DIR: '' });
  const url = (await proc.waitFor(/listening on (http:\/\/\S+)/))[1]!;
  const built = join(DIST, 'bin', 'web', 'index.html');
  const r = await rawRequest(url, '/');
  if (existsSync(built)) {
    assert.equal(r.status, 200);
    assert.equal(r.body, await readFile(built, 'utf8'));
    assertPageHeaders(r, '/');
    // the service worker (at the root, so its scope is the page's) and the storage worker: scripts, under the same headers
    for (const script of ['/sw.js', '/store-worker.js']) {
      const w = await rawRequest(url, script);
      assert.equal(w.status, 200, script);
      assert.equal(w.headers['content-type'], 'text/javascript; charset=utf-8', script);
      assert.equal(w.body, await readFile(join(DIST, 'bin', 'web', script.slice(1)), 'utf8'));
      assertPageHeaders(w, script);
    }
  } else {
    assert.equal(r.status, 404);
    assert.equal(r.body, 'the web page is not built into this server\n');
    assertPageHeaders(r, 'the 404 of /');
    assert.match(proc.stderr(), /no web page\)/);
  }
  assert.equal((await rawRequest(url, '/healthz')).status, 200);
});

test('in process: a pageDir without index.html is no page; / says so, /healthz works', async (t) => {
  const empty = join(dir, 'empty');
  await mkdir(empty, { recursive: true });
  const server = await startSignalServer({ host: '127.0.0.1', port: 0, pageDir: empty });
  t.after(() => server.close());
  assert.equal(server.pageDir, undefined);
  const r = await rawRequest(server.url, '/');
  assert.equal(r.status, 404);
  assert.equal(r.body, 'the web page is not built into this server\n');
  assert.equal((await rawRequest(server.url, '/app.js')).body, 'not found\n');
  assert.equal((await rawRequest(server.url, '/healthz')).status, 200);
});

test('MOVIE_PAGE_DIR naming a folder without index.html: exit 2, one sentence', async () => {
  const proc = procs.node(BIN.signal, ['--host', '127.0.0.1', '--port', '0'], { MOVIE_PAGE_DIR: join(dir, 'nowhere') });
  assert.equal(await proc.exited, 2);
  assert.equal(proc.stdout(), '');
  assert.match(proc.stderr(), /^movie-signal: MOVIE_PAGE_DIR=\S+nowhere has no index\.html; [^\n]+\.\n$/);
});
