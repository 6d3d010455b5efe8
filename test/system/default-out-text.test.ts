/**
 * `movie-get CODE` without -o: the file lands in the current
 * folder under the sender's name, made safe (a hostile name from
 * test/support/named-host-main.ts stays inside it), and never replaces a
 * file there. `movie-share --text` (and `--text -` from stdin): the receiver
 * prints the verified text and writes no file. Commander's own usage errors
 * come out as one sentence, exit 2. The real CLIs against a real
 * movie-signal on 127.0.0.1; the cases run one after another.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, DIST, Procs, type Proc } from '../support/procs.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';
import { events, MiB, waitForVerified } from '../support/reliability.js';

const procs = new Procs();
const NAMED_HOST = join(DIST, 'test', 'support', 'named-host-main.js');
let url: string;
let dir: string;
let removeDir: () => Promise<void>;
let n = 0;

before(async () => {
  ({ dir, remove: removeDir } = await tempDir('movie-share-default-out-'));
  ({ url } = await procs.signal());
});
after(async () => {
  await procs.cleanup();
  await removeDir();
});

/** A fresh empty folder for a receiver to run in. */
async function freshDir(): Promise<string> {
  const d = join(dir, `cwd-${++n}`);
  await mkdir(d, { recursive: true });
  return d;
}

/** movie-get CODE (no -o) run in `cwd`. */
function getHere(code: string, cwd: string, extra: string[] = []): Proc {
  return procs.node(BIN.get, [code, '--signal', url, '--bind-address', '127.0.0.1', ...extra], {}, { cwd });
}

/** movie-share --text TEXT; resolves once the code is printed. */
async function shareText(text: string, stdin?: string): Promise<{ proc: Proc; code: string }> {
  const proc = procs.spawn(process.execPath, [BIN.share, '--text', text, '--signal', url, '--bind-address', '127.0.0.1'], {}, stdin === undefined ? {} : { stdin: 'pipe' });
  if (stdin !== undefined) proc.child.stdin!.end(stdin);
  const m = await proc.waitFor(/Code: (\S+)/, 30_000);
  return { proc, code: m[1]! };
}

