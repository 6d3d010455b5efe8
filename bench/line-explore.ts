/**
 * Variants of one row across the delay line (bench/profiles.ts), in
 * alternating rounds, to find what bounds a profile (docs/PERFORMANCE.md,
 * "Across an emulated network"):
 *
 *   node dist/bench/line-explore.js PROFILE SIZE ROUNDS VARIANT...
 *
 * PROFILE: lan, wan, longhaul, lossy (test/support/delay-line.ts), or RATE_MBIT:RTT_MS:LOSS
 * (e.g. 0:120:0, a 120 ms path with no rate cap); SIZE e.g. 64M.
 * A VARIANT is `raw` followed by raw-peer flags (bench/raw-peer.ts, given to both
 * sides, e.g. 'raw --sctp-send-buffer 4194304 --sctp-recv-buffer 4194304'),
 * `share` followed by CLI flags (movie-share and movie-get, e.g. 'share --mtu 1400'),
 * or `wormhole`. Prints each run, then per variant the median MB/s and the
 * median per-round ratio to the first variant.
 */
import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ADDR, Topology } from '../test/support/netns.js';
import { DelayLine, PROFILES, type LinkProfile, type ProfileId } from '../test/support/delay-line.js';
import { Children } from './children.js';
import {
  ceilingRun,
  defaultOptions,
  findTools,
  interleave,
  LIBRARY_DEFAULT_MTU,
  MiB,
  median,
  movieShareRun,
  pairedRatio,
  randomFile,
  startSignal,
  startWormholeServers,
  wormholeRun,
  type Task,
} from './lib.js';

const [profileArg, sizeArg, roundsArg, ...variants] = process.argv.slice(2);
/** a profile's name, or RATE_MBIT:RTT_MS:LOSS (rate 0: no cap) for a path between them */
function profileOf(arg: string | undefined): LinkProfile | undefined {
  if (arg && arg in PROFILES) return PROFILES[arg as ProfileId];
  const m = arg?.match(/^([\d.]+):([\d.]+):([\d.]+)$/);
  if (!m) return undefined;
  const [rateMbit, rttMs, loss] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return { id: 'custom', label: `${rateMbit || 'no cap'} Mbit/s, ${rttMs} ms, ${loss * 100} % loss`, ...(rateMbit ? { rateMbit } : {}), rttMs, loss };
}
const profile = profileOf(profileArg);
if (!profile || !sizeArg || !roundsArg || !variants.length) {
  process.stderr.write('usage: line-explore.js lan|wan|longhaul|lossy|RATE_MBIT:RTT_MS:LOSS SIZE_MiB ROUNDS VARIANT...\n');
  process.exit(2);
}
const bytes = Math.round(Number(sizeArg.replace(/M$/i, '')) * MiB);
const rounds = Number(roundsArg);
const dataDir = fileURLToPath(new URL('../../bench/.data', import.meta.url));
const log = (l: string) => process.stderr.write(`${l}\n`);
const ch = new Children();
const opts = { ...defaultOptions(dataDir), install: false, log };
await mkdir(dataDir, { recursive: true });
const topo = await Topology.create('mse');
const tools = findTools(opts);
try {
  const line = await DelayLine.start(topo, profile);
  const a = ['ip', 'netns', 'exec', topo.a];
  const b = ['ip', 'netns', 'exec', topo.b];
  const file = await randomFile(dataDir, bytes, log);
  const sig = await startSignal(ch, { prefix: b, host: ADDR.b });
  const needsWormhole = variants.some((v) => v.trim() === 'wormhole');
  const srv = needsWormhole ? await startWormholeServers(ch, tools, dataDir, { prefix: b, host: ADDR.b }) : undefined;
  const tasks: Task<{ mbps: number; streamMBps?: number }>[] = variants.map((v) => {
    const [kind, ...flags] = v.trim().split(/\s+/);
    const f =
      kind === 'raw'
        ? () => ceilingRun(ch, bytes, LIBRARY_DEFAULT_MTU, undefined, { send: a, recv: b, bindSend: ADDR.a, bindRecv: ADDR.b, minMBps: 0.1 }, flags)
        : kind === 'share'
          ? () => movieShareRun(ch, tools, sig.url, file, bytes, dataDir, flags, { send: a, recv: b, minMBps: 0.1 })
          : kind === 'wormhole' && srv
            ? () => wormholeRun(ch, tools, srv, file, bytes, dataDir, { send: a, recv: b, minMBps: 0.1 })
            : undefined;
    if (!f) throw new Error(`unknown variant ${v}`);
    return { what: v, f, show: (r) => `${r.mbps.toFixed(2)} MB/s${r.streamMBps ? ` (streaming ${r.streamMBps.toFixed(2)})` : ''}` };
  });
  const results = await interleave<{ mbps: number; streamMBps?: number }[]>(rounds, log, tasks);
  const first = results[0]!.map((r) => r.mbps);
  for (const [i, v] of variants.entries()) {
    const xs = results[i]!.map((r) => r.mbps);
    const ratio = pairedRatio(xs, first);
    process.stdout.write(`${v}: ${median(xs).toFixed(2)} MB/s (${xs.map((x) => x.toFixed(2)).join(' / ')}), × first ${ratio?.toFixed(2)}\n`);
  }
  // where packets were lost, if anywhere: the line's counters, and UDP receive-buffer overflows in A and B
  process.stdout.write(`delay line: ${JSON.stringify(await line.stats())}\n`);
  for (const [name, prefix] of [
    ['A', a],
    ['B', b],
  ] as const) {
    const snmp = spawnSync(prefix[0]!, [...prefix.slice(1), 'cat', '/proc/net/snmp'], { encoding: 'utf8' }).stdout.split('\n');
    const [head, vals] = snmp.filter((l) => l.startsWith('Udp:'));
    const udp = Object.fromEntries(
      head!
        .split(/\s+/)
        .slice(1)
        .map((k, i) => [k, vals!.split(/\s+/)[i + 1]]),
    );
    process.stdout.write(`${name} UDP: InDatagrams ${udp.InDatagrams}, RcvbufErrors ${udp.RcvbufErrors}, InErrors ${udp.InErrors}\n`);
  }
  await line.stop();
} finally {
  await ch.cleanup();
  await topo.destroy();
}
