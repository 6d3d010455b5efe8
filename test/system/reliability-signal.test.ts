/**
 * The signaling server and a transfer (docs/RELIABILITY.md), with the real CLIs
 * against a real movie-signal on 127.0.0.1:
 *
 *  - kill -9 of movie-signal once both peers are connected: the transfer is
 *    peer to peer and completes;
 *  - no server at the URL: each CLI retries with backoff (we count its
 *    connection attempts), then exits 5 with one clear sentence;
 *  - the server comes up on that port while movie-share is still retrying:
 *    it proceeds, and the pair transfers;
 *  - a Redis-backed server restarted on the same port after the code was
 *    printed: the host rejoins its room and the transfer completes;
 *  - an in-memory server restarted after the code was printed has lost the
 *    room: the host says so and exits 5 (it neither hangs nor blames the code).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { WORDS } from '../../common/code/wordlist.js';
import { formatCode } from '../../common/code/code.js';
import { BIN, Procs, type Proc } from '../support/procs.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';
import { assertCleanFailure, exitWithin, freePort, getJson, MiB, RefusingServer, shareJson, waitEvent } from '../support/reliability.js';

const procs = new Procs();
const refusers: RefusingServer[] = [];
let dir: string;
let src: string;
let removeDir: () => Promise<void>;
const SIZE = 16 * MiB;

before(async () => {
  ({ dir, remove: removeDir } = await tempDir('movie-share-rel-sig-'));
  src = join(dir, 'movie.bin');
  await randomFile(src, SIZE);
});
after(async () => {
  await procs.cleanup();
  await Promise.all(refusers.map((r) => r.close()));
  await removeDir();
});

async function refusing(port = 0): Promise<RefusingServer> {
  const r = await RefusingServer.listen(port);
  refusers.push(r);
  return r;
}

async function bothSucceed(share: Proc, get: Proc, out: string): Promise<void> {
  const [gc, sc] = await Promise.all([get.exited, share.exited]);
  assert.equal(gc, 0, `movie-get: ${get.stderr()}`);
  assert.equal(sc, 0, `movie-share: ${share.stderr()}`);
  assert.ok(await sameBytes(src, out), 'OUT is byte-identical to the source');
}

const portOf = (url: string): number => Number(new URL(url).port);

test('signaling server killed (kill -9) after pairing: the transfer completes peer to peer', { timeout: 60_000 }, async () => {
  const { proc: server, url } = await procs.signal();
  const out = join(dir, 'after-pairing.out');
  const share = await shareJson(procs, src, url, ['--window', String(4 * MiB)]);
  const get = getJson(procs, share.code, out, url);
  await Promise.all([waitEvent(share.proc, 'connected'), waitEvent(get, 'connected')]);
  server.kill('SIGKILL');
  assert.equal(await server.exited, 128 + 9);
  await bothSucceed(share.proc, get, out);
});

test('signaling server unreachable: both CLIs retry with backoff, then exit 5 with a clear sentence', { timeout: 60_000 }, async () => {
  const [forShare, forGet] = await Promise.all([refusing(), refusing()]);
  const share = procs.node(BIN.share, [src, '--signal', forShare.url, '--bind-address', '127.0.0.1']);
  const get = procs.get(formatCode('2345', [WORDS[0]!, WORDS[1]!, WORDS[2]!]), join(dir, 'unreachable.out'), forGet.url);
  const [sc, gc] = await Promise.all([exitWithin(share, 30_000, 'movie-share'), exitWithin(get, 30_000, 'movie-get')]);
  assert.equal(sc, 5, share.stderr());
  assert.equal(gc, 5, get.stderr());
  for (const [p, name] of [
    [share, 'movie-share'],
    [get, 'movie-get'],
  ] as const) {
    assertCleanFailure(p, /Cannot reach the signaling server at http:\/\/127\.0\.0\.1:\d+/, name);
    assert.match(p.stderr(), /--signal|MOVIE_SIGNAL_URL/, `${name} says what to do`);
  }
  assert.ok(forShare.attempts >= 2, `movie-share tried ${forShare.attempts} time(s)`);
  assert.ok(forGet.attempts >= 2, `movie-get tried ${forGet.attempts} time(s)`);
});

test('signaling server (re)starting on the same port while movie-share retries: it proceeds and the transfer completes', { timeout: 60_000 }, async () => {
  const down = await refusing();
  const share = procs.node(BIN.share, [src, '--signal', down.url, '--bind-address', '127.0.0.1', '--json']);
  await down.waitAttempts(2); // it is retrying
  await down.close();
  const { url } = await procs.signal(['--port', String(down.port)]);
  assert.equal(url, down.url);
  const m = await share.waitFor(/"event":"code","code":"([^"]+)"/, 30_000);
  const out = join(dir, 'restart-before.out');
  const get = getJson(procs, m[1]!, out, url);
  await bothSucceed(share, get, out);
});

test('Redis-backed signaling server restarted (kill -9) on the same port after the code was printed: the host rejoins, the transfer completes', { timeout: 60_000 }, async () => {
  const redisPort = String(await freePort());
  const redis = procs.spawn('redis-server', ['--port', redisPort, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await redis.waitFor(/Ready to accept connections/i, 10_000);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const first = await procs.signal(['--redis', redisUrl]);
  const share = await shareJson(procs, src, first.url);
  first.proc.kill('SIGKILL');
  await first.proc.exited;
  const second = await procs.signal(['--redis', redisUrl, '--port', String(portOf(first.url))]);
  const out = join(dir, 'restart-redis.out');
  const get = getJson(procs, share.code, out, second.url);
  await bothSucceed(share.proc, get, out);
});

test('in-memory signaling server restarted after the code was printed: the room is gone, movie-share exits 5 with a clear sentence', { timeout: 60_000 }, async () => {
  const first = await procs.signal();
  const share = await shareJson(procs, src, first.url);
  first.proc.kill('SIGKILL');
  await first.proc.exited;
  await procs.signal(['--port', String(portOf(first.url))]);
  assert.equal(await exitWithin(share.proc, 20_000, 'movie-share'), 5, share.proc.stderr());
  assertCleanFailure(share.proc, /signaling server.*no longer has this transfer.*new code/i, 'movie-share');
});
