/**
 * A reproducible network between the test namespaces (test/support/netns.ts):
 * delay, rate and loss on the A <-> B path through R, for UDP and TCP alike.
 * This kernel has no netem, so R runs a small C program (delay-line.c, next to
 * this file; why a TUN program, and its model, are in its top comment) that
 * holds each packet for the one-way delay, drops a seeded fraction and caps the
 * rate with its own bottleneck queue:
 *
 *     A ──eth-a── R ──eth-b── B
 *                 │ ip rule iif eth-a → dl-ab (TUN) → program → back into dl-ab → main table → eth-b
 *                 │ ip rule iif eth-b → dl-ba (TUN) → program → back into dl-ba → main table → eth-a
 *
 * Traffic to R's own addresses (movie-signal, coturn in R) is not delayed: the
 * local table comes before the policy rules. Put a server in B (or A) for its
 * traffic to cross the emulated path.
 *
 * Usage (root; `delayLineUnavailable()` says why not, without side effects):
 *
 *     import { Topology } from './netns.js';
 *     import { DelayLine, PROFILES } from './delay-line.js';
 *     const topo = await Topology.create();
 *     const line = await DelayLine.start(topo, PROFILES.lossy); // compiles delay-line.c once (gcc, cached in the temp dir)
 *     // ... A (198.18.1.2) and B (198.18.2.2) now talk over 50 Mbit/s, 40 ms RTT, 1 % loss
 *     await line.set(PROFILES.longhaul);                         // switch profile in place
 *     await line.set({ id: 'raw', label: 'no shaping', rttMs: 0, loss: 0 }); // pass-through (its ceiling)
 *     const s = await line.stats();                              // per direction: in, out, lost, overflow
 *     await line.stop();                                         // or topo.destroy(): it runs inside R
 *
 * Profiles are symmetric: each direction gets half the RTT, the full rate and
 * the loss probability (so a round trip loses ~2 × loss). The bottleneck queue
 * holds max(rate × RTT, 256 KiB) per direction (one bandwidth-delay product,
 * the classic router buffer), tail-dropped beyond.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { netnsUnavailable, run, type Topology } from './netns.js';

/** A link between A and B. */
export interface LinkProfile {
  id: string;
  label: string;
  /** bottleneck rate in Mbit/s (10^6 bit/s) each way; undefined = no cap */
  rateMbit?: number;
  /** round-trip time added by the line, ms (half each way) */
  rttMs: number;
  /** probability that a packet is dropped, each direction */
  loss: number;
  /** bottleneck queue per direction, bytes (default max(BDP, 256 KiB)) */
  limitBytes?: number;
}

export const PROFILES = {
  lan: { id: 'lan', label: 'LAN 1 Gbit/s, 0.5 ms RTT', rateMbit: 1000, rttMs: 0.5, loss: 0 },
  wan: { id: 'wan', label: 'WAN 200 Mbit/s, 20 ms RTT', rateMbit: 200, rttMs: 20, loss: 0 },
  longhaul: { id: 'longhaul', label: 'long-haul 100 Mbit/s, 120 ms RTT', rateMbit: 100, rttMs: 120, loss: 0 },
  lossy: { id: 'lossy', label: 'lossy 50 Mbit/s, 40 ms RTT, 1 % loss', rateMbit: 50, rttMs: 40, loss: 0.01 },
} as const satisfies Record<string, LinkProfile>;
export type ProfileId = keyof typeof PROFILES;

/** no delay, no loss, no cap: the line's own ceiling */
export const PASS_THROUGH: LinkProfile = { id: 'pass', label: 'delay line, no delay/loss/cap', rttMs: 0, loss: 0 };

export interface DirStats {
  in: number;
  out: number;
  lost: number;
  overflow: number;
  writeErrors: number;
  queued: number;
}

const SOURCE = fileURLToPath(new URL('../../../test/support/delay-line.c', import.meta.url));

/** Why the delay line cannot run here, or undefined (no side effects). */
export function delayLineUnavailable(): string | undefined {
  const ns = netnsUnavailable();
  if (ns) return ns;
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun (the delay line is a TUN program)';
  if (!existsSync(SOURCE)) return `the delay line's source is missing (${SOURCE})`;
  if (spawnSync('sh', ['-c', 'command -v gcc'], { stdio: 'ignore' }).status !== 0) return 'gcc is not installed (apt-get install gcc libc6-dev)';
  return undefined;
}