async function namedHost(file: string, name: string): Promise<{ proc: Proc; code: string }> {
  const proc = procs.node(NAMED_HOST, [url, file, JSON.stringify(name)]);
  return { proc, code: (await proc.waitFor(/\{"code":"([^"]+)"\}/, 30_000))[1]! };
}

test("movie-get CODE without -o: the file lands in the current folder under the sender's name, byte for byte", { timeout: 90_000 }, async () => {
  const src = join(dir, 'holiday clip.bin');
  await randomFile(src, 3 * 1024 * 1024 + 17);
  const cwd = await freshDir();
  const share = await procs.share(src, url);
  const get = getHere(share.code, cwd);
  assert.equal(await get.exited, 0, get.stderr());
  assert.equal(await share.proc.exited, 0, share.proc.stderr());
  assert.deepEqual(await readdir(cwd), ['holiday clip.bin'], 'the file, and no .part or sidecar left');
  assert.ok(await sameBytes(src, join(cwd, 'holiday clip.bin')));
  assert.match(get.stderr(), /Received .* into .*holiday clip\.bin/);
});

test('without -o, an interrupted download resumes from NAME.part in the current folder', { timeout: 120_000 }, async () => {
  const src = join(dir, 'resume.bin');
  await randomFile(src, 8 * MiB);
  const cwd = await freshDir();
  const slow = await procs.share(src, url, ['--max-rate', '2M']);
  const first = getHere(slow.code, cwd);
  await waitForVerified(join(cwd, 'resume.bin'), 2 * MiB, [first]);
  first.kill('SIGKILL');
  slow.proc.kill('SIGKILL');
  await Promise.all([first.exited, slow.proc.exited]);
  assert.deepEqual((await readdir(cwd)).sort(), ['resume.bin.part', 'resume.bin.part.json']);

  const share = await procs.share(src, url);
  const again = getHere(share.code, cwd);
  assert.equal(await again.exited, 0, again.stderr());
  assert.equal(await share.proc.exited, 0, share.proc.stderr());
  assert.match(again.stderr(), /Resuming an earlier download/);
  assert.deepEqual(await readdir(cwd), ['resume.bin']);
  assert.ok(await sameBytes(src, join(cwd, 'resume.bin')));
});

test("a sender's name with a path or control characters lands sanitized inside the current folder", { timeout: 120_000 }, async () => {
  const src = join(dir, 'named.bin');
  await randomFile(src, 200_000);
  const cases: [string, string][] = [
    ['../evil', 'evil'],
    ['../../..//etc/passwd', 'passwd'],
    ['\u0007.hidden\u001b\r\nname.txt', 'hiddenname.txt'],
    ['C:\\Windows\\CON', '_CON'],
  ];
  for (const [name, expected] of cases) {
    const cwd = await freshDir();
    const host = await namedHost(src, name);
    const get = getHere(host.code, cwd);
    assert.equal(await get.exited, 0, `${JSON.stringify(name)}: ${get.stderr()}`);
    assert.equal(await host.proc.exited, 0, host.proc.stderr());
    assert.deepEqual(await readdir(cwd), [expected], `${JSON.stringify(name)} → ${expected}`);
    assert.ok(await sameBytes(src, join(cwd, expected)));
    const beside = await readdir(dir);
    assert.ok(!beside.includes('evil') && !beside.includes('passwd'), `nothing written next to the folder: ${beside.join(', ')}`);
  }
});

test('a file of that name already in the folder: exit 2, one sentence naming -o, nothing replaced', { timeout: 90_000 }, async () => {
  const src = join(dir, 'taken.bin');
  await randomFile(src, 100_000);
  for (const existing of ['taken.bin', 'taken.bin.part']) {
    const cwd = await freshDir();
    await writeFile(join(cwd, existing), 'mine, keep it');
    const share = await procs.share(src, url);
    const get = getHere(share.code, cwd);
    assert.equal(await get.exited, 2, get.stderr());
    await share.proc.exited;
    const lines = get
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('movie-get:'));
    assert.equal(lines.length, 1, get.stderr());
    assert.match(lines[0]!, new RegExp(`^movie-get: ${existing.replace(/\./g, '\\.')} already exists .*-o`));
    assert.equal(await readFile(join(cwd, existing), 'utf8'), 'mine, keep it');
    assert.deepEqual(await readdir(cwd), [existing], 'nothing else written');
  }
});

test('movie-share --text "hello world": the receiver prints exactly the text and writes no file; --json gives a text event', { timeout: 90_000 }, async () => {
  const cwd = await freshDir();
  const share = await shareText('hello world');
  await share.proc.waitFor(/On the other machine run: movie-get \S+\n/); // no -o needed for a text
  const get = getHere(share.code, cwd);
  assert.equal(await get.exited, 0, get.stderr());
  assert.equal(await share.proc.exited, 0, share.proc.stderr());
  assert.equal(get.stdout(), 'hello world\n');
  assert.deepEqual(await readdir(cwd), [], 'no file written');

  const json = await shareText('{"a": "b"}\tand more');
  const getJson = getHere(json.code, cwd, ['--json']);
  assert.equal(await getJson.exited, 0, getJson.stderr());
  assert.equal(await json.proc.exited, 0);
  assert.deepEqual(
    events(getJson).filter((e) => e.event === 'text'),
    [{ event: 'text', text: '{"a": "b"}\tand more' }],
  );
  assert.deepEqual(await readdir(cwd), []);
});

test('movie-share --text - reads stdin; control characters are not printed, lines are kept', { timeout: 90_000 }, async () => {
  const cwd = await freshDir();
  const share = await shareText('-', 'line one\n\u001b]0;pwned\u0007line two\r\nthree\n');
  const get = getHere(share.code, cwd);
  assert.equal(await get.exited, 0, get.stderr());
  assert.equal(await share.proc.exited, 0, share.proc.stderr());
  assert.equal(get.stdout(), 'line one\n]0;pwnedline two\nthree\n');
  assert.deepEqual(await readdir(cwd), []);
});

test('a text with -o is written to that file', { timeout: 60_000 }, async () => {
  const cwd = await freshDir();
  const share = await shareText('to a file');
  const get = procs.get(share.code, join(cwd, 'note.txt'), url);
  assert.equal(await get.exited, 0, get.stderr());
  assert.equal(await share.proc.exited, 0);
  assert.equal(await readFile(join(cwd, 'note.txt'), 'utf8'), 'to a file');
  assert.equal(get.stdout(), '');
});

test('usage errors (unknown option, missing code or value, --text too long) are one sentence, exit 2', { timeout: 60_000 }, async () => {
  const cwd = await freshDir();
  const cases: [string, string[], RegExp][] = [
    [BIN.get, ['some-code', '--bogus'], /^movie-get: Unknown option --bogus; run movie-get --help/],
    [BIN.get, [], /^movie-get: The CODE argument is missing; run movie-get --help/],
    [BIN.get, ['some-code', '--signal'], /^movie-get: The option --signal <url> needs a value/],
    [BIN.get, ['some-code', '--force'], /^movie-get: --force replaces OUT, so it needs -o OUT/],
    [BIN.share, ['--txt', 'x'], /^movie-share: Unknown option --txt \(did you mean --text\?\)/],
    [BIN.share, [], /^movie-share: Give the file to send/],
    [BIN.share, ['file.bin', '--text', 'x'], /^movie-share: Give either a FILE \(or files and folders\) or --text, not both/],
    [BIN.share, ['--text', 'x'.repeat(64 * 1024 + 1)], /^movie-share: The text is 65537 bytes; at most 64 KiB/],
  ];
  for (const [bin, args, re] of cases) {
    const p = procs.node(bin, [...args, '--signal', 'http://127.0.0.1:9'].slice(0, args.includes('--signal') ? args.length : undefined), {}, { cwd });
    assert.equal(await p.exited, 2, `${args.join(' ')}: ${p.stderr()}`);
    const lines = p.stderr().trim().split('\n');
    assert.equal(lines.length, 1, p.stderr());
    assert.match(lines[0]!, re);
    assert.ok(!/^error:/m.test(p.stderr()), "not commander's raw message");
  }
});
