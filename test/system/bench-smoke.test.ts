/**
 * A smoke run of the benchmark (bench/lib.ts, `npm run bench`): 16 MiB, one
 * run per row, magic-wormhole skipped, nothing installed. It asserts only that
 * every row completes and reports positive numbers: never a timed assertion
 * (docs/PERFORMANCE.md has the real numbers). Children are killed even when
 * the run fails. The browser rows (bench/browser.ts) run when Chromium is
 * installed (~15 s more), and must then complete too; without it they are
 * skipped with a reason.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Children, defaultOptions, formatTable, MiB, PRODUCT_MTU, runBench, type BenchResults } from '../../bench/lib.js';
import { browserUnavailable } from '../../bench/browser.js';
import { tempDir } from '../support/files.js';

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
