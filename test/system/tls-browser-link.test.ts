/**
 * HTTPS and the browser link, with the real bundled bins on 127.0.0.1 and a
 * self-signed certificate for 127.0.0.1 made here with openssl:
 * movie-signal --tls-cert/--tls-key serves the page and a whole transfer over
 * HTTPS (the peers trust it through NODE_EXTRA_CA_CERTS); movie-share with the
 * same flags runs its own HTTPS server and prints `Or open in a browser:
 * https://…/#CODE`; against http://127.0.0.1 it prints that link (and
 * `browserUrl` in --json); on a plain LAN URL it prints none; the flags'
 * misuses exit 2 with one sentence.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, Procs, type Proc } from '../support/procs.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';
import { rawRequest } from '../support/http.js';

const INDEX = '<!doctype html><html><head><title>movie-share test page</title><script src="app.js"></script></head><body></body></html>\n';

const procs = new Procs();
let dir: string;
let page: string;
let cert: string;
let key: string;
let certPem: string;
let otherKey: string;
let removeDir: () => Promise<void>;

/** A self-signed P-256 certificate for 127.0.0.1, valid one day. */
function makeCertificate(certFile: string, keyFile: string): void {
  try {
    const args = 'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1'.split(' ');
    execFileSync('openssl', [...args, '-keyout', keyFile, '-out', certFile], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000, killSignal: 'SIGKILL' });
  } catch (e) {
    throw new Error(`openssl could not make a test certificate (Debian package openssl; .ci/run installs it): ${(e as Error).message}`, { cause: e });
  }
}

before(async () => {
  ({ dir, remove: removeDir } = await tempDir('movie-tls-'));
  page = join(dir, 'page');
  await mkdir(page);
  await writeFile(join(page, 'index.html'), INDEX);
  await writeFile(join(page, 'app.js'), 'console.log("the test page");\n');
  cert = join(dir, 'cert.pem');
  key = join(dir, 'key.pem');
  makeCertificate(cert, key);
  certPem = await readFile(cert, 'utf8');
  otherKey = join(dir, 'other-key.pem');
  makeCertificate(join(dir, 'other-cert.pem'), otherKey);
});
after(async () => {
  await procs.cleanup();
  await removeDir();
});

/** Both of a child's output streams read to their end (it exited and everything it wrote has arrived). */
async function drained(p: Proc): Promise<void> {
  await p.exited;
  for (const s of [p.child.stdout!, p.child.stderr!]) if (!s.readableEnded) await once(s, 'end');
}

/** What a usage error looks like: exit 2, nothing on stdout, one line on stderr. */
async function assertUsage(p: Proc, prog: string, sentence: RegExp): Promise<void> {
  assert.equal(await p.exited, 2, p.stderr());
  await drained(p);
  assert.equal(p.stdout(), '');
  assert.equal(p.stderr().trim().split('\n').length, 1, p.stderr());
  assert.match(p.stderr(), new RegExp(`^${prog}: `));
  assert.match(p.stderr(), sentence);
}

test('movie-signal --tls-cert/--tls-key: https:// URL, the page over HTTPS with that CA only, and a real transfer through it', async () => {
  const { url } = await procs.signal(['--tls-cert', cert, '--tls-key', key], { MOVIE_PAGE_DIR: page });
  assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);

  const root = await rawRequest(url, '/', { ca: certPem });
  assert.equal(root.status, 200);
  assert.equal(root.body, INDEX);
  assert.equal(root.headers['content-type'], 'text/html; charset=utf-8');
  assert.match(String(root.headers['content-security-policy']), /^default-src 'self'; .*connect-src 'self';/);
  assert.equal((await rawRequest(url, '/healthz', { ca: certPem })).status, 200);
  // the default trust store does not know a self-signed certificate
  await assert.rejects(rawRequest(url, '/'), /self-signed certificate/);

  const src = join(dir, 'through-tls.src');
  const out = join(dir, 'through-tls.out');
  await randomFile(src, 500_000);
  const trust = { NODE_EXTRA_CA_CERTS: cert };
  const share = await procs.share(src, url, [], trust);
  const link = await share.proc.waitFor(/Or open in a browser: (\S+)/);
  assert.equal(link[1], `${url}/#${share.code}`);
  const get = procs.get(share.code, out, url, [], trust);
  const [gc, sc] = await Promise.all([get.exited, share.proc.exited]);
  assert.equal(gc, 0, get.stderr());
  assert.equal(sc, 0, share.proc.stderr());
  assert.ok(await sameBytes(src, out));
});

test('movie-get --signal https://… without trusting the certificate: exit 5, and the sentence says why', async () => {
  const { url } = await procs.signal(['--tls-cert', cert, '--tls-key', key]);
  const get = procs.get('k7pqp-apple-river-violin', join(dir, 'untrusted.out'), url, [], { NODE_EXTRA_CA_CERTS: undefined });
  assert.equal(await get.exited, 5, get.stderr());
  assert.match(get.stderr(), /^movie-get: Cannot reach the signaling server at https:\/\/127\.0\.0\.1:\d+: [^\n]*self-signed certificate/m);
});