/** Compile delay-line.c (once per source version) into the temp dir; returns the binary's path. */
export function buildDelayLine(): string {
  const src = readFileSync(SOURCE);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'movie-share-delay-line');
  const bin = join(dir, `delay-line-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', tmp, SOURCE], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc delay-line.c failed: ${r.stderr || r.error?.message}`);
  renameSync(tmp, bin); // atomic: a concurrent build of the same source wins or loses whole
  return bin;
}

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

const settings = (p: LinkProfile, seed: number): string => {
  const rateBps = p.rateMbit ? Math.round(p.rateMbit * 1e6) : 0;
  const bdp = rateBps ? (rateBps / 8) * (p.rttMs / 1000) : 0;
  const limit = p.limitBytes ?? Math.max(Math.round(bdp), 256 * 1024);
  return `set delay_us=${Math.round((p.rttMs * 1000) / 2)} rate_bps=${rateBps} loss=${p.loss} limit=${limit} seed=${seed}`;
};

export class DelayLine {
  private lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  private stderr = '';
  private constructor(
    private readonly topo: Topology,
    private readonly child: ChildProcess,
    public profile: LinkProfile,
  ) {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const w = this.waiters.shift();
        if (w) w(l);
        else this.lines.push(l);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  private next(timeoutMs = 10_000): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`delay line: no answer in ${timeoutMs} ms (exit ${this.child.exitCode}): ${this.stderr}`)), timeoutMs);
      this.waiters.push((line) => {
        clearTimeout(t);
        resolve(line);
      });
    });
  }

  /**
   * Start the program in R, bring its two TUN devices up and route A<->B
   * traffic through them (policy rules on R's links to A and B), with `profile`.
   */
  static async start(topo: Topology, profile: LinkProfile = PASS_THROUGH, seed = 1): Promise<DelayLine> {
    const bin = buildDelayLine();
    const child = spawn('ip', ['netns', 'exec', topo.r, bin, 'dl-ab', 'dl-ba'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const line = new DelayLine(topo, child, profile);
    try {
      const ready = await line.next();
      if (!ready.includes('"ready"')) throw new Error(`delay line: unexpected ${ready}`);
      const ns = topo.r;
      for (const k of ['all', 'default', 'eth-a', 'eth-b', 'dl-ab', 'dl-ba']) await must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv4.conf.${k}.rp_filter=0`]);
      for (const dev of ['dl-ab', 'dl-ba']) await must('ip', ['-n', ns, 'link', 'set', dev, 'mtu', '1500', 'txqueuelen', '4096', 'up']);
      await must('ip', ['-n', ns, 'route', 'replace', 'default', 'dev', 'dl-ab', 'table', '101']);
      await must('ip', ['-n', ns, 'route', 'replace', 'default', 'dev', 'dl-ba', 'table', '102']);
      // replace-like: a second start in the same R finds the rules already there
      await run('ip', ['-n', ns, 'rule', 'del', 'pref', '1001']);
      await run('ip', ['-n', ns, 'rule', 'del', 'pref', '1002']);
      await must('ip', ['-n', ns, 'rule', 'add', 'pref', '1001', 'iif', 'eth-a', 'lookup', '101']);
      await must('ip', ['-n', ns, 'rule', 'add', 'pref', '1002', 'iif', 'eth-b', 'lookup', '102']);
      await line.set(profile, seed);
    } catch (e) {
      await line.stop();
      throw e;
    }
    return line;
  }

  /** Switch to `profile` (packets already held keep their due times). */
  async set(profile: LinkProfile, seed = 1): Promise<void> {
    this.child.stdin!.write(`${settings(profile, seed)}\n`);
    const ok = await this.next();
    if (!ok.includes('"set"')) throw new Error(`delay line: unexpected ${ok}`);
    this.profile = profile;
  }

  /** Packet counters per direction since start: ab = A → B, ba = B → A. */
  async stats(): Promise<{ ab: DirStats; ba: DirStats }> {
    this.child.stdin!.write('stats\n');
    const l = await this.next();
    return JSON.parse(l) as { ab: DirStats; ba: DirStats };
  }

  /** End the program (closing its stdin); its devices, and the routes through them, go with it. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await gone;
    clearTimeout(t);
    // without the devices the policy rules would send A<->B traffic into empty tables: drop them
    await run('ip', ['-n', this.topo.r, 'rule', 'del', 'pref', '1001']);
    await run('ip', ['-n', this.topo.r, 'rule', 'del', 'pref', '1002']);
  }
}
