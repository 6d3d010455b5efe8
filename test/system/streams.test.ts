/**
 * Striping with the real CLIs (peer/transfer/stripes.ts, docs/PROTOCOL.md §7a):
 * movie-share and movie-get on 127.0.0.1 with `--streams`; the file is
 * byte-identical, both sides say (`--verbose`) how many connections they used,
 * and the receiver's limit caps the host's choice.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BIN, Procs } from '../support/procs.js';
import { ExitCode } from '../../common/errors.js';
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

/**
 * `movie-share --streams hostStreams` → `movie-get [--streams receiverStreams]`. The host's
 * plan (`N connection(s)`) is deterministic; that the extra connections then carried the
 * file is checked only where `rate` slows it down enough for them to come up first
 * (they are set up while the transfer runs; a busy machine may take a second or two).
 */
async function striped(name: string, size: number, hostStreams: string, receiverStreams: string | undefined, expect: number, rate?: string): Promise<void> {
  const src = join(dir, `${name}.src`);
  const out = join(dir, `${name}.out`);
  await randomFile(src, size);
  const share = await procs.share(src, url, ['--verbose', '--streams', hostStreams, ...(rate ? ['--max-rate', rate] : [])]);
  const get = procs.get(share.code, out, url, ['--verbose', ...(receiverStreams ? ['--streams', receiverStreams] : [])]);
  const [gc, sc] = await Promise.all([get.exited, share.proc.exited]);
  assert.equal(gc, 0, `movie-get failed: ${get.stderr()}`);
  assert.equal(sc, 0, `movie-share failed: ${share.proc.stderr()}`);
  assert.ok(await sameBytes(src, out), 'byte-identical');
  assert.match(share.proc.stderr(), new RegExp(`round-trip time (\\d+ ms|unknown): ${expect} connection\\(s\\)`), share.proc.stderr());
  assert.doesNotMatch(share.proc.stderr(), new RegExp(`sending over ${expect + 1} connection`));
  if (rate) {
    assert.match(share.proc.stderr(), new RegExp(`sending over ${expect} connection\\(s\\)`), share.proc.stderr());
    assert.match(get.stderr(), new RegExp(`receiving over ${expect} connection\\(s\\)`), get.stderr());
  }
}

test('--streams 3 on both sides: 24 MiB over three connections, byte-identical', { timeout: 120_000 }, () => striped('three', 24 * 1024 * 1024 + 7, '3', '3', 3, '4M'));

test('the receiver takes at most its --streams: host 3, receiver 2 → 2', { timeout: 120_000 }, () => striped('capped', 4 * 1024 * 1024, '3', '2', 2));

test('--streams out of range is a usage error', { timeout: 30_000 }, async () => {
  const src = join(dir, 'usage.src');
  await randomFile(src, 1);
  const bad = procs.spawn(process.execPath, [BIN.share, src, '--signal', url, '--streams', '9']);
  assert.equal(await bad.exited, ExitCode.Usage, bad.stderr());
  assert.match(bad.stderr(), /--streams must be between 1 and 8/);
});