test('movie-share --tls-cert/--tls-key with no --signal: its own HTTPS server serves the page, prints https://…/#CODE, and the transfer works', async () => {
  const src = join(dir, 'embedded-tls.src');
  const out = join(dir, 'embedded-tls.out');
  await randomFile(src, 300_000);
  const share = procs.node(BIN.share, [src, '--tls-cert', cert, '--tls-key', key, '--verbose'], {
    MOVIE_SIGNAL_URL: '',
    MOVIE_BIND_ADDRESS: '127.0.0.1',
    MOVIE_PAGE_DIR: page,
  });
  const code = (await share.waitFor(/^Code: (\S+)$/m, 30_000))[1]!;
  const getLine = await share.waitFor(/On the other machine run: movie-get (\S+) -o \S+ --signal (https:\/\/\S+):(\d+)\n/);
  const link = await share.waitFor(/Or open in a browser: (https:\/\/[^\s/#]+:(\d+))\/#(\S+)\n/);
  assert.equal(getLine[1], code);
  assert.equal(link[1], getLine[2] + ':' + getLine[3], 'the link and the movie-get line name the same server');
  assert.equal(link[3], code, 'the code is the fragment, and only there');
  await share.waitFor(new RegExp(`movie-share: the certificate is self-signed: movie-get needs NODE_EXTRA_CA_CERTS=${cert}`));
  const port = link[2]!;
  const local = `https://127.0.0.1:${port}`;

  const root = await rawRequest(local, '/', { ca: certPem });
  assert.equal(root.status, 200);
  assert.equal(root.body, INDEX);

  const get = procs.get(code, out, local, [], { NODE_EXTRA_CA_CERTS: cert });
  assert.equal(await get.exited, 0, get.stderr());
  assert.equal(await share.exited, 0, share.stderr());
  assert.ok(await sameBytes(src, out));
});

test('movie-share --signal http://127.0.0.1:PORT prints http://127.0.0.1:PORT/#CODE, and --json puts it in the code event', async () => {
  const { url } = await procs.signal();
  const src = join(dir, 'link.src');
  await randomFile(src, 1000);

  const share = await procs.share(src, url);
  const link = await share.proc.waitFor(/Or open in a browser: (\S+)/);
  assert.equal(link[1], `${url}/#${share.code}`);
  share.proc.kill('SIGTERM');

  const json = procs.node(BIN.share, [src, '--signal', `${url}/`, '--json', '--bind-address', '127.0.0.1']);
  const line = (await json.waitFor(/^(\{"event":"code".*\})$/m))[1]!;
  const ev = JSON.parse(line) as { code: string; browserUrl?: string };
  assert.equal(ev.browserUrl, `${url}/#${ev.code}`, 'no trailing slash before the #');
  json.kill('SIGTERM');
});

test('movie-share with its own plain-HTTP server (a LAN URL, not a secure context): no browser link; --verbose says what would give one', async () => {
  const src = join(dir, 'nolink.src');
  await randomFile(src, 1000);
  const env = { MOVIE_SIGNAL_URL: '', MOVIE_BIND_ADDRESS: '127.0.0.1', MOVIE_PAGE_DIR: page };
  const share = procs.node(BIN.share, [src, '--verbose'], env);
  await share.waitFor(/On the other machine run: movie-get \S+ -o \S+ --signal http:\/\/\S+/, 30_000);
  await share.waitFor(/no browser link: the page needs a secure context .*--tls-cert\/--tls-key/);
  share.kill('SIGTERM');
  await drained(share);
  assert.doesNotMatch(share.stdout() + share.stderr(), /Or open in a browser/);

  const json = procs.node(BIN.share, [src, '--json'], env);
  const line = (await json.waitFor(/^(\{"event":"code".*\})$/m, 30_000))[1]!;
  const ev = JSON.parse(line) as { signal?: string; browserUrl?: string };
  assert.match(ev.signal ?? '', /^http:\/\//);
  assert.equal(ev.browserUrl, undefined);
  json.kill('SIGTERM');
});

test('misuse of --tls-cert/--tls-key: exit 2 with one sentence', async () => {
  const src = join(dir, 'usage.src');
  await randomFile(src, 10);
  const missing = join(dir, 'missing.pem');
  const signal = (args: string[]) => procs.node(BIN.signal, ['--host', '127.0.0.1', '--port', '0', ...args]);
  const share = (args: string[], env: NodeJS.ProcessEnv = {}) => procs.node(BIN.share, [src, ...args], { MOVIE_SIGNAL_URL: '', ...env });

  await assertUsage(signal(['--tls-cert', cert]), 'movie-signal', /--tls-cert and --tls-key go together/);
  await assertUsage(signal(['--tls-key', key]), 'movie-signal', /--tls-cert and --tls-key go together/);
  await assertUsage(signal(['--tls-cert', missing, '--tls-key', key]), 'movie-signal', new RegExp(`Cannot read the TLS certificate ${missing}: no such file\\.`));
  await assertUsage(signal(['--tls-cert', key, '--tls-key', key]), 'movie-signal', new RegExp(`The TLS certificate ${key} is not a PEM certificate`));
  await assertUsage(signal(['--tls-cert', cert, '--tls-key', cert]), 'movie-signal', new RegExp(`The TLS key ${cert} is not an unencrypted PEM private key`));
  await assertUsage(signal(['--tls-cert', cert, '--tls-key', otherKey]), 'movie-signal', new RegExp(`The TLS key ${otherKey} does not belong to the certificate ${cert}\\.`));

  await assertUsage(share(['--tls-cert', cert]), 'movie-share', /--tls-cert and --tls-key go together/);
  await assertUsage(share(['--tls-cert', cert, '--tls-key', key, '--signal', 'http://127.0.0.1:9']), 'movie-share', /cannot be combined with --signal or MOVIE_SIGNAL_URL\.$/m);
  await assertUsage(share(['--tls-cert', cert, '--tls-key', key], { MOVIE_SIGNAL_URL: 'http://127.0.0.1:9' }), 'movie-share', /cannot be combined with --signal/);
  await assertUsage(share(['--tls-cert', missing, '--tls-key', key]), 'movie-share', new RegExp(`Cannot read the TLS certificate ${missing}: no such file\\.`));
  await assertUsage(share(['--tls-cert', cert, '--tls-key', otherKey]), 'movie-share', /does not belong to the certificate/);
});
