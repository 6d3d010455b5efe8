/**
 * End to end: the real CLIs as child processes against a real movie-signal on
 * 127.0.0.1 (ephemeral port), ICE bound to 127.0.0.1.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WORDS } from '../../common/code/wordlist.js';
import { formatCode, parseCode } from '../../common/code/code.js';
import { BIN, Procs } from '../support/procs.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';

const procs = new Procs();
let url: string;
let dir: string;
let removeDir: () => Promise<void>;

before(async () => {
  ({ dir, remove: removeDir } = await tempDir());
  ({ url } = await procs.signal());
});
after(async () => {
  await procs.cleanup();
  await removeDir();
});

async function transfer(name: string, size: number): Promise<void> {
  const src = join(dir, `${name}.src`);
  const out = join(dir, `${name}.out`);
  await randomFile(src, size);
  const share = await procs.share(src, url);
  const get = procs.get(share.code, out, url);
  const [gc, sc] = await Promise.all([get.exited, share.proc.exited]);
  assert.equal(gc, 0, `movie-get failed: ${get.stderr()}`);
  assert.equal(sc, 0, `movie-share failed: ${share.proc.stderr()}`);
  assert.ok(await sameBytes(src, out), 'byte-identical');
  assert.equal(existsSync(`${out}.part`), false, 'no .part left');
  assert.equal(existsSync(`${out}.part.json`), false, 'no sidecar left');
}

test('empty file', () => transfer('empty', 0));
test('1-byte file', () => transfer('one', 1));
test('10 MiB random file', () => transfer('ten', 10 * 1024 * 1024));
test('256 MiB random file', { timeout: 180_000 }, () => transfer('big', 256 * 1024 * 1024));

test('MTU: both on loopback choose the loopback link (4096); an explicit --mtu 1280 on the host wins there', async () => {
  const src = join(dir, 'mtu.src');
  await randomFile(src, 4 * 1024 * 1024);
  for (const [name, hostFlags, hostMtu] of [
    ['auto', [], 4096],
    ['explicit', ['--mtu', '1280'], 1280],
  ] as const) {
    const out = join(dir, `mtu-${name}.out`);
    const share = await procs.share(src, url, ['--verbose', ...hostFlags]);
    const get = procs.get(share.code, out, url, ['--verbose']);
    const [gc, sc] = await Promise.all([get.exited, share.proc.exited]);
    assert.equal(gc, 0, get.stderr());
    assert.equal(sc, 0, share.proc.stderr());
    assert.ok(await sameBytes(src, out));
    assert.match(share.proc.stderr(), new RegExp(`MTU ${hostMtu}: ${name === 'auto' ? 'both on this machine' : 'set by --mtu'}`));
    assert.match(get.stderr(), /MTU 4096: both on this machine \(loopback MTU \d+\)/);
  }
});

test("the bins run through their own #! lines (movie-get's node flags are valid)", async () => {
  for (const bin of [BIN.get, BIN.share, BIN.signal]) {
    const first = (await readFile(bin, 'utf8')).split('\n', 1)[0]!;
    const m = /^#!(\S+)(?: (.*))?$/.exec(first);
    assert.ok(m, `${bin}: no #! line`);
    // what the kernel runs for `#!INTERP ARG`: INTERP, ARG (one word), the script, its arguments
    const p = procs.spawn(m[1]!, [...(m[2] ? [m[2]] : []), bin, '--help']);
    assert.equal(await p.exited, 0, `${first}: ${p.stderr()}`);
    assert.match(p.stdout(), /Usage: movie-/);
  }
});

test('OUT exists without --force: exit 2, file untouched', async () => {
  const src = join(dir, 'exists.src');
  const out = join(dir, 'exists.out');
  await randomFile(src, 1000);
  await writeFile(out, 'keep me');
  const share = await procs.share(src, url);
  const get = procs.get(share.code, out, url);
  assert.equal(await get.exited, 2);
  assert.match(get.stderr(), /already exists.*--force/);
  assert.equal(await readFile(out, 'utf8'), 'keep me');
  share.proc.kill();
});

test('OUT exists with --force: replaced by the verified file', async () => {
  const src = join(dir, 'force.src');
  const out = join(dir, 'force.out');
  await randomFile(src, 5000);
  await writeFile(out, 'old');
  const share = await procs.share(src, url);
  const get = procs.get(share.code, out, url, ['--force']);
  assert.equal(await get.exited, 0, get.stderr());
  assert.equal(await share.proc.exited, 0);
  assert.ok(await sameBytes(src, out));
});

test('missing input file: exit 2 with a clear sentence', async () => {
  const p = procs.node(BIN.share, [join(dir, 'nope.mp4'), '--signal', url]);
  assert.equal(await p.exited, 2);
  assert.match(p.stderr(), /No such file/);
  assert.doesNotMatch(p.stderr(), /at .*\.js:\d+/, 'no stack trace');
});

test('unreachable signaling server: exit 5 within the connect bound (8 s), not a hang', async () => {
  const t0 = Date.now();
  const dead = 'http://127.0.0.1:9';
  const get = procs.get(formatCode('2345', [WORDS[0]!, WORDS[1]!, WORDS[2]!]), join(dir, 'unreach.out'), dead);
  const src = join(dir, 'unreach.src');
  await randomFile(src, 10);
  const share = procs.node(BIN.share, [src, '--signal', dead]);
  assert.equal(await get.exited, 5, get.stderr());
  assert.equal(await share.exited, 5, share.stderr());
  // the CLIs' own bound is 8 s after start-up; a loaded machine may add seconds of start-up, a hang would add minutes
  assert.ok(Date.now() - t0 < 25_000, `took ${Date.now() - t0} ms`);
  assert.match(get.stderr(), /signaling server/i);
});

test('garbled or truncated code: exit 2', async () => {
  for (const bad of [`23456-${WORDS[0]}`, 'no', `23456-${WORDS[0]}-${WORDS[1]}-zzzzzzzz`, `2345-${WORDS[0]}-${WORDS[1]}-${WORDS[2]}`]) {
    const get = procs.get(bad, join(dir, 'garbled.out'), url);
    assert.equal(await get.exited, 2, `${bad}: ${get.stderr()}`);
  }
});

test('a third peer joining a full room gets "room is busy"', async () => {
  const src = join(dir, 'busy.src');
  // big enough that the first transfer is still running when the third peer knocks
  await randomFile(src, 32 * 1024 * 1024);
  const share = await procs.share(src, url);
  const first = procs.get(share.code, join(dir, 'busy1.out'), url, ['--verbose']);
  await first.waitFor(/joined room/);
  const third = procs.get(share.code, join(dir, 'busy3.out'), url);
  const code = await third.exited;
  assert.notEqual(code, 0);
  assert.match(third.stderr(), /busy|already in use/i);
  assert.equal(existsSync(join(dir, 'busy3.out')), false);
  assert.equal(await first.exited, 0, first.stderr());
  assert.equal(await share.proc.exited, 0);
});

test('wrong code (same room, wrong words): both exit 4, nothing written', async () => {
  const src = join(dir, 'wrong.src');
  const out = join(dir, 'wrong.out');
  await randomFile(src, 100_000);
  const share = await procs.share(src, url);
  const { room, words } = parseCode(share.code);
  // well-formed (the check character matches): the words are wrong, not mistyped
  const wrong = formatCode(room, [words[0]!, words[1]!, WORDS.find((w) => w !== words[2])!]);
  const get = procs.get(wrong, out, url);
  assert.equal(await get.exited, 4, get.stderr());
  assert.equal(await share.proc.exited, 4, share.proc.stderr());
  assert.match(get.stderr(), /Wrong code, or someone is interfering/);
  assert.match(share.proc.stderr(), /Wrong code, or someone is interfering/);
  assert.equal(existsSync(out), false);
  assert.equal(existsSync(`${out}.part`), false);
});

test('embedded signaling: with no --signal and nothing at the default, movie-share serves and prints the movie-get line', async () => {
  const src = join(dir, 'embedded.src');
  const out = join(dir, 'embedded.out');
  await randomFile(src, 300_000);
  // a default URL where nothing listens, so the sender starts its own server
  const env = { MOVIE_SIGNAL_URL: '', MOVIE_BIND_ADDRESS: '127.0.0.1' };
  const share = procs.node(BIN.share, [src], env);
  const m = await share.waitFor(/On the other machine run: movie-get (\S+) -o \S+ --signal http:\/\/\S+:(\d+)/, 30_000);
  const get = procs.get(m[1]!, out, `http://127.0.0.1:${m[2]}`);
  assert.equal(await get.exited, 0, get.stderr());
  assert.equal(await share.exited, 0, share.stderr());
  assert.ok(await sameBytes(src, out));
});
