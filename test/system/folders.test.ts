/**
 * Sets: `movie-share DIR FILE…` → `movie-get CODE [-o DEST]`, the real CLIs
 * against a real movie-signal on 127.0.0.1. Folders, empty ones, empty
 * files, the executable bit and times arrive; links are skipped and said
 * once; each file is verified on its own (one that fails is named, exit 3,
 * the ones before it stay); an interrupted set resumes inside the first file
 * not yet verified; DEST rules (new, empty, --force); a host's manifest that
 * would write outside DEST (test/support/set-host-main.ts) is refused with
 * nothing written; a link planted in DEST mid-transfer stops it; a file that
 * vanishes on the host is named there.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, chmod, lstat, mkdir, open, readdir, readFile, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { BIN, DIST, Procs, type Proc } from '../support/procs.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';
import { events, getJson, MiB, shareJson, waitEvent } from '../support/reliability.js';

const procs = new Procs();
const SET_HOST = join(DIST, 'test', 'support', 'set-host-main.js');
let url: string;
let dir: string;
let removeDir: () => Promise<void>;
let n = 0;

before(async () => {
  ({ dir, remove: removeDir } = await tempDir('movie-share-folders-'));
  // more transfers than a minute's default join allowance per address
  ({ url } = await procs.signal(['--rate-limit-joins', '1000']));
});
after(async () => {
  await procs.cleanup();
  await removeDir();
});

const fresh = async (name: string): Promise<string> => {
  const d = join(dir, `${name}-${++n}`);
  await mkdir(d, { recursive: true });
  return d;
};

/** Every path under `root` (relative, sorted), folders with a trailing `/`. */
async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.push(`${r}/`);
        await walk(join(d, e.name), r);
      } else out.push(r);
    }
  };
  await walk(root, '');
  return out.sort();
}

/** A season: two episodes, a nested subtitle folder, an empty folder, an empty file, an executable, a link. */
async function season(root: string): Promise<string> {
  const s = join(root, 'Season 1');
  await mkdir(join(s, 'subs'), { recursive: true });
  await mkdir(join(s, 'extras (empty)'));
  await randomFile(join(s, 'e01.mkv'), 3 * MiB + 5);
  await randomFile(join(s, 'e02.mkv'), 2 * MiB + 77);
  await writeFile(join(s, 'subs', 'e01.srt'), '1\n00:00:01,000 --> 00:00:02,000\nHello\n');
  await writeFile(join(s, 'empty.txt'), '');
  await writeFile(join(s, 'play.sh'), '#!/bin/sh\necho hi\n');
  await chmod(join(s, 'play.sh'), 0o755);
  await utimes(join(s, 'e01.mkv'), new Date('2021-03-04T05:06:07Z'), new Date('2021-03-04T05:06:07Z'));
  await symlink('/etc/hostname', join(s, 'outside-link'));
  return s;
}

const SEASON_TREE = [
  'Season 1/',
  'Season 1/e01.mkv',
  'Season 1/e02.mkv',
  'Season 1/empty.txt',
  'Season 1/extras (empty)/',
  'Season 1/play.sh',
  'Season 1/subs/',
  'Season 1/subs/e01.srt',
];

