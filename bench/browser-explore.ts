/**
 * Experiments on the browser path (docs/PERFORMANCE.md, "The browser"): variants
 * of the raw node → Chromium row or of the CLI → page row, run in alternating
 * rounds, with Chromium's CPU by process and thread, UDP drops and the page's
 * JS heap. Not part of `npm run bench`.
 *
 *   node dist/bench/browser-explore.js raw SIZE 'VARIANTS' [ROUNDS]
 *   node dist/bench/browser-explore.js page SIZE 'VARIANTS' [ROUNDS]
 *
 * VARIANTS is a JSON array; each object may have
 *   raw:  name, message (bytes per message), channels, mode ('count' | 'copy'),
 *         sctpSendBuffer (the node sender's usrsctp send space), mtu,
 *         env (for Chromium, e.g. {"LD_PRELOAD": …}), args (Chromium flags)
 *   page: name, pageDir (a page build: the signaling server is started with
 *         MOVIE_PAGE_DIR=pageDir), bypassCSP, profile (true: CPU profile of the
 *         page's main thread, summarized by function), env, args
 * e.g. raw 64M '[{"message":16384},{"message":65554},{"message":262144}]' 2
 */
import { join } from 'node:path';
import { browserCeilingRun, pageRun, startBlankServer, type BrowserCeilingRun, type PageRun } from './browser.js';
import { Children, type Child } from './children.js';
import { DIST, FRAME_BYTES, median, MiB, randomFile } from './lib.js';

const [what, sizeArg, variantsArg, roundsArg] = process.argv.slice(2);
if ((what !== 'raw' && what !== 'page') || !sizeArg || !variantsArg) {
  process.stderr.write("usage: browser-explore.js raw|page SIZE 'VARIANTS-JSON' [ROUNDS]\n");
  process.exit(2);
}
const m = /^(\d+)([kmg]?)$/i.exec(sizeArg);
if (!m) throw new Error(`bad size ${sizeArg}`);
const bytes = Number(m[1]) * ({ '': 1, k: 1024, m: MiB, g: 1024 * MiB }[m[2]!.toLowerCase()] ?? 1);
const rounds = Number(roundsArg ?? 2);

interface Variant {
  name?: string;
  message?: number;
  channels?: number;
  mode?: 'count' | 'copy';
  sctpSendBuffer?: number;
  mtu?: number;
  env?: Record<string, string>;
  args?: string[];
  pageDir?: string;
  bypassCSP?: boolean;
  profile?: boolean;
}
const variants = JSON.parse(variantsArg) as Variant[];
const label = (v: Variant) => v.name ?? JSON.stringify(v);
const SIGNAL = process.env.BENCH_SIGNAL_BIN ?? join(DIST, 'bin/movie-signal.js');
const dataDir = join(DIST, '../bench/.data');

/** self time by function, and the share of a few known costs, from a V8 CPU profile */
function summarize(profile: unknown): string {
  const p = profile as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  const key = (id: number) => {
    const f = byId.get(id)!.callFrame;
    return `${f.functionName || '(anonymous)'}${f.url ? ` ${f.url.split('/').pop()}:${f.lineNumber + 1}` : ''}`;
  };
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    self.set(key(id), (self.get(key(id)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(cur);
      if (!seen.has(k)) incl.set(k, (incl.get(k) ?? 0) + dt);
      seen.add(k);
    }
  });
  const top = (mp: Map<string, number>, n: number) =>
    [...mp]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `    ${((100 * v) / total).toFixed(1).padStart(5)} % ${(v / 1e6).toFixed(2).padStart(6)} s  ${k}`)
      .join('\n');
  return `  profile, ${(total / 1e6).toFixed(1)} s of the main thread; self:\n${top(self, 14)}\n  inclusive:\n${top(incl, 14)}`;
}

