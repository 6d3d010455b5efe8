/**
 * `npm run bench`: the performance benchmark (docs/PERFORMANCE.md).
 *
 *   node dist/bench/run.js [--quick] [--runs N] [--size BYTES|1G|256M] [--rss-size BYTES]
 *                          [--mtu 1280,4096] [--no-wormhole] [--no-browser] [--no-install] [--big]
 *                          [--profiles lan,wan,longhaul,lossy:16M | --no-profiles | --profiles-only]
 *                          [--profile-size 256M] [--line-size 256M] [--readme-size SIZE]
 *                          [--chart FILE] [--data DIR] [--out FILE]
 *
 * Env equivalents: BENCH_RUNS, BENCH_SIZE, BENCH_RSS_SIZE, BENCH_MTUS, BENCH_QUICK=1.
 * Prints a markdown table and writes bench/results.json (gitignored).
 * --quick: 1 run, 256 MiB, RSS row at 512 MiB, crypto on 128 MiB.
 * --big:   also moves a sparse 5 GiB file end to end (64-bit offsets); not for CI.
 * --no-browser: skip the Chromium rows (skipped anyway, with a note, when
 *          /usr/bin/chromium or playwright-core is missing; BENCH_CHROMIUM=PATH
 *          for another Chromium).
 * --profiles: the rows across the delay line (bench/profiles.ts; root only, skipped
 *          with the reason otherwise), after the loopback rows: `ID[:SIZE]` each,
 *          SIZE defaulting to --profile-size (256 MiB); --line-size: the line's own
 *          ceiling rows (0 = skip); --readme-size: the README's one-machine row
 *          (default --size; 0 = skip). --profiles-only: only those rows.
 *          The chart of the profile rows goes to --chart (default docs/bench-profiles.svg).
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Children } from './children.js';
import { defaultOptions, emptyResults, findTools, formatTable, GiB, MiB, runBench, takeFailures } from './lib.js';
import { DEFAULT_PROFILE_BYTES, DEFAULT_PROFILES, parseProfiles, runProfiles } from './profiles.js';

const BENCH_DIR = fileURLToPath(new URL('../../bench/', import.meta.url));

function parseSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m) throw new Error(`bad size ${v}`);
  const mult = { '': 1, k: 1024, m: MiB, g: GiB, t: 1024 * GiB }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * mult);
}

const argv = process.argv.slice(2);
const flag = (n: string) => argv.includes(n);
const value = (n: string): string | undefined => {
  const i = argv.indexOf(n);
  return i >= 0 ? argv[i + 1] : undefined;
};
if (flag('--help') || flag('-h')) {
  process.stdout.write(
    'usage: node dist/bench/run.js [--quick] [--runs N] [--size 1G] [--rss-size 4G] [--mtu 1280,4096] [--no-wormhole] [--no-browser] [--no-install] [--big]\n' +
      '       [--profiles lan,wan,longhaul,lossy:16M | --no-profiles | --profiles-only] [--profile-size 256M] [--line-size 256M] [--readme-size SIZE]\n' +
      '       [--chart FILE] [--data DIR] [--out FILE]\n',
  );
  process.exit(0);
}

const opts = defaultOptions(value('--data') ?? `${BENCH_DIR}.data`);
const quick = flag('--quick') || process.env.BENCH_QUICK === '1';
if (quick) {
  opts.runs = 1;
  opts.bytes = 256 * MiB;
  opts.rssBigBytes = 512 * MiB;
  opts.cryptoBytes = 128 * MiB;
}
const runs = value('--runs') ?? process.env.BENCH_RUNS;
if (runs) opts.runs = Math.max(1, Number(runs));
const size = value('--size') ?? process.env.BENCH_SIZE;
if (size) opts.bytes = parseSize(size);
const rssSize = value('--rss-size') ?? process.env.BENCH_RSS_SIZE;
if (rssSize) opts.rssBigBytes = rssSize === '0' ? 0 : parseSize(rssSize);
const mtus = value('--mtu') ?? process.env.BENCH_MTUS;
if (mtus) opts.mtus = mtus.split(',').map((x) => Number(x.trim()));
if (flag('--no-wormhole')) opts.wormhole = false;
if (flag('--no-browser') || process.env.BENCH_NO_BROWSER === '1') opts.browser = false;
if (flag('--no-install')) opts.install = false;
if (flag('--big')) opts.bigBytes = 5 * GiB;
const out = value('--out') ?? `${BENCH_DIR}results.json`;
const profileBytes = value('--profile-size') ? parseSize(value('--profile-size')!) : DEFAULT_PROFILE_BYTES;
const profiles = flag('--no-profiles') ? [] : parseProfiles(value('--profiles') ?? DEFAULT_PROFILES, profileBytes, parseSize);
const lineBytes = value('--line-size') ? parseSize(value('--line-size')!) : 256 * MiB;
const readmeBytes = value('--readme-size') ? parseSize(value('--readme-size')!) : opts.bytes;
const profilesOnly = flag('--profiles-only');
const chartOut = value('--chart') ?? fileURLToPath(new URL('../../docs/bench-profiles.svg', import.meta.url));

const children = new Children();
const stop = () => {
  void children.cleanup().finally(() => process.exit(130));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

try {
  const res = profilesOnly ? emptyResults(opts) : await runBench(opts, children);
  if (!flag('--no-profiles')) {
    const p = await runProfiles(
      { profiles, ceilingBytes: lineBytes, readmeBytes, runs: opts.runs, wormhole: opts.wormhole, dataDir: opts.dataDir, chartOut, log: opts.log },
      children,
      findTools(opts),
    );
    res.rows.push(...p.rows);
    res.notes.push(...p.notes, ...takeFailures());
    res.machine.loadavgEnd = emptyResults(opts).machine.loadavgEnd;
  }
  const table = formatTable(res);
  await writeFile(out, `${JSON.stringify({ ...res, table }, null, 2)}\n`);
  process.stdout.write(`\n${table}\n\n`);
  for (const n of res.notes) process.stdout.write(`note: ${n}\n`);
  process.stdout.write(
    `(${res.machine.cpus} × ${res.machine.cpuModel}, node ${res.machine.node}, load average ${res.machine.loadavgStart[0]} → ${res.machine.loadavgEnd[0]}; product default MTU ${res.productDefaultMtu}; results in ${out})\n`,
  );
} catch (e) {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
  await children.cleanup();
  process.exit(1);
}
