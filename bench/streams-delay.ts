/**
 * Striping across the delay line (docs/PERFORMANCE.md, "High round-trip
 * times"): the real CLIs, movie-share in namespace A and movie-get in B,
 * movie-signal on R's own address (not delayed), through the delay line's
 * profiles (test/support/delay-line.ts), variants in alternating rounds.
 * Root only (namespaces, TUN).
 *
 *   node dist/bench/streams-delay.js ROUNDS SIZE_MIB PROFILES VARIANTS
 *   e.g. node dist/bench/streams-delay.js 2 48 wan,longhaul '[{"name":"s1","share":["--streams","1"]},{"name":"default"}]'
 *
 * A variant: {name, share?: movie-share flags, get?: movie-get flags, env?: both CLIs' environment}.
 * Prints one line a run (MB/s from movie-get's first chunk to its exit, and
 * end to end from its spawn; packets through and dropped by the line) and the
 * medians. Every child is killed and every namespace deleted at the end, on
 * an error or on Ctrl-C.
 */
import { statSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomFile } from '../test/support/files.js';
import { BIN, Procs } from '../test/support/procs.js';
import { ADDR, Topology } from '../test/support/netns.js';
import { DelayLine, PROFILES, type ProfileId } from '../test/support/delay-line.js';

interface Variant {
  name: string;
  share?: string[];
  get?: string[];
  env?: Record<string, string>;
}

const [roundsArg, sizeArg, profilesArg, variantsArg] = process.argv.slice(2);
if (!roundsArg || !sizeArg || !profilesArg || !variantsArg) {
  process.stderr.write('usage: streams-delay.js ROUNDS SIZE_MIB PROFILES(wan,longhaul,lossy,lan) VARIANTS_JSON\n');
  process.exit(2);
}
const rounds = Number(roundsArg);
const size = Number(sizeArg) * 1024 * 1024;
const profiles = profilesArg.split(',') as ProfileId[];
const variants = JSON.parse(variantsArg) as Variant[];
for (const p of profiles) if (!(p in PROFILES)) throw new Error(`unknown profile ${p}`);

const src = join(tmpdir(), `movie-share-streams-delay-${size}.bin`);
try {
  if (statSync(src).size !== size) throw new Error('size');
} catch {
  await randomFile(src, size);
}
const procs = new Procs();
const topo = await Topology.create('msb');
let line: DelayLine | undefined;
const cleanup = async (): Promise<void> => {
  await procs.cleanup();
  await line?.stop();
  await topo.destroy();
};
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

const results = new Map<string, number[]>();
try {
  line = await DelayLine.start(topo, PROFILES[profiles[0]!]);
  const sig = procs.spawn('ip', ['netns', 'exec', topo.r, process.execPath, BIN.signal, '--host', ADDR.rA, '--port', '0']);
  const url = (await sig.waitFor(/listening on (http:\/\/\S+)/))[1]!;
  for (const p of profiles) {
    await line.set(PROFILES[p]);
    for (let r = 0; r < rounds; r++) {
      for (const v of variants) {
        const out = join(tmpdir(), `movie-share-streams-delay-out-${process.pid}`);
        const env = Object.entries(v.env ?? {}).map(([k, x]) => `${k}=${x}`);
        const cli = (ns: string, bin: string, args: string[]) =>
          procs.spawn('ip', ['netns', 'exec', ns, 'env', ...env, process.execPath, '--initial-old-space-size=64', bin, ...args, '--signal', url, '--json']);
        const before = await line.stats();
        const s = cli(topo.a, BIN.share, [src, ...(v.share ?? [])]);
        const code = (await s.waitFor(/"event":"code","code":"([^"]+)"/))[1]!;
        const t0 = Date.now();
        const g = cli(topo.b, BIN.get, [code, '-o', out, ...(v.get ?? [])]);
        let first: number | undefined;
        g.waitFor(/"event":"first-byte"/, 600_000).then(
          () => (first = Date.now()),
          () => undefined,
        );
        const [gc, sc] = await Promise.all([g.exited, s.exited]);
        const t1 = Date.now();
        const after = await line.stats();
        let ok = gc === 0 && sc === 0;
        try {
          ok &&= statSync(out).size === size;
        } catch {
          ok = false;
        }
        rmSync(out, { force: true });
        const mbps = ok && first !== undefined ? size / 1e6 / ((t1 - first) / 1000) : 0;
        const key = `${p} ${v.name}`;
        results.set(key, [...(results.get(key) ?? []), mbps]);
        const through = `A→B ${after.ab.in - before.ab.in} packets, ${after.ab.lost - before.ab.lost} lost, ${after.ab.overflow - before.ab.overflow} tail-dropped`;
        process.stdout.write(
          `${key} round ${r}: ${ok ? '' : `FAILED (exit ${gc}/${sc}) `}${mbps.toFixed(1)} MB/s streaming, ${(size / 1e6 / ((t1 - t0) / 1000)).toFixed(1)} end to end; ${through}\n`,
        );
      }
    }
  }
  for (const [key, xs] of results) {
    const sorted = [...xs].sort((a, b) => a - b);
    process.stdout.write(`median ${key}: ${sorted[Math.floor((sorted.length - 1) / 2)]!.toFixed(1)} MB/s (${xs.map((x) => x.toFixed(1)).join(' / ')})\n`);
  }
} finally {
  await cleanup();
}
