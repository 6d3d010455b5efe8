/**
 * Reliability of a running transfer, resume included (docs/RELIABILITY.md), with the
 * real CLIs as child processes against a real movie-signal on 127.0.0.1:
 *
 *  - kill -9 of the receiver at ~50%: the sender tries to reconnect for its
 *    patience (--patience 3), then exits 5 within 25 s; a rerun
 *    with a new code resumes and sends < 60% of the bytes; OUT is identical;
 *  - kill -9 of the sender mid-transfer: the receiver exits 5 within 25 s,
 *    keeps OUT.part + sidecar, and a rerun completes;
 *  - a receiver frozen (SIGSTOP) for 12 s: both sides notice the silence,
 *    meet again (peer/rendezvous/heal.ts) and finish without anyone re-running;
 *  - Ctrl-C (SIGINT) on either side: a clean exit 1 without a stack trace, the
 *    other side is told and exits 5 saying the other side cancelled, .part kept;
 *  - (in-process) a credit window smaller than the ack interval still moves.
 *
 * The two kill -9 cases run concurrently (each waits ~10 s for the liveness
 * timeout), and so do the two Ctrl-C cases.
 *
 * The sender runs with a 4 MiB credit window (hidden --window flag) so the
 * moment "~50%" can be caught by watching OUT.part grow; nothing here asserts
 * a duration except the "within 20 s" bounds on noticing a failure.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readSidecar, sidecarBytes } from '../../peer/node/resume.js';
import { Procs } from '../support/procs.js';
import { errorText, runMemoryTransfer } from '../support/memory-transfer.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';
import { assertCleanFailure, exitWithin, getJson, lastEvent, MiB, shareJson, waitForSize, waitForVerified } from '../support/reliability.js';
import '../support/node-crypto.js';

const SIZE = 64 * MiB;
const THROTTLE = ['--window', String(4 * MiB)];
/** a survivor tries to reconnect this long (s) before it gives up */
const PATIENCE = ['--patience', '3'];
const procs = new Procs();
let url: string;
let dir: string;
let src: string;
let removeDir: () => Promise<void>;

before(async () => {
  ({ dir, remove: removeDir } = await tempDir('movie-share-rel-'));
  src = join(dir, 'movie.bin');
  await Promise.all([randomFile(src, SIZE), procs.signal().then((s) => (url = s.url))]);
});
after(async () => {
  await procs.cleanup();
  await removeDir();
});

/**
 * Start a throttled pair; resolves once OUT.part holds at least `fraction` of
 * the file, or (`verified`) once the resume sidecar records that much.
 */
async function startAndWait(out: string, fraction: number, verified = false) {
  const share = await shareJson(procs, src, url, [...THROTTLE, ...PATIENCE]);
  const get = getJson(procs, share.code, out, url, PATIENCE);
  const wait = verified ? waitForVerified(out, Math.floor(SIZE * fraction), [share.proc, get]) : waitForSize(`${out}.part`, Math.floor(SIZE * fraction), [share.proc, get]);
  await wait;
  return { share: share.proc, get };
}

/** Run a fresh pair to the end; returns the sender's and receiver's `done` events. */
async function rerun(out: string) {
  const share = await shareJson(procs, src, url);
  const get = getJson(procs, share.code, out, url);
  const [gc, sc] = await Promise.all([get.exited, share.proc.exited]);
  assert.equal(gc, 0, `rerun movie-get: ${get.stderr()}`);
  assert.equal(sc, 0, `rerun movie-share: ${share.proc.stderr()}`);
  assert.ok(await sameBytes(src, out), 'OUT is byte-identical to the source');
  assert.equal(existsSync(`${out}.part`), false, 'no .part left after success');
  assert.equal(existsSync(`${out}.part.json`), false, 'no sidecar left after success');
  const sent = lastEvent(share.proc, 'done')!;
  const got = lastEvent(get, 'done')!;
  assert.ok(sent && got, 'both printed a done event');
  return { sent: sent as unknown as { sentBytes: number; resumedFrom: number }, got: got as unknown as { resumedFrom: number } };
}

async function assertResumeState(out: string): Promise<number> {
  assert.equal(existsSync(out), false, 'nothing at OUT');
  const part = await stat(`${out}.part`);
  const sc = await readSidecar(out);
  assert.ok(sc, 'OUT.part.json (the resume sidecar) is kept');
  assert.equal(sc.size, SIZE);
  const kept = sidecarBytes(sc);
  assert.ok(kept > 0 && sc.have[sc.have.length - 1]! <= part.size, `sidecar have=${JSON.stringify(sc.have)}, .part=${part.size}`);
  return kept;
}