test('a folder and a file in one go: everything under DEST, byte for byte, modes and times kept, the link skipped and said once', { timeout: 90_000 }, async () => {
  const src = await fresh('src');
  const s = await season(src);
  await randomFile(join(src, 'notes.txt'), 1000);
  const dest = join(await fresh('dst'), 'DEST');
  const share = await shareJson(procs, s, url, [join(src, 'notes.txt')]);
  const get = getJson(procs, share.code, dest, url);
  assert.equal(await get.exited, 0, get.stderr());
  assert.equal(await share.proc.exited, 0, share.proc.stderr());
  assert.deepEqual(await tree(dest), [...SEASON_TREE, 'notes.txt']);
  for (const f of ['e01.mkv', 'e02.mkv', 'subs/e01.srt', 'empty.txt', 'play.sh']) assert.ok(await sameBytes(join(s, f), join(dest, 'Season 1', f)), f);
  assert.ok(await sameBytes(join(src, 'notes.txt'), join(dest, 'notes.txt')));
  assert.equal((await stat(join(dest, 'Season 1', 'play.sh'))).mode & 0o111, 0o111, 'the executable bit');
  assert.equal((await stat(join(dest, 'Season 1', 'e01.mkv'))).mode & 0o111, 0, 'not executable');
  assert.equal((await stat(join(dest, 'Season 1', 'e01.mkv'))).mtime.toISOString(), '2021-03-04T05:06:07.000Z');
  const verified = events(get).filter((e) => e.event === 'file-verified');
  assert.equal(verified.length, 6, 'one file-verified event per file');
  assert.equal(events(share.proc).filter((e) => e.event === 'file-start').length, 6);
  assert.equal(events(get).find((e) => e.event === 'manifest')?.['entries'], 9, '3 folders, 6 files; not the link');
  // the host said once that the link was not sent (on stderr with --json too)
  const share2 = await procs.share(s, url);
  assert.equal((share2.proc.stderr().match(/outside-link/g) ?? []).length, 1, share2.proc.stderr());
  share2.proc.kill('SIGTERM');
});

