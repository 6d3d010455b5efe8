/**
 * A smoke run of the benchmark (bench/lib.ts, `npm run bench`): 16 MiB, one
 * run per row, magic-wormhole skipped, nothing installed. It asserts only that
 * every row completes and reports positive numbers: never a timed assertion
 * (docs/PERFORMANCE.md has the real numbers). Children are killed even when
 * the run fails. The browser rows (bench/browser.ts) run when Chromium is
 * installed (~15 s more), and must then complete too; without it they are
 * skipped with a reason. A second test runs one tiny delay-line profile
 * (bench/profiles.ts: LAN, 4 MiB, no wormhole) and draws its chart; without
 * root it checks that the profiles are skipped with the reason.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Children, defaultOptions, findTools, formatTable, MiB, PRODUCT_MTU, runBench, type BenchResults } from '../../bench/lib.js';
import { browserUnavailable } from '../../bench/browser.js';
import { runProfiles } from '../../bench/profiles.js';
import { delayLineUnavailable } from '../support/delay-line.js';
import { readFile, tempDir } from '../support/files.js';

const children = new Children();
let removeDir: (() => Promise<void>) | undefined;

after(async () => {
  await children.cleanup();
  await removeDir?.();
});

test('bench smoke: every row completes with positive numbers', { timeout: 180_000 }, async () => {
  const { dir, remove } = await tempDir();
  removeDir = remove;
  const lines: string[] = [];
  const opts = {
    ...defaultOptions(dir),
    bytes: 16 * MiB,
    rssBigBytes: 24 * MiB,
    runs: 1,
    wormhole: false,
    install: false,
    cryptoBytes: 8 * MiB,
    log: (l: string) => void lines.push(l),
  };
  let res: BenchResults;
  try {
    res = await runBench(opts, children);
  } catch (e) {
    throw new Error(`bench failed: ${(e as Error).message}\n${lines.join('\n')}`, { cause: e });
  }
  const byId = new Map(res.rows.map((r) => [r.id, r]));
  const positive = (id: string, v: number | string | undefined, what: string) =>
    assert.ok(typeof v === 'number' && v > 0, `${id}: ${what} should be a positive number, got ${v}\n${formatTable(res)}`);

  for (const id of ['limit-aes-enc', 'limit-aes-dec', 'limit-sha256', 'limit-tcp']) positive(id, byId.get(id)?.mbps, 'MB/s');
  for (const mtu of opts.mtus) {
    const ceiling = byId.get(`ceiling-${mtu}`);
    const share = byId.get(`movie-share-${mtu}`);
    positive(`ceiling-${mtu}`, ceiling?.mbps, 'MB/s');
    positive(`movie-share-${mtu}`, share?.mbps, 'MB/s');
    positive(`movie-share-${mtu}`, share?.ratio, 'ratio to the ceiling');
    positive(`movie-share-${mtu}`, share?.details.firstByteMs, 'first-byte latency');
  }
  positive('latency', byId.get('latency')?.details.firstByteMs, 'first-byte latency');
  const rss = byId.get('rss');
  assert.ok(rss, 'rss row');
  for (const [k, v] of Object.entries(rss.details)) {
    if (k === 'bigRunsRssMB') assert.match(String(v), /^\d+(\.\d+)?\/\d+(\.\d+)?( |$)/, `rss: ${k} = ${v}`);
    else positive('rss', v, k);
  }
  // the product-default row ran without --mtu, and the host says which MTU it chose
  assert.equal(byId.get(`movie-share-${PRODUCT_MTU}`)?.details.hostMtu, String(PRODUCT_MTU));
  assert.equal(byId.get('wormhole')?.skipped, 'disabled');

  const noBrowser = await browserUnavailable();
  if (noBrowser) {
    assert.equal(byId.get('browser')?.skipped, noBrowser);
  } else {
    positive('browser-ceiling', byId.get('browser-ceiling')?.mbps, 'MB/s');
    const page = byId.get('page');
    // movie-signal serves the page (dist/bin/web at /): the page rows run
    assert.equal(page?.skipped, undefined, `page row skipped: ${page?.skipped}`);
    positive('page', page?.mbps, 'MB/s');
    positive('page', page?.ratio, 'ratio to the browser ceiling');
    positive('page', page?.details.heapPeakMB, 'JS heap peak');
    assert.equal(page?.details.hostMtu, '1280', "the host uses the browser's MTU");
    const heap = byId.get('page-heap');
    positive('page-heap', heap?.details.heapBigSmall, 'heap big/small');
  }
  assert.match(formatTable(res), /\| ceiling: raw data channel/);
});

test('bench smoke: one tiny delay-line profile (LAN, 4 MiB) and its chart, or skipped with the reason', { timeout: 120_000 }, async () => {
  const { dir, remove } = await tempDir();
  const lines: string[] = [];
  try {
    const opts = { ...defaultOptions(dir), runs: 1, wormhole: false, install: false, log: (l: string) => void lines.push(l) };
    const chartOut = join(dir, 'chart.svg');
    let res: Awaited<ReturnType<typeof runProfiles>>;
    try {
      res = await runProfiles(
        { profiles: [{ id: 'lan', bytes: 4 * MiB }], ceilingBytes: 0, readmeBytes: 0, runs: 1, wormhole: false, dataDir: dir, chartOut, log: opts.log },
        children,
        findTools(opts),
      );
    } catch (e) {
      throw new Error(`profiles failed: ${(e as Error).message}\n${lines.join('\n')}`, { cause: e });
    }
    const skip = delayLineUnavailable();
    if (skip) {
      assert.equal(res.rows[0]?.skipped, skip);
      return;
    }
    const byId = new Map(res.rows.map((r) => [r.id, r]));
    for (const id of ['lan-raw', 'lan-movie-share']) assert.ok((byId.get(id)?.mbps ?? 0) > 0, `${id}: ${JSON.stringify(byId.get(id))}`);
    assert.equal(byId.get('lan-movie-share')?.details.hostMtu, '1280', 'a routed path: the safe MTU');
    assert.equal(byId.get('lan-wormhole')?.skipped, 'disabled');
    assert.match(await readFile(chartOut, 'utf8'), /^<svg[^>]*>[\s\S]*LAN 1 Gbit\/s[\s\S]*<\/svg>\s*$/);
  } finally {
    await remove();
  }
});