describe('kill -9 of a peer mid-transfer', { concurrency: true }, () => {
  test(
    'resume: receiver kill -9 at ~50%; the sender tries to reconnect for its patience (3 s), then exits 5 within 25 s; the rerun sends < 60% and OUT is identical',
    { timeout: 90_000 },
    async () => {
      const out = join(dir, 'resume.out');
      const { share, get } = await startAndWait(out, 0.5, true); // ~50%: the sidecar says half is verified
      get.kill('SIGKILL');
      assert.equal(await exitWithin(share, 25_000, 'movie-share'), 5, share.stderr());
      assertCleanFailure(share, /connection to the receiver was lost .* could not be made again within 3 s/i, 'movie-share');
      assert.ok(lastEvent(share, 'reconnecting'), 'the sender tried to reconnect before it gave up');
      assert.match(share.stderr(), /run both commands again to resume/i);
      const verified = await assertResumeState(out);

      const { sent, got } = await rerun(out);
      assert.equal(sent.resumedFrom, verified, 'the sender resumed from the sidecar offset');
      assert.equal(got.resumedFrom, verified);
      assert.equal(sent.sentBytes + sent.resumedFrom, SIZE);
      assert.ok(sent.sentBytes < 0.6 * SIZE, `the second run sent ${sent.sentBytes} of ${SIZE} bytes (${((100 * sent.sentBytes) / SIZE).toFixed(1)}%)`);
    },
  );

  test(
    'peer vanishes: sender kill -9 mid-transfer; the receiver tries to reconnect for its patience, exits 5 within 25 s, keeps OUT.part + sidecar; a rerun completes',
    { timeout: 90_000 },
    async () => {
      const out = join(dir, 'vanish.out');
      const { share, get } = await startAndWait(out, 0.3);
      share.kill('SIGKILL');
      assert.equal(await exitWithin(get, 25_000, 'movie-get'), 5, get.stderr());
      assertCleanFailure(get, /connection to the sender was lost .* could not be made again within 3 s/i, 'movie-get');
      assert.match(get.stderr(), /run both commands again to resume/i);
      const verified = await assertResumeState(out);

      const { sent, got } = await rerun(out);
      assert.equal(got.resumedFrom, verified);
      assert.equal(sent.sentBytes, SIZE - verified);
    },
  );
});

test('a receiver frozen for 12 s mid-transfer (SIGSTOP): both sides reconnect on their own and finish byte-identical, resuming', { timeout: 120_000 }, async () => {
  const out = join(dir, 'frozen.out');
  // the default patience (2 min): the sender notices the silence after 10 s, the receiver when it wakes
  const { proc: share, code } = await shareJson(procs, src, url, [...THROTTLE, '--max-rate', '8M']);
  const get = getJson(procs, code, out, url);
  await waitForSize(`${out}.part`, Math.floor(SIZE * 0.3), [share, get]);
  get.kill('SIGSTOP'); // silent: no close, no abort; the sender hears nothing for longer than the liveness timeout
  await new Promise((r) => setTimeout(r, 12_000));
  get.kill('SIGCONT');
  const [gc, sc] = await Promise.all([get.exited, share.exited]);
  assert.equal(gc, 0, `movie-get: ${get.stderr()}`);
  assert.equal(sc, 0, `movie-share: ${share.stderr()}`);
  assert.ok(await sameBytes(src, out), 'OUT is byte-identical to the source');
  for (const [p, who] of [
    [share, 'movie-share'],
    [get, 'movie-get'],
  ] as const) {
    const re = lastEvent(p, 'reconnecting');
    assert.ok(re, `${who} reported reconnecting`);
    assert.ok(lastEvent(p, 'reconnected'), `${who} reported reconnected`);
  }
  const done = lastEvent(share, 'done') as unknown as { resumedFrom: number; sentBytes: number };
  assert.ok(done.resumedFrom > 0, `the new connection resumed (from ${done.resumedFrom})`);
});

describe('Ctrl-C mid-transfer', { concurrency: true }, () => {
  test('Ctrl-C on the receiver: exit 1 without a stack trace; the sender is told (exit 5, "cancelled"); .part kept', { timeout: 60_000 }, async () => {
    const out = join(dir, 'sigint-get.out');
    const { share, get } = await startAndWait(out, 0.3);
    get.kill('SIGINT');
    assert.equal(await exitWithin(get, 20_000, 'movie-get'), 1, get.stderr());
    assertCleanFailure(get, /cancelled/i, 'movie-get');
    assert.equal(await exitWithin(share, 20_000, 'movie-share'), 5, share.stderr());
    assertCleanFailure(share, /other side stopped: it was cancelled/i, 'movie-share');
    await assertResumeState(out);
  });

  test('Ctrl-C on the sender: exit 1 without a stack trace; the receiver is told (exit 5, "cancelled"); .part kept', { timeout: 60_000 }, async () => {
    const out = join(dir, 'sigint-share.out');
    const { share, get } = await startAndWait(out, 0.3);
    share.kill('SIGINT');
    assert.equal(await exitWithin(share, 20_000, 'movie-share'), 1, share.stderr());
    assertCleanFailure(share, /cancelled/i, 'movie-share');
    assert.equal(await exitWithin(get, 20_000, 'movie-get'), 5, get.stderr());
    assertCleanFailure(get, /other side stopped: it was cancelled/i, 'movie-get');
    await assertResumeState(out);
  });
});

test('a credit window smaller than the ack interval does not stall the transfer (in-memory channel)', { timeout: 30_000 }, async () => {
  const small = join(dir, 'window.src');
  const out = join(dir, 'window.out');
  await randomFile(small, 2 * MiB + 5);
  // acks every 256 KiB, but the sender may have only 64 KiB unacknowledged: it used to wait forever
  const r = await runMemoryTransfer(small, out, { tuning: { windowBytes: 64 * 1024, ackBytes: 256 * 1024 } });
  assert.ok(!(r.receive instanceof Error), errorText(r.receive));
  assert.ok(!(r.send instanceof Error), errorText(r.send));
  assert.ok(await sameBytes(small, out));
});