const ch = new Children();
const line = (v: Variant, r: BrowserCeilingRun | PageRun) => {
  const c = r.chrome;
  const p = r as PageRun;
  const extra =
    what === 'raw'
      ? ` drops ${(r as BrowserCeilingRun).dropsChrome}, sender CPU ${(r as BrowserCeilingRun).cpuSendS?.toFixed(2)} s`
      : ` heap ${p.heapPeakMB?.toFixed(2)} MB, host CPU ${p.cpuHostS?.toFixed(2)} s`;
  return `${label(v)}: ${r.mbps.toFixed(2)} MB/s,${extra}, machine busy ${c?.machineBusy?.toFixed(2)}\n  CPU s ${JSON.stringify(c?.kinds)}\n  threads ${JSON.stringify(c?.threads)}`;
};
const results = variants.map(() => [] as (BrowserCeilingRun | PageRun)[]);
let blank: Awaited<ReturnType<typeof startBlankServer>> | undefined;
try {
  if (what === 'raw') {
    blank = await startBlankServer();
    for (let round = 0; round < rounds; round++) {
      for (const [i, v] of variants.entries()) {
        const r = await browserCeilingRun(ch, join(DIST, 'bench/raw-peer.js'), blank.url, bytes, {
          mtu: v.mtu ?? 1280,
          messageBytes: v.message ?? FRAME_BYTES,
          channels: v.channels,
          mode: v.mode,
          sctpSendBuffer: v.sctpSendBuffer,
          browser: { env: v.env, args: v.args },
        });
        results[i]!.push(r);
        process.stdout.write(`${line(v, r)}\n`);
      }
    }
  } else {
    const file = await randomFile(dataDir, bytes, (l) => process.stderr.write(`${l}\n`));
    // one signaling server per variant (its MOVIE_PAGE_DIR), started once
    const servers: { url: string; proc: Child }[] = [];
    for (const v of variants) {
      const proc = ch.spawn('movie-signal', process.execPath, [SIGNAL, '--host', '127.0.0.1', '--port', '0'], { env: v.pageDir ? { MOVIE_PAGE_DIR: v.pageDir } : {} });
      servers.push({ url: (await proc.waitFor(/listening on (http:\/\/\S+)/, 20_000))[1]!, proc });
    }
    for (let round = 0; round < rounds; round++) {
      for (const [i, v] of variants.entries()) {
        const url = servers[i]!.url;
        const r = await pageRun({
          pageUrl: url,
          size: bytes,
          heapSampleMs: 200,
          cpuProfile: v.profile,
          browser: { env: v.env, args: v.args, bypassCSP: v.bypassCSP },
          startHost: () => {
            const proc = ch.spawn('movie-share', process.execPath, [join(DIST, 'bin/movie-share.js'), file, '--signal', url, '--bind-address', '127.0.0.1', '--json']);
            return { proc, usage: () => Promise.resolve({}) };
          },
        });
        results[i]!.push(r);
        process.stdout.write(`${line(v, r)}\n`);
        if (r.profile) process.stdout.write(`${summarize(r.profile)}\n`);
        delete r.profile;
      }
    }
  }
} finally {
  await blank?.close();
  await ch.cleanup();
}
process.stdout.write(
  `\n${what}, ${(bytes / MiB).toFixed(0)} MiB, ${rounds} rounds (medians)\n| variant | MB/s | runs | Chromium CPU s/GiB by process | drops / heap MB |\n|---|---:|---|---|---:|\n`,
);
for (const [i, v] of variants.entries()) {
  const rs = results[i]!;
  const kinds = new Set(rs.flatMap((r) => Object.keys(r.chrome?.kinds ?? {})));
  const cpu = [...kinds]
    .map((k) => [k, median(rs.map((r) => r.chrome?.kinds[k] ?? 0)) / (bytes / (1024 * MiB))] as const)
    .filter(([, x]) => x >= 0.1)
    .map(([k, x]) => `${k} ${x.toFixed(1)}`)
    .join(', ');
  const last = rs.map((r) => (what === 'raw' ? (r as BrowserCeilingRun).dropsChrome : (r as PageRun).heapPeakMB?.toFixed(2))).join('/');
  process.stdout.write(`| ${label(v)} | ${median(rs.map((r) => r.mbps)).toFixed(2)} | ${rs.map((r) => r.mbps.toFixed(2)).join(' / ')} | ${cpu} | ${last} |\n`);
}