test('without -o the set lands in the current folder; a name that exists there is not replaced (exit 2)', { timeout: 90_000 }, async () => {
  const s = await season(await fresh('src'));
  const cwd = await fresh('cwd');
  const share = await procs.share(s, url);
  const get = procs.node(BIN.get, [share.code, '--signal', url, '--bind-address', '127.0.0.1'], {}, { cwd });
  assert.equal(await get.exited, 0, get.stderr());
  assert.equal(await share.proc.exited, 0);
  assert.deepEqual(await tree(cwd), SEASON_TREE);
  assert.match(get.stderr(), /Receiving Season 1 \(5 files, 3 folders/);
  const again = await procs.share(s, url);
  const get2 = procs.node(BIN.get, [again.code, '--signal', url, '--bind-address', '127.0.0.1'], {}, { cwd });
  assert.equal(await get2.exited, 2, get2.stderr());
  assert.match(get2.stderr(), /Season 1 already exists and was not replaced/);
  assert.notEqual(await again.proc.exited, 0);
  assert.deepEqual(await tree(cwd), SEASON_TREE, 'nothing else written');
});

test('-o DEST that holds other things is refused (exit 2) unless --force', { timeout: 90_000 }, async () => {
  const s = await season(await fresh('src'));
  const dest = await fresh('dst');
  await writeFile(join(dest, 'mine.txt'), 'keep me');
  const share = await procs.share(s, url);
  const get = procs.get(share.code, dest, url);
  assert.equal(await get.exited, 2, get.stderr());
  assert.match(get.stderr(), /is a folder that is not empty/);
  await share.proc.exited;
  assert.deepEqual(await readdir(dest), ['mine.txt']);
  const forced = await procs.share(s, url);
  const get2 = procs.get(forced.code, dest, url, ['--force']);
  assert.equal(await get2.exited, 0, get2.stderr());
  assert.deepEqual(await tree(dest), [...SEASON_TREE, 'mine.txt'].sort());
  assert.equal(await readFile(join(dest, 'mine.txt'), 'utf8'), 'keep me');
});

test('an interrupted set resumes at the first file not yet verified, inside it; verified files stay', { timeout: 120_000 }, async () => {
  const src = await fresh('src');
  const s = join(src, 'big');
  await mkdir(s);
  await randomFile(join(s, 'a.bin'), 2 * MiB);
  await randomFile(join(s, 'b.bin'), 6 * MiB);
  await randomFile(join(s, 'c.bin'), 1 * MiB);
  const dest = join(await fresh('dst'), 'DEST');
  const slow = await shareJson(procs, s, url, ['--max-rate', '2M']);
  const first = getJson(procs, slow.code, dest, url);
  await waitEvent(first, 'file-verified', 60_000);
  // a.bin is verified; wait until the receiver's resume record (state.json,
  // rewritten every 2 MiB) holds part of b.bin, then kill both. Its staged
  // file growing is not enough: a kill before the record is renamed into
  // place resumes at b.bin's start.
  const staging = join(
    dest,
    (await readdir(dest)).find((x) => x.startsWith('.movie-share-'))!,
  );
  const recorded = async (): Promise<number> => {
    const text = await readFile(join(staging, 'state.json'), 'utf8').catch(() => '{}');
    const have = ((JSON.parse(text) as { have?: number[] }).have ?? []).filter((_, k) => k % 2 === 1);
    return Math.max(0, ...have);
  };
  for (let i = 0; i < 600 && (await recorded()) <= 2 * MiB; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok((await recorded()) > 2 * MiB, 'the resume record reached b.bin within 60 s');
  first.kill('SIGKILL');
  slow.proc.kill('SIGKILL');
  await first.exited;
  assert.ok(await sameBytes(join(s, 'a.bin'), join(dest, 'big', 'a.bin')), 'a.bin verified and in place');
  assert.equal(await stat(join(dest, 'big', 'b.bin')).catch(() => null), null, 'b.bin not yet under its name');
  const share = await shareJson(procs, s, url);
  const get = getJson(procs, share.code, dest, url);
  assert.equal(await get.exited, 0, get.stderr());
  assert.equal(await share.proc.exited, 0);
  const done = events(get).find((e) => e.event === 'done')!;
  assert.ok((done['resumedFrom'] as number) > 2 * MiB, `resumed inside b.bin: ${String(done['resumedFrom'])}`);
  assert.deepEqual(
    events(get)
      .filter((e) => e.event === 'file-verified')
      .map((e) => e['path'])
      .sort(),
    ['big/b.bin', 'big/c.bin'],
    'a.bin is not verified again',
  );
  assert.deepEqual(await tree(dest), ['big/', 'big/a.bin', 'big/b.bin', 'big/c.bin']);
  for (const f of ['a.bin', 'b.bin', 'c.bin']) assert.ok(await sameBytes(join(s, f), join(dest, 'big', f)), f);
});

test('a file whose bytes do not match its SHA-256 is named (exit 3); the files verified before it stay, it and the rest do not appear', { timeout: 90_000 }, async () => {
  const src = await fresh('src');
  const s = join(src, 'set');
  await mkdir(s);
  await randomFile(join(s, '1-first.bin'), MiB / 2);
  await randomFile(join(s, '2-second.bin'), 4 * MiB);
  await randomFile(join(s, '3-third.bin'), MiB / 2);
  const dest = join(await fresh('dst'), 'DEST');
  const share = await shareJson(procs, s, url, ['--max-rate', '1M']);
  const get = getJson(procs, share.code, dest, url);
  // the host is early in the second file (1 MB/s), open since its first chunk: its bytes change in place, size and time kept
  await share.proc.waitFor(/"event":"file-start","path":"set\/2-second\.bin"/, 60_000);
  const second = join(s, '2-second.bin');
  const { mtime } = await stat(second);
  const fh = await open(second, 'r+');
  await fh.write(randomBytes(4 * MiB), 0, 4 * MiB, 0);
  await fh.close();
  await utimes(second, mtime, mtime);
  assert.equal(await get.exited, 3, get.stderr());
  assert.match(get.stderr(), /"set\/2-second\.bin" does not match the sender's SHA-256/);
  assert.notEqual(await share.proc.exited, 0);
  assert.deepEqual(await tree(dest), ['set/', 'set/1-first.bin']);
});

test('a file that vanishes or grows on the host while the set is sent ends the host with a sentence naming it', { timeout: 90_000 }, async () => {
  const src = await fresh('src');
  const s = join(src, 'set');
  await mkdir(s);
  await randomFile(join(s, 'a.bin'), 2 * MiB);
  await randomFile(join(s, 'b.bin'), 1 * MiB);
  const dest = join(await fresh('dst'), 'DEST');
  const share = await shareJson(procs, s, url, ['--max-rate', '1M']);
  const get = getJson(procs, share.code, dest, url);
  await waitEvent(share.proc, 'file-start', 30_000);
  await rm(join(s, 'b.bin'));
  assert.equal(await share.proc.exited, 1, share.proc.stderr());
  assert.match(share.proc.stderr(), /b\.bin vanished while it was being sent/);
  assert.notEqual(await get.exited, 0);
  // the same with b.bin growing instead
  await randomFile(join(s, 'b.bin'), 1 * MiB);
  const again = await shareJson(procs, s, url, ['--max-rate', '1M']);
  const get2 = getJson(procs, again.code, join(await fresh('dst'), 'DEST'), url);
  await waitEvent(again.proc, 'file-start', 30_000);
  await appendFile(join(s, 'b.bin'), 'more');
  assert.equal(await again.proc.exited, 1, again.proc.stderr());
  assert.match(again.proc.stderr(), /b\.bin changed while it was being sent; send the set again when nothing is writing to it/);
  assert.notEqual(await get2.exited, 0);
});

test('a link planted inside DEST during the transfer stops it (exit 2); nothing is written through it', { timeout: 90_000 }, async () => {
  const src = await fresh('src');
  const s = join(src, 'set');
  await mkdir(join(s, 'sub'), { recursive: true });
  await randomFile(join(s, 'sub', 'a.bin'), 1 * MiB);
  await randomFile(join(s, 'sub', 'b.bin'), 3 * MiB);
  const outside = await fresh('outside');
  const dest = join(await fresh('dst'), 'DEST');
  const share = await shareJson(procs, s, url, ['--max-rate', '2M']);
  const get = getJson(procs, share.code, dest, url);
  await waitEvent(get, 'file-verified', 60_000);
  // DEST/set/sub, made by movie-get for a.bin, becomes a link to a folder outside DEST
  await rename(join(dest, 'set', 'sub'), join(dest, 'set', 'sub-moved'));
  await symlink(outside, join(dest, 'set', 'sub'));
  assert.equal(await get.exited, 2, get.stderr());
  assert.match(get.stderr(), /replaced by a link/);
  await share.proc.exited;
  assert.deepEqual(await readdir(outside), [], 'nothing written outside DEST');
  assert.ok((await lstat(join(dest, 'set', 'sub'))).isSymbolicLink());
});

/** movie-get against a host that sends `manifest` (with `size` random bytes): its exit code and what it wrote. */
async function rogue(manifest: unknown, size: number): Promise<{ get: Proc; host: Proc; root: string; dest: string }> {
  const root = await fresh('rogue');
  const file = join(root, 'manifest.json');
  await writeFile(file, JSON.stringify(manifest));
  const host = procs.node(SET_HOST, [url, file, String(size)]);
  const code = (await host.waitFor(/\{"code":"([^"]+)"\}/, 30_000))[1]!;
  const dest = join(root, 'DEST');
  const get = procs.get(code, dest, url);
  await get.exited;
  await host.exited;
  return { get, host, root, dest };
}

const file = (path: string, size: number, extra: Record<string, unknown> = {}) => ({
  kind: 'file',
  path,
  size,
  sha256: '0'.repeat(64),
  exec: false,
  mtime: 0,
  ...extra,
});

const HOSTILE: [string, unknown, number, RegExp][] = [
  ['an absolute path', { entries: [file('/tmp/evil', 10)] }, 10, /an absolute path/],
  ['a .. segment', { entries: [file('a/../../evil', 10)] }, 10, /a "\.\." segment/],
  ['a . segment', { entries: [file('./evil', 10)] }, 10, /a "\." segment/],
  ['an empty name', { entries: [file('a//b', 10)] }, 10, /an empty name/],
  ['a backslash', { entries: [file('..\\evil', 10)] }, 10, /a backslash/],
  ['a NUL', { entries: [file('evil\u0000.txt', 10)] }, 10, /a control character/],
  ['a Windows device name', { entries: [file('dir/CON.txt', 10)] }, 10, /a name Windows reserves/],
  ['the same name twice', { entries: [file('a', 5), file('a', 5)] }, 10, /"a" twice/],
  ['a file and a folder of one name', { entries: [file('a', 5), file('a/b', 5)] }, 10, /inside the file "a"/],
  ['a 64 KiB name', { entries: [file('x'.repeat(65536), 10)] }, 10, /longer than/],
  ['sizes that add up to less than the stream', { entries: [file('a', 5)] }, 10, /add up to 5 bytes, not the 10/],
  ['sizes that add up to more than the stream', { entries: [file('a', 5), file('b', 50)] }, 10, /add up to/],
  ['10^6 entries', { many: 1_000_000 }, 0, /larger than 16 MiB/],
];

test("a hostile host's manifest is refused with one sentence (exit 3); nothing is written inside or outside DEST", { timeout: 240_000 }, async () => {
  // four at a time: each is mostly a handshake and a refusal
  for (let i = 0; i < HOSTILE.length; i += 4) {
    const batch = HOSTILE.slice(i, i + 4);
    const runs = await Promise.all(batch.map(([, manifest, size]) => rogue(manifest, size)));
    for (const [k, [what, , , sentence]] of batch.entries()) {
      const { get, root, dest } = runs[k]!;
      assert.equal(get.child.exitCode, 3, `${what}: ${get.stderr()}`);
      assert.match(get.stderr(), sentence, what);
      assert.equal(get.stderr().trim().split('\n').length <= 3, true, `${what}: ${get.stderr()}`);
      assert.deepEqual(await readdir(root), ['manifest.json'], `${what}: nothing written (DEST not even made)`);
      assert.equal(await stat(dest).catch(() => null), null);
      await rm(root, { recursive: true });
    }
  }
  assert.equal(await stat('/tmp/evil').catch(() => null), null);
});

test('on a terminal movie-get shows the list and asks: "n" declines (exit 1, nothing written, the host told), "y" receives', { timeout: 90_000 }, async () => {
  const s = await season(await fresh('src'));
  const dest = join(await fresh('dst'), 'DEST');
  for (const answer of ['n', 'y']) {
    const share = await procs.share(s, url);
    // script(1) gives movie-get a terminal; its stdin is what we type
    const cmd = [process.execPath, BIN.get, share.code, '-o', dest, '--signal', url, '--bind-address', '127.0.0.1'].map((a) => `'${a}'`).join(' ');
    const get = procs.spawn('script', ['-qec', cmd, '/dev/null'], {}, { stdin: 'pipe' });
    await get.waitFor(/offers Season 1 \(5 files, 3 folders, [^)]*: Season 1\)\. Receive it into .*DEST\? \[y\/N\]/, 30_000);
    get.child.stdin!.write(`${answer}\n`);
    if (answer === 'n') {
      assert.equal(await get.exited, 1, get.stdout());
      assert.match(get.stdout(), /Declined; nothing was written/);
      assert.equal(await share.proc.exited, 1);
      assert.match(share.proc.stderr(), /Declined/);
      assert.equal(await stat(dest).catch(() => null), null, 'DEST not made');
    } else {
      assert.equal(await get.exited, 0, get.stdout());
      assert.equal(await share.proc.exited, 0);
      assert.deepEqual(await tree(dest), SEASON_TREE);
    }
  }
});
