/**
 * The benchmark (docs/PERFORMANCE.md): every row measured in one run, on one
 * machine, over loopback only, as medians of N runs. `bench/run.ts` is the CLI;
 * `test/system/bench-smoke.test.ts` runs a tiny version of the same code.
 *
 * Rows:
 *  1. ceiling      raw node-datachannel channel, two child processes, no crypto, no disk
 *  2. movie-share  the real CLIs (movie-signal, movie-share, movie-get) on a random file;
 *                  MB/s from "code entered" (movie-get spawned) to movie-get exit 0
 *  3. peak RSS     of both peers for the 1 GiB and the 4 GiB file (flatness)
 *  4. latency      code entered → first chunk received (movie-get's `first-byte` event)
 *  5. magic-wormhole through a local mailbox and transit relay (and wormhole-william if usable)
 *  6. limits       AES-256-GCM and SHA-256 on one core, TCP loopback between two processes
 *  7. browser      (bench/browser.ts) raw node-datachannel → Chromium, the CLI host → the
 *                  page (peer/web/), and the page's JS heap at two sizes
 * Rows 1–2 run at the library's default MTU and at `mtu: 4096`; the browser rows run
 * in the rounds of mtu 1280 (a browser peer's MTU).
 * Optional (--big): a sparse 5 GiB file end to end (64-bit offsets).
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TUNING } from '../common/config.js';
import { chooseMtu, localLinks } from '../peer/rtc/path-mtu.js';
import { CHUNK_OVERHEAD, chunkCount, decodeChunk, encodeChunk } from '../common/protocol/framing.js';
import { useCryptoBackend } from '../common/crypto/backend.js';
import { nodeCrypto } from '../peer/node/crypto.js';
import { Children, nowMs, parseJsonLine, tail, type Child } from './children.js';
import {
  browserCeilingRun,
  browserUnavailable,
  chromeCpuPerGiB,
  pageRun,
  servesPage,
  startBlankServer,
  type BrowserCeilingRun,
  type HostProcess,
  type PageRun,
} from './browser.js';

export const DIST = fileURLToPath(new URL('../', import.meta.url));
/**
 * The node flags a CLI's `#!/usr/bin/env -S node FLAGS` line gives it, so that
 * runs through `process.execPath` measure what the installed command runs.
 */
function shebangNodeFlags(file: string): string[] {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env -S node((?: +--\S+)*) *$/.exec(first);
  return m ? m[1]!.trim().split(/ +/).filter(Boolean) : [];
}

export const BIN = {
  // BENCH_SIGNAL_BIN: another signaling server to start (development: e.g. one that serves a page build)
  signal: process.env.BENCH_SIGNAL_BIN ?? join(DIST, 'bin/movie-signal.js'),
  share: join(DIST, 'bin/movie-share.js'),
  get: join(DIST, 'bin/movie-get.js'),
  raw: join(DIST, 'bench/raw-peer.js'),
  tcp: join(DIST, 'bench/tcp-peer.js'),
};
const MB = 1e6;
/** bytes of one chunk frame on the wire, as the product sends them by default */
export const FRAME_BYTES = DEFAULT_TUNING.chunkSize + CHUNK_OVERHEAD;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export interface BenchOptions {
  /** file size for rows 1, 2, 5 and 6 (default 1 GiB) */
  bytes: number;
  /** second size for the RSS flatness row (default 4 GiB); 0 = skip */
  rssBigBytes: number;
  /** runs per row; the median is reported */
  runs: number;
  /** MTUs for rows 1–2 (passed explicitly to both sides; libdatachannel's default is 1280) */
  mtus: number[];
  wormhole: boolean;
  /** install missing Debian packages (wormhole, time) with apt-get */
  install: boolean;
  /** sparse file for the --big row; 0 = skip */
  bigBytes: number;
  /** where test files live (random files are cached here between runs) */
  dataDir: string;
  /** bytes for the in-process crypto rows */
  cryptoBytes: number;
  /** the browser rows (Chromium, bench/browser.ts) */
  browser: boolean;
  log: (line: string) => void;
}

export const defaultOptions = (dataDir: string): BenchOptions => ({
  bytes: GiB,
  rssBigBytes: 4 * GiB,
  runs: 3,
  mtus: [LIBRARY_DEFAULT_MTU, 4096],
  wormhole: true,
  install: true,
  bigBytes: 0,
  dataDir,
  cryptoBytes: 512 * MiB,
  browser: true,
  log: (l) => process.stderr.write(`${l}\n`),
});

export interface Row {
  id: string;
  label: string;
  /** median MB/s (10^6 bytes per second) */
  mbps?: number;
  /** every run's MB/s */
  runs?: number[];
  ratio?: number;
  ratioTo?: string;
  /** other medians: seconds, latency, CPU seconds, RSS in MB… */
  details: Record<string, number | string | undefined>;
  skipped?: string;
}

export interface BenchResults {
  when: string;
  machine: { node: string; cpus: number; cpuModel: string; platform: string; loadavgStart: number[]; loadavgEnd: number[] };
  options: Omit<BenchOptions, 'log' | 'dataDir'>;
  productDefaultMtu: number;
  rows: Row[];
  notes: string[];
  /** every browser run in full (CPU by Chromium process and thread, drops, heap) */
  browserRuns?: { ceiling: BrowserCeilingRun[]; page: PageRun[]; pageHeapSmall: PageRun[] };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const round = (x: number | undefined, d = 1): number | undefined => (x === undefined || !Number.isFinite(x) ? undefined : Number(x.toFixed(d)));
export const medianOf = <T>(rs: T[], f: (r: T) => number | undefined): number | undefined => {
  const xs = rs.map(f).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return xs.length ? median(xs) : undefined;
};
/** libdatachannel's default MTU (RTC_DEFAULT_MTU, the IPv6 minimum) */
export const LIBRARY_DEFAULT_MTU = 1280;
/**
 * The MTU a movie-share host uses toward the page: a page cannot read its
 * interfaces, its net hint lists no links, so the host finds no shared link
 * (peer/web/browser-peer.ts, peer/rtc/path-mtu.ts). The browser rows run in the
 * rounds of this MTU, beside the CLI → CLI rows at the same MTU.
 */
export const BROWSER_MTU = 1280;
/**
 * The MTU movie-share picks when given no --mtu, here: both CLIs bound to
 * 127.0.0.1 share the loopback link (peer/rtc/path-mtu.ts), so 4096. The bench
 * runs that row without --mtu and checks the MTU the host reports.
 */
export const PRODUCT_MTU = DEFAULT_TUNING.mtu ?? chooseMtu(undefined, localLinks('127.0.0.1'), localLinks('127.0.0.1'), false).mtu;
const mtuName = (mtu: number) => `mtu ${mtu}${mtu === LIBRARY_DEFAULT_MTU ? ' (library default; ours on unknown paths)' : ''}`;
const mtuId = (mtu: number) => String(mtu);

// ---------------------------------------------------------------- where peers run

/**
 * Where the two peers of a run live: by default both on this machine, ICE bound
 * to 127.0.0.1; for the delay-line profiles (bench/profiles.ts) the sender in
 * namespace A and the receiver in B, each command prefixed with `ip netns exec NS`.
 */
export interface Place {
  /** argv prefix that runs a command where the sender / receiver lives ([] = here) */
  send: string[];
  recv: string[];
  /** --bind-address (CLIs) / --bind (raw-peer) of each side; undefined: none (the product's default) */
  bindSend?: string;
  bindRecv?: string;
  /** the slowest expected MB/s, for the runs' timeouts (default: 1 MB/s for the CLIs, 5 for the raw channel) */
  minMBps?: number;
}
export const LOOPBACK: Place = { send: [], recv: [], bindSend: '127.0.0.1', bindRecv: '127.0.0.1' };
/** `cmd args` run at `prefix` */
export const at = (prefix: string[], cmd: string, args: string[]): [string, string[]] => (prefix.length ? [prefix[0]!, [...prefix.slice(1), cmd, ...args]] : [cmd, args]);

// ---------------------------------------------------------------- tools

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : undefined;
}

function aptInstall(pkgs: string[], log: (l: string) => void): boolean {
  if (process.getuid?.() !== 0) {
    log(`bench: ${pkgs.join(' ')} missing and not root; skipping`);
    return false;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log(`bench: apt-get install -y ${pkgs.join(' ')}`);
  let r = spawnSync('apt-get', ['install', '-y', '-qq', ...pkgs], { env, stdio: 'ignore' });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' });
    r = spawnSync('apt-get', ['install', '-y', '-qq', ...pkgs], { env, stdio: 'ignore' });
  }
  return r.status === 0;
}

export interface Tools {
  time?: string;
  wormhole?: string;
  twist?: string;
  wormholeWilliam?: string;
}

export function findTools(opts: BenchOptions): Tools {
  const t: Tools = {};
  t.time = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  if (!t.time && opts.install && aptInstall(['time'], opts.log)) t.time = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  if (opts.wormhole) {
    const look = () => {
      t.wormhole = which('wormhole');
      t.twist = which('twist') ?? which('twist3');
      t.wormholeWilliam = which('wormhole-william');
    };
    look();
    const hasPlugins = () =>
      spawnSync(t.twist ?? 'false', ['transitrelay', '--help'], { stdio: 'ignore' }).status === 0 &&
      spawnSync(t.twist ?? 'false', ['wormhole-mailbox', '--help'], { stdio: 'ignore' }).status === 0;
    if (opts.install && (!t.wormhole || !t.twist || !t.wormholeWilliam || !hasPlugins())) {
      aptInstall(['magic-wormhole', 'python3-magic-wormhole-mailbox-server', 'magic-wormhole-transit-relay', 'wormhole-william'], opts.log);
      look();
    }
    if (t.twist && !hasPlugins()) t.twist = undefined;
  }
  return t;
}

/** `/usr/bin/time -v` output → peak RSS (MB) and CPU seconds. */
async function readTimeFile(path: string): Promise<{ rssMB?: number; cpuS?: number }> {
  try {
    const s = await readFile(path, 'utf8');
    const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(s);
    const user = /User time \(seconds\): ([\d.]+)/.exec(s);
    const sys = /System time \(seconds\): ([\d.]+)/.exec(s);
    return {
      rssMB: rss ? (Number(rss[1]) * 1024) / MB : undefined,
      cpuS: user && sys ? Number(user[1]) + Number(sys[1]) : undefined,
    };
  } catch {
    return {};
  }
}

interface Timed {
  proc: Child;
  /** peak RSS (MB) and CPU seconds, once the process has exited */
  usage(): Promise<{ rssMB?: number; cpuS?: number }>;
}

/**
 * Spawns `cmd args` under `/usr/bin/time -v -o timeFile` when available;
 * otherwise polls /proc/PID/status (VmHWM) and /proc/PID/stat while it runs.
 */
function spawnTimed(ch: Children, tools: Tools, name: string, timeFile: string, cmd: string, args: string[], stdin = false): Timed {
  if (tools.time) {
    const proc = ch.spawn(name, tools.time, ['-v', '-o', timeFile, cmd, ...args], { stdin });
    return { proc, usage: async () => (await proc.exited, readTimeFile(timeFile)) };
  }
  const proc = ch.spawn(name, cmd, args, { stdin });
  let rssKb = 0;
  let ticks = 0;
  const poll = () => {
    try {
      const st = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
      const m = /VmHWM:\s+(\d+) kB/.exec(st);
      if (m) rssKb = Math.max(rssKb, Number(m[1]));
      const fields = readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks = Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  };
  const timer = setInterval(poll, 50);
  poll();
  void proc.exited.then(() => clearInterval(timer));
  return {
    proc,
    usage: async () => {
      await proc.exited;
      return { rssMB: rssKb ? (rssKb * 1024) / MB : undefined, cpuS: ticks ? ticks / 100 : undefined };
    },
  };
}

// ---------------------------------------------------------------- files

/** A random file of `size` bytes, cached in dataDir by size. */
export async function randomFile(dataDir: string, size: number, log: (l: string) => void): Promise<string> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, `random-${size}.bin`);
  const st = await stat(path).catch(() => null);
  if (st?.size === size) return path;
  log(`bench: writing ${(size / MiB).toFixed(0)} MiB of random data to ${path}`);
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    const buf = Buffer.allocUnsafe(16 * MiB);
    for (let done = 0; done < size;) {
      const n = Math.min(buf.length, size - done);
      randomFillSync(buf, 0, n);
      await fh.write(buf, 0, n, done);
      done += n;
    }
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  return path;
}

/** A sparse file of `size` bytes (zeros, no disk blocks). */
async function sparseFile(dataDir: string, size: number): Promise<string> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, `sparse-${size}.bin`);
  const fh = await open(path, 'w');
  await fh.truncate(size);
  await fh.close();
  return path;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitPort(port: number, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------- row 6: limits

/** AES-256-GCM through the product's own framing (encodeChunk/decodeChunk), and SHA-256, one core. */
export function cryptoLimits(bytes: number): { encMBps: number; decMBps: number; shaMBps: number } {
  useCryptoBackend(nodeCrypto); // synchronous: the casts below hold
  const chunk = DEFAULT_TUNING.chunkSize;
  const key = randomBytes(32);
  const tid = randomBytes(16);
  const plain = randomBytes(chunk);
  const n = chunkCount(bytes, chunk);
  let t = nowMs();
  let frame = encodeChunk(key, tid, 0, false, plain) as Uint8Array;
  for (let i = 0; i < n; i++) frame = encodeChunk(key, tid, i, false, plain) as Uint8Array;
  const encMBps = (n * chunk) / MB / ((nowMs() - t) / 1000);
  const frames = Array.from({ length: 64 }, (_, i) => encodeChunk(key, tid, i, false, plain) as Uint8Array);
  t = nowMs();
  // frames 0..63 of a longer transfer (the count only bounds the index); synchronous here (node crypto): no promise to await
  for (let i = 0; i < n; i++) void decodeChunk(key, tid, 65, frames[i % 64]!);
  const decMBps = (n * chunk) / MB / ((nowMs() - t) / 1000);
  const h = createHash('sha256');
  t = nowMs();
  for (let i = 0; i < n; i++) h.update(plain);
  h.digest();
  const shaMBps = (n * chunk) / MB / ((nowMs() - t) / 1000);
  void frame;
  return { encMBps, decMBps, shaMBps };
}

export interface PairRun {
  mbps: number;
  seconds: number;
  cpuSendS?: number;
  cpuRecvS?: number;
  rssSendMB?: number;
  rssRecvMB?: number;
  maxMessageSize?: number;
}

export async function tcpRun(ch: Children, bytes: number, place: Place = LOOPBACK): Promise<PairRun> {
  const host = place.bindRecv ?? '127.0.0.1';
  const recv = ch.spawn('tcp-recv', ...at(place.recv, process.execPath, [BIN.tcp, 'recv', String(bytes), host]));
  let send: Child | undefined;
  try {
    const port = Number((await recv.waitFor(/"port":(\d+)/))[1]);
    send = ch.spawn('tcp-send', ...at(place.send, process.execPath, [BIN.tcp, 'send', String(bytes), String(port), host]));
    const start = parseJsonLine((await send.waitFor(/\{"t":"start".*\}/))[0])!;
    const done = parseJsonLine((await recv.waitFor(/\{"t":"done".*\}/, 600_000))[0])!;
    await Promise.all([recv.exited, send.exited]);
    const seconds = ((done.at as number) - (start.at as number)) / 1000;
    const cpu = done.cpu as { user: number; system: number };
    return { mbps: bytes / MB / seconds, seconds, cpuRecvS: (cpu.user + cpu.system) / 1e6, rssRecvMB: ((done.maxRssKb as number) * 1024) / MB };
  } finally {
    await ch.stop(recv, send);
  }
}

// ---------------------------------------------------------------- row 1: ceiling

export async function ceilingRun(ch: Children, bytes: number, mtu: number, messageBytes = FRAME_BYTES, place: Place = LOOPBACK, more: string[] = []): Promise<PairRun> {
  const extra = ['--mtu', String(mtu), '--message', String(messageBytes), ...more];
  const bind = (a: string | undefined) => (a ? ['--bind', a] : []);
  const send = ch.spawn('raw-send', ...at(place.send, process.execPath, [BIN.raw, 'send', String(bytes), ...extra, ...bind(place.bindSend)]), { stdin: true });
  const recv = ch.spawn('raw-recv', ...at(place.recv, process.execPath, [BIN.raw, 'recv', String(bytes), ...extra, ...bind(place.bindRecv)]), { stdin: true });
  try {
    const relay = (from: Child, to: Child) =>
      from.onLine((l) => {
        const m = parseJsonLine(l);
        if (m && (m.t === 'sdp' || m.t === 'cand')) to.write(l);
      });
    relay(send, recv);
    relay(recv, send);
    const timeoutMs = 60_000 + ((bytes / MB) * 1000) / (place.minMBps ?? 5);
    const startLine = await send.waitFor(/\{"t":"start".*\}/, 30_000);
    const sendDoneP = send.waitFor(/\{"t":"done".*\}/, timeoutMs);
    const doneLine = await recv.waitFor(/\{"t":"done".*\}/, timeoutMs);
    const sendDone = parseJsonLine((await sendDoneP)[0])!;
    const start = parseJsonLine(startLine[0])!;
    const done = parseJsonLine(doneLine[0])!;
    send.write(JSON.stringify({ t: 'quit' }));
    recv.write(JSON.stringify({ t: 'quit' }));
    await Promise.all([send.exited, recv.exited]);
    const seconds = ((done.at as number) - (start.at as number)) / 1000;
    const cpuS = (m: Record<string, unknown>) => {
      const c = m.cpu as { user: number; system: number };
      return (c.user + c.system) / 1e6;
    };
    return {
      mbps: bytes / MB / seconds,
      seconds,
      cpuSendS: cpuS(sendDone),
      cpuRecvS: cpuS(done),
      rssSendMB: ((sendDone.maxRssKb as number) * 1024) / MB,
      rssRecvMB: ((done.maxRssKb as number) * 1024) / MB,
      maxMessageSize: start.maxMessageSize as number,
    };
  } finally {
    await ch.stop(send, recv);
  }
}

// ---------------------------------------------------------------- row 2: movie-share

export interface ShareRun {
  mbps: number;
  /** code entered (movie-get spawned) → movie-get exit 0 */
  seconds: number;
  /** code entered → first chunk received */
  firstByteMs?: number;
  /** code entered → data channel connected (receiver) */
  connectedMs?: number;
  /** first chunk → verified, MB/s: the streaming part alone */
  streamMBps?: number;
  rssShareMB?: number;
  rssGetMB?: number;
  cpuShareS?: number;
  cpuGetS?: number;
  /** the MTU the host's connection used (its `connected` event) */
  hostMtu?: number;
}

/** movie-signal on 127.0.0.1, or (`where`) on `host` inside a namespace (`prefix` = `ip netns exec NS`) */
export async function startSignal(ch: Children, where?: { prefix: string[]; host: string }): Promise<{ url: string; proc: Child }> {
  const proc = ch.spawn('movie-signal', ...at(where?.prefix ?? [], process.execPath, [BIN.signal, '--host', where?.host ?? '127.0.0.1', '--port', '0']));
  const m = await proc.waitFor(/listening on (http:\/\/\S+)/, 20_000);
  return { url: m[1]!, proc };
}

export async function movieShareRun(
  ch: Children,
  tools: Tools,
  url: string,
  file: string,
  size: number,
  workDir: string,
  extra: string[],
  place: Place = LOOPBACK,
): Promise<ShareRun> {
  const tag = randomBytes(4).toString('hex');
  const out = join(workDir, `out-${tag}.bin`);
  const shareTime = join(workDir, `share-${tag}.time`);
  const getTime = join(workDir, `get-${tag}.time`);
  const common = ['--signal', url, '--json', ...extra];
  const bind = (a: string | undefined) => (a ? ['--bind-address', a] : []);
  const shareT = spawnTimed(
    ch,
    tools,
    'movie-share',
    shareTime,
    ...at(place.send, process.execPath, [...shebangNodeFlags(BIN.share), BIN.share, file, ...common, ...bind(place.bindSend)]),
  );
  const share = shareT.proc;
  let hostMtu: number | undefined;
  share.onLine((l) => {
    const ev = parseJsonLine(l);
    if (ev?.event === 'connected' && typeof ev.mtu === 'number') hostMtu = ev.mtu;
  });
  try {
    const codeEv = parseJsonLine((await share.waitFor(/\{"event":"code".*\}/, 30_000))[0])!;
    const code = codeEv.code as string;
    const t0 = nowMs();
    const getT = spawnTimed(
      ch,
      tools,
      'movie-get',
      getTime,
      ...at(place.recv, process.execPath, [...shebangNodeFlags(BIN.get), BIN.get, code, '-o', out, ...common, ...bind(place.bindRecv)]),
    );
    const get = getT.proc;
    let firstByteAt: number | undefined;
    let connectedAt: number | undefined;
    get.onLine((l) => {
      const ev = parseJsonLine(l);
      if (ev?.event === 'first-byte' && firstByteAt === undefined) firstByteAt = nowMs();
      if (ev?.event === 'connected' && connectedAt === undefined) connectedAt = nowMs();
    });
    const timeout = 120_000 + ((size / MB) * 1000) / (place.minMBps ?? 1);
    const timer = setTimeout(() => {
      get.kill();
      share.kill();
    }, timeout);
    const gc = await get.exited;
    const t1 = nowMs();
    const sc = await share.exited;
    clearTimeout(timer);
    if (gc !== 0) throw new Error(`movie-get exited ${gc}: ${tail(get.stderr())}`);
    if (sc !== 0) throw new Error(`movie-share exited ${sc} (movie-get succeeded): ${tail(share.stderr())}`);
    const st = await stat(out);
    if (st.size !== size) throw new Error(`output has ${st.size} bytes, expected ${size}`);
    const seconds = (t1 - t0) / 1000;
    const [s, g] = await Promise.all([shareT.usage(), getT.usage()]);
    return {
      mbps: size / MB / seconds,
      seconds,
      firstByteMs: firstByteAt !== undefined ? firstByteAt - t0 : undefined,
      connectedMs: connectedAt !== undefined ? connectedAt - t0 : undefined,
      streamMBps: firstByteAt !== undefined ? size / MB / ((t1 - firstByteAt) / 1000) : undefined,
      rssShareMB: s.rssMB,
      rssGetMB: g.rssMB,
      cpuShareS: s.cpuS,
      cpuGetS: g.cpuS,
      hostMtu,
    };
  } finally {
    share.kill();
    await rm(out, { force: true });
    await rm(`${out}.part`, { force: true });
    await rm(`${out}.part.json`, { force: true });
    await rm(shareTime, { force: true });
    await rm(getTime, { force: true });
  }
}

// ---------------------------------------------------------------- row 7: the browser

/**
 * `movie-share FILE` (under /usr/bin/time when available) → the page at `pageUrl`
 * (the signaling server's own origin), receiving in Chromium: bench/browser.ts.
 */
function pageShareRun(ch: Children, tools: Tools, url: string, file: string, size: number, workDir: string, heapSampleMs = 200): Promise<PageRun> {
  const tag = randomBytes(4).toString('hex');
  const timeFile = join(workDir, `page-share-${tag}.time`);
  return pageRun({
    pageUrl: url,
    size,
    heapSampleMs,
    startHost: (): HostProcess =>
      spawnTimed(ch, tools, 'movie-share', timeFile, process.execPath, [...shebangNodeFlags(BIN.share), BIN.share, file, '--signal', url, '--bind-address', '127.0.0.1', '--json']),
  }).finally(() => rm(timeFile, { force: true }));
}

// ---------------------------------------------------------------- row 5: magic-wormhole

export interface WormholeRun {
  mbps: number;
  seconds: number;
  rssSendMB?: number;
  rssRecvMB?: number;
  cpuSendS?: number;
  cpuRecvS?: number;
}

export interface WormholeServers {
  relayUrl: string;
  transit: string;
  db: string;
  procs: Child[];
}

/**
 * The mailbox and the transit relay, on 127.0.0.1 here, or (`where`) on `host`
 * inside a namespace (`prefix` = `ip netns exec NS`), reached from there.
 */
export async function startWormholeServers(ch: Children, tools: Tools, workDir: string, where?: { prefix: string[]; host: string }): Promise<WormholeServers> {
  const host = where?.host ?? '127.0.0.1';
  // a namespace of our own has every port free
  const mailboxPort = where ? 4001 : await freePort();
  const transitPort = where ? 4002 : await freePort();
  const db = join(workDir, `mailbox-${randomBytes(3).toString('hex')}.sqlite`);
  const mailbox = ch.spawn(
    'wormhole-mailbox',
    ...at(where?.prefix ?? [], tools.twist!, ['wormhole-mailbox', `--port=tcp:${mailboxPort}:interface=${host}`, `--channel-db=${db}`]),
    {
      cwd: workDir,
    },
  );
  const relay = ch.spawn('transit-relay', ...at(where?.prefix ?? [], tools.twist!, ['transitrelay', `--port=tcp:${transitPort}:interface=${host}`]), { cwd: workDir });
  if (where) await Promise.all([waitPortIn(where.prefix, host, mailboxPort), waitPortIn(where.prefix, host, transitPort)]);
  else await Promise.all([waitPort(mailboxPort), waitPort(transitPort)]);
  return { relayUrl: `ws://${host}:${mailboxPort}/v1`, transit: `tcp:${host}:${transitPort}`, db, procs: [mailbox, relay] };
}

/** Wait until something listens on host:port, seen from the namespace `prefix` runs in (bash's /dev/tcp). */
async function waitPortIn(prefix: string[], host: string, port: number, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (spawnSync(...at(prefix, 'bash', ['-c', `exec 3<>/dev/tcp/${host}/${port}`]), { stdio: 'ignore' }).status !== 0) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`nothing listens on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function wormholeRun(
  ch: Children,
  tools: Tools,
  srv: { relayUrl: string; transit: string },
  file: string,
  size: number,
  workDir: string,
  place: Place = LOOPBACK,
): Promise<WormholeRun> {
  const tag = randomBytes(4).toString('hex');
  const out = join(workDir, `wh-out-${tag}.bin`);
  const sendTime = join(workDir, `wh-send-${tag}.time`);
  const recvTime = join(workDir, `wh-recv-${tag}.time`);
  const code = `${1 + (randomBytes(2).readUInt16BE(0) % 900)}-bench-${tag}`;
  const global = ['--relay-url', srv.relayUrl, '--transit-helper', srv.transit];
  const sendT = spawnTimed(ch, tools, 'wormhole-send', sendTime, ...at(place.send, tools.wormhole!, [...global, 'send', '--no-listen', '--hide-progress', '--code', code, file]));
  const send = sendT.proc;
  try {
    await send.waitFor(/Wormhole code is|On the other computer/, 30_000);
    const t0 = nowMs();
    const recvT = spawnTimed(
      ch,
      tools,
      'wormhole-receive',
      recvTime,
      ...at(place.recv, tools.wormhole!, [...global, 'receive', '--no-listen', '--hide-progress', '--accept-file', '-o', out, code]),
    );
    const recv = recvT.proc;
    const timer = setTimeout(
      () => {
        recv.kill();
        send.kill();
      },
      120_000 + ((size / MB) * 1000) / (place.minMBps ?? 1),
    );
    const rc = await recv.exited;
    const t1 = nowMs();
    const sc = await send.exited;
    clearTimeout(timer);
    if (rc !== 0) throw new Error(`wormhole receive exited ${rc}: ${tail(recv.stderr())}`);
    if (sc !== 0) throw new Error(`wormhole send exited ${sc}: ${tail(send.stderr())}`);
    const st = await stat(out);
    if (st.size !== size) throw new Error(`wormhole output has ${st.size} bytes, expected ${size}`);
    const seconds = (t1 - t0) / 1000;
    const [s, r] = await Promise.all([sendT.usage(), recvT.usage()]);
    return { mbps: size / MB / seconds, seconds, rssSendMB: s.rssMB, rssRecvMB: r.rssMB, cpuSendS: s.cpuS, cpuRecvS: r.cpuS };
  } finally {
    send.kill();
    await rm(out, { force: true });
    await rm(sendTime, { force: true });
    await rm(recvTime, { force: true });
  }
}

// ---------------------------------------------------------------- the whole bench

/** failed runs, by row, retried (a busy machine sometimes times out an ICE check) */
const failures: string[] = [];

export interface Task<T> {
  what: string;
  f: () => Promise<T>;
  show: (r: T) => string;
}

/**
 * `n` rounds in which each task runs once, in order, so that rows compared with
 * each other (the raw ceiling, movie-share, magic-wormhole) run side by side:
 * this machine's speed drifts by tens of percent within minutes (other guests
 * share its host), which made ratios between rows measured minutes apart
 * meaningless. A failed run is logged and retried at once, at most max(n, 2)
 * failures per task; the failures are reported in the results' notes.
 */
export async function interleave<T extends unknown[]>(n: number, log: (l: string) => void, tasks: { [K in keyof T]: Task<T[K]> }): Promise<{ [K in keyof T]: T[K][] }> {
  const list = tasks as unknown as Task<unknown>[];
  const out = list.map(() => [] as unknown[]);
  const failed = list.map(() => 0);
  for (let round = 0; round < n; round++) {
    for (const [i, t] of list.entries()) {
      for (;;) {
        try {
          const r = await t.f();
          out[i]!.push(r);
          log(`  ${t.what} run ${out[i]!.length}/${n}: ${t.show(r)}`);
          break;
        } catch (e) {
          failed[i]!++;
          const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
          failures.push(`${t.what}: ${msg}`);
          log(`  ${t.what} run failed (${failed[i]}): ${msg}`);
          if (failed[i]! >= Math.max(n, 2)) throw e;
        }
      }
    }
  }
  return out as unknown as { [K in keyof T]: T[K][] };
}

/** `n` successful runs of one task (see interleave). */
async function repeat<T>(n: number, log: (l: string) => void, what: string, f: () => Promise<T>, show: (r: T) => string): Promise<T[]> {
  const [rs] = await interleave<[T]>(n, log, [{ what, f, show }]);
  return rs;
}

/** Median of the per-round ratios a[i] / b[i] (runs of one interleave() call). */
export function pairedRatio(a: (number | undefined)[], b: (number | undefined)[]): number | undefined {
  const rs = a.map((x, i) => (x !== undefined && b[i] ? x / b[i] : undefined)).filter((x): x is number => x !== undefined);
  return rs.length ? median(rs) : undefined;
}

/** The browser ceiling and page rows from runs of one interleave() call (bench/browser.ts). */
function browserRows(b: { ceiling: BrowserCeilingRun[]; page: PageRun[]; share?: ShareRun[] }, bytes: number, sizeName: string, pageSkip: string | undefined): Row[] {
  const perGiB = (s: number | undefined) => (s === undefined ? undefined : round(s / (bytes / GiB), 2));
  const kinds = (runs: (BrowserCeilingRun | PageRun)[]) =>
    Object.fromEntries(Object.entries(chromeCpuPerGiB(runs, bytes, median)).map(([k, v]) => [`cpuSPerGiB${k[0]!.toUpperCase()}${k.slice(1)}`, v]));
  const busy = (runs: (BrowserCeilingRun | PageRun)[]) =>
    round(
      medianOf(runs, (r) => r.chrome?.machineBusy),
      2,
    );
  const cs = b.ceiling;
  const rows: Row[] = [
    {
      id: 'browser-ceiling',
      label: `browser ceiling: raw node-datachannel → Chromium data channel, mtu ${BROWSER_MTU}, ${sizeName}`,
      mbps: round(medianOf(cs, (r) => r.mbps)),
      runs: cs.map((r) => round(r.mbps)!),
      details: {
        seconds: round(
          medianOf(cs, (r) => r.seconds),
          2,
        ),
        cpuSPerGiBSend: perGiB(medianOf(cs, (r) => r.cpuSendS)),
        ...kinds(cs),
        udpDrops: round(
          medianOf(cs, (r) => r.dropsChrome),
          0,
        ),
        machineBusy: busy(cs),
        maxMessageSize: cs[0]?.maxMessageSize,
        messageBytes: FRAME_BYTES,
      },
    },
  ];
  if (pageSkip) {
    rows.push({ id: 'page', label: 'movie-share CLI → the page (Chromium)', details: {}, skipped: pageSkip });
    return rows;
  }
  const ps = b.page;
  const mbps = medianOf(ps, (r) => r.mbps);
  const ratio = pairedRatio(
    ps.map((r) => r.mbps),
    cs.map((r) => r.mbps),
  );
  const met = ratio !== undefined && mbps !== undefined && ratio >= PAGE_GOAL.ratio && mbps >= PAGE_GOAL.mbps;
  const share = b.share ?? [];
  rows.push({
    id: 'page',
    label: `movie-share CLI → the page (Chromium, OPFS, verified), host "connected" → "done" (the page verified), ${sizeName}`,
    mbps: round(mbps),
    runs: ps.map((r) => round(r.mbps)!),
    ratio: round(ratio, 2),
    ratioTo: 'browser-ceiling, run by run',
    details: {
      goal: `≥ ${PAGE_GOAL.ratio} × ceiling and ≥ ${PAGE_GOAL.mbps} MB/s: ${met ? 'met' : 'missed'}`,
      seconds: round(
        medianOf(ps, (r) => r.seconds),
        2,
      ),
      streamMBps: round(medianOf(ps, (r) => r.streamMBps)),
      [`vsCli${BROWSER_MTU}Streaming`]: share.length
        ? round(
            pairedRatio(
              ps.map((r) => r.streamMBps),
              share.map((r) => r.streamMBps),
            ),
            2,
          )
        : undefined,
      ratioRuns: ps.map((r, i) => (cs[i] ? round(r.mbps / cs[i].mbps, 2) : '?')).join('/'),
      cpuSPerGiBHost: perGiB(medianOf(ps, (r) => r.cpuHostS)),
      ...kinds(ps),
      machineBusy: busy(ps),
      heapPeakMB: round(medianOf(ps, (r) => r.heapPeakMB)),
      hostMtu: [...new Set(ps.map((r) => r.hostMtu))].join('/'),
    },
  });
  return rows;
}

/** the page's goals: it receives at ≥ 0.8 × the browser's raw ceiling, and at ≥ 2 MB/s */
export const PAGE_GOAL = { ratio: 0.8, mbps: 2 };

/** CPU seconds per GiB moved. */
export const cpuPerGiB = (s: number | undefined, bytes: number): number | undefined => (s === undefined ? undefined : round(s / (bytes / GiB), 2));

/** What every row of two peer processes reports: median seconds, each side's CPU s/GiB and peak RSS. */
export const pairDetails = (rs: Pick<PairRun, 'seconds' | 'cpuSendS' | 'cpuRecvS' | 'rssSendMB' | 'rssRecvMB'>[], bytes: number) => ({
  seconds: round(
    medianOf(rs, (r) => r.seconds),
    2,
  ),
  cpuSPerGiBSend: cpuPerGiB(
    medianOf(rs, (r) => r.cpuSendS),
    bytes,
  ),
  cpuSPerGiBRecv: cpuPerGiB(
    medianOf(rs, (r) => r.cpuRecvS),
    bytes,
  ),
  rssSendMB: round(medianOf(rs, (r) => r.rssSendMB)),
  rssRecvMB: round(medianOf(rs, (r) => r.rssRecvMB)),
});

export async function runBench(opts: BenchOptions, ch: Children = new Children()): Promise<BenchResults> {
  const { log } = opts;
  const loadavgStart = loadavg().map((x) => round(x, 2)!);
  const rows: Row[] = [];
  const notes: string[] = [];
  let browserRunsOut: BenchResults['browserRuns'];
  let closeBlank: (() => Promise<void>) | undefined;
  const workDir = opts.dataDir;
  await mkdir(workDir, { recursive: true });
  const tools = findTools(opts);
  if (!tools.time) notes.push('/usr/bin/time not available: peak RSS and CPU of the CLIs polled from /proc (VmHWM) every 50 ms');
  const gib = (b: number) => (b >= GiB ? `${(b / GiB).toFixed(b % GiB ? 1 : 0)} GiB` : `${(b / MiB).toFixed(0)} MiB`);
  const sizeName = gib(opts.bytes);
  try {
    const file = await randomFile(workDir, opts.bytes, log);

    // 6. physical limits (first: nothing else runs)
    log('bench: limits (AES-256-GCM, SHA-256, TCP loopback)');
    const cr = [];
    for (let i = 0; i < opts.runs; i++) cr.push(cryptoLimits(opts.cryptoBytes));
    rows.push({
      id: 'limit-aes-enc',
      label: 'AES-256-GCM encrypt, 1 core (64 KiB chunks, framing.ts)',
      mbps: round(medianOf(cr, (r) => r.encMBps)),
      runs: cr.map((r) => round(r.encMBps)!),
      details: {},
    });
    rows.push({
      id: 'limit-aes-dec',
      label: 'AES-256-GCM decrypt, 1 core (64 KiB chunks, framing.ts)',
      mbps: round(medianOf(cr, (r) => r.decMBps)),
      runs: cr.map((r) => round(r.decMBps)!),
      details: {},
    });
    rows.push({ id: 'limit-sha256', label: 'SHA-256, 1 core', mbps: round(medianOf(cr, (r) => r.shaMBps)), runs: cr.map((r) => round(r.shaMBps)!), details: {} });
    const tcp = await repeat(
      opts.runs,
      log,
      'tcp',
      () => tcpRun(ch, opts.bytes),
      (r) => `${r.mbps.toFixed(0)} MB/s`,
    );
    rows.push({
      id: 'limit-tcp',
      label: `TCP loopback, two node processes, ${sizeName}`,
      mbps: round(medianOf(tcp, (r) => r.mbps)),
      runs: tcp.map((r) => round(r.mbps)!),
      details: {
        recvCpuSPerGiB: cpuPerGiB(
          medianOf(tcp, (r) => r.cpuRecvS),
          opts.bytes,
        ),
      },
    });

    // 1 + 2 (+ 5, 7). For each MTU, rounds of: the raw ceiling, movie-share through
    // the CLIs and, at the product's MTU, magic-wormhole, at mtu 1280 the browser
    // rows; side by side in each round (see interleave), and each ratio a median
    // of per-round ratios.
    const sig = await startSignal(ch);
    const productMtu = PRODUCT_MTU;
    const wormholeSkip = !opts.wormhole ? 'disabled' : !tools.wormhole || !tools.twist ? 'magic-wormhole or its servers are not installed' : undefined;
    const srv = wormholeSkip ? undefined : await startWormholeServers(ch, tools, workDir);
    const browserSkip = !opts.browser ? 'disabled (--no-browser)' : await browserUnavailable();
    const blank = browserSkip ? undefined : await startBlankServer();
    closeBlank = blank ? () => blank.close() : undefined;
    const pageSkip =
      browserSkip ??
      ((await servesPage(sig.url)) ? undefined : `the signaling server at ${sig.url} does not serve the page at / (dist/bin/web): the page rows need a movie-signal that does`);
    if (browserSkip) log(`bench: browser rows skipped: ${browserSkip}`);
    else if (pageSkip) log(`bench: page rows skipped: ${pageSkip}`);
    const browserTask: Task<BrowserCeilingRun> = {
      what: 'browser ceiling',
      f: () => browserCeilingRun(ch, BIN.raw, blank!.url, opts.bytes, { mtu: BROWSER_MTU, messageBytes: FRAME_BYTES }),
      show: (r) => `${r.mbps.toFixed(1)} MB/s (Chromium dropped ${r.dropsChrome} datagrams)`,
    };
    const pageTask: Task<PageRun> = {
      what: 'page',
      f: () => pageShareRun(ch, tools, sig.url, file, opts.bytes, workDir),
      show: (r) => `${r.mbps.toFixed(1)} MB/s, JS heap peak ${r.heapPeakMB?.toFixed(1)} MB`,
    };
    let browserRuns: { ceiling: BrowserCeilingRun[]; page: PageRun[]; share?: ShareRun[] } | undefined;
    let rss1: { share?: number; get?: number } | undefined;
    let productRuns: ShareRun[] = [];
    let wormholeRuns: WormholeRun[] = [];
    try {
      for (const mtu of opts.mtus) {
        const isProduct = mtu === productMtu;
        const withBrowser = !browserSkip && mtu === BROWSER_MTU;
        const extra = isProduct ? [] : ['--mtu', String(mtu)];
        const ceilingTask: Task<PairRun> = { what: 'ceiling', f: () => ceilingRun(ch, opts.bytes, mtu), show: (r) => `${r.mbps.toFixed(1)} MB/s` };
        const shareTask: Task<ShareRun> = {
          what: 'movie-share',
          f: () => movieShareRun(ch, tools, sig.url, file, opts.bytes, workDir, extra),
          show: (r) => `${r.mbps.toFixed(1)} MB/s, first byte ${r.firstByteMs?.toFixed(0)} ms, RSS ${r.rssShareMB?.toFixed(0)}/${r.rssGetMB?.toFixed(0)} MB`,
        };
        const wormholeTask: Task<WormholeRun> | undefined =
          isProduct && srv ? { what: 'wormhole', f: () => wormholeRun(ch, tools, srv, file, opts.bytes, workDir), show: (r) => `${r.mbps.toFixed(1)} MB/s` } : undefined;
        const slots = [ceilingTask, shareTask, wormholeTask, withBrowser ? browserTask : undefined, withBrowser && !pageSkip ? pageTask : undefined] as (
          Task<unknown> | undefined
        )[];
        const tasks = slots.filter((t) => t !== undefined);
        log(
          `bench: ${mtuName(mtu)}: raw ceiling, movie-share CLIs${isProduct ? ' (product default: no --mtu)' : ''}${wormholeTask ? ', magic-wormhole' : ''}${withBrowser ? `, browser ceiling${pageSkip ? '' : ', page'}` : ''}, in turn`,
        );
        const results = await interleave<unknown[]>(opts.runs, log, tasks);
        /** the runs of slot i (none when that task did not run) */
        const of = <T>(i: number): T[] => (slots[i] ? (results[tasks.indexOf(slots[i])] as T[]) : []);
        const cs = of<PairRun>(0);
        const rs = of<ShareRun>(1);
        if (wormholeTask) wormholeRuns = of<WormholeRun>(2);
        if (withBrowser) browserRuns = { ceiling: of<BrowserCeilingRun>(3), page: of<PageRun>(4), share: rs };
        rows.push({
          id: `ceiling-${mtuId(mtu)}`,
          label: `ceiling: raw data channel, ${mtuName(mtu)}, ${sizeName}`,
          mbps: round(medianOf(cs, (r) => r.mbps)),
          runs: cs.map((r) => round(r.mbps)!),
          details: {
            ...pairDetails(cs, opts.bytes),
            maxMessageSize: cs[0]?.maxMessageSize,
            messageBytes: FRAME_BYTES,
          },
        });
        const hostMtus = [...new Set(rs.map((r) => r.hostMtu))].join('/');
        if (isProduct && hostMtus !== String(mtu)) notes.push(`product-default row: the host reported MTU ${hostMtus}, expected ${mtu}`);
        if (isProduct) {
          productRuns = rs;
          rss1 = { share: medianOf(rs, (r) => r.rssShareMB), get: medianOf(rs, (r) => r.rssGetMB) };
        }
        const ceilingMbps = cs.map((c) => c.mbps);
        rows.push({
          id: `movie-share-${mtuId(mtu)}`,
          label: `movie-share CLIs, ${mtuName(mtu)}${isProduct ? ' (product default: no --mtu, chosen for loopback)' : ' (--mtu)'}, ${sizeName}`,
          mbps: round(medianOf(rs, (r) => r.mbps)),
          runs: rs.map((r) => round(r.mbps)!),
          ratio: round(
            pairedRatio(
              rs.map((r) => r.mbps),
              ceilingMbps,
            ),
            2,
          ),
          ratioTo: `ceiling-${mtuId(mtu)}, run by run`,
          details: {
            seconds: round(
              medianOf(rs, (r) => r.seconds),
              2,
            ),
            firstByteMs: round(
              medianOf(rs, (r) => r.firstByteMs),
              0,
            ),
            connectedMs: round(
              medianOf(rs, (r) => r.connectedMs),
              0,
            ),
            streamMBps: round(medianOf(rs, (r) => r.streamMBps)),
            streamRatio: round(
              pairedRatio(
                rs.map((r) => r.streamMBps),
                ceilingMbps,
              ),
              2,
            ),
            ratioRuns: rs.map((r, i) => round(r.mbps / cs[i]!.mbps, 2)).join('/'),
            cpuSPerGiBShare: cpuPerGiB(
              medianOf(rs, (r) => r.cpuShareS),
              opts.bytes,
            ),
            cpuSPerGiBGet: cpuPerGiB(
              medianOf(rs, (r) => r.cpuGetS),
              opts.bytes,
            ),
            rssShareMB: round(medianOf(rs, (r) => r.rssShareMB)),
            rssGetMB: round(medianOf(rs, (r) => r.rssGetMB)),
            hostMtu: hostMtus,
          },
        });
        if (withBrowser && browserRuns) rows.push(...browserRows(browserRuns, opts.bytes, sizeName, pageSkip));
      }
      if (!browserSkip && !browserRuns) {
        notes.push(`the browser rows ran in rounds of their own: --mtu has no ${BROWSER_MTU}, so there is no CLI → CLI row at the browser's MTU to compare with`);
        log('bench: browser ceiling and page, in turn');
        const tasks = (pageSkip ? [browserTask] : [browserTask, pageTask]) as Task<unknown>[];
        const [bcs, pgs] = await interleave<unknown[]>(opts.runs, log, tasks);
        browserRuns = { ceiling: bcs as BrowserCeilingRun[], page: (pgs ?? []) as PageRun[] };
        rows.push(...browserRows(browserRuns, opts.bytes, sizeName, pageSkip));
      }
      if (browserSkip) rows.push({ id: 'browser', label: 'browser rows (Chromium)', details: {}, skipped: browserSkip });
    } finally {
      if (srv) {
        await ch.stop(...srv.procs);
        for (const suffix of ['', '-wal', '-shm', '-journal']) await rm(`${srv.db}${suffix}`, { force: true });
      }
    }
    // 4. latency: the product-default row above (its file must be hashed
    // before the first chunk), and a 1 MiB file (the handshake alone)
    const fb = rows.find((r) => r.id === `movie-share-${mtuId(productMtu)}`);
    const small = await randomFile(workDir, MiB, log);
    log(`bench: latency, 1 MiB file, product default`);
    const lat = await repeat(
      opts.runs,
      log,
      'latency',
      () => movieShareRun(ch, tools, sig.url, small, MiB, workDir, []),
      (r) => `first byte ${r.firstByteMs?.toFixed(0)} ms (connected ${r.connectedMs?.toFixed(0)} ms)`,
    );
    rows.push({
      id: 'latency',
      label: `code entered → first chunk received, product default (1 MiB file${fb ? `; ${sizeName} file` : ''})`,
      details: {
        firstByteMs: round(
          medianOf(lat, (r) => r.firstByteMs),
          0,
        ),
        connectedMs: round(
          medianOf(lat, (r) => r.connectedMs),
          0,
        ),
        firstByteRunsMs: lat.map((r) => round(r.firstByteMs, 0)).join('/'),
        [`firstByteMs${sizeName.replace(' ', '')}`]: fb?.details.firstByteMs,
      },
    });

    // 3. RSS flatness: the big file at the product's default, medians like the 1 GiB row
    // (peak RSS of one run varies by ±20 MB with GC timing and disk writeback)
    if (opts.rssBigBytes > 0) {
      const big = await randomFile(workDir, opts.rssBigBytes, log);
      log(`bench: movie-share ${gib(opts.rssBigBytes)} for peak RSS`);
      const rs = await repeat(
        opts.runs,
        log,
        'rss',
        () => movieShareRun(ch, tools, sig.url, big, opts.rssBigBytes, workDir, []),
        (x) => `${x.mbps.toFixed(1)} MB/s, RSS ${x.rssShareMB?.toFixed(0)}/${x.rssGetMB?.toFixed(0)} MB`,
      );
      const r = {
        rssShareMB: medianOf(rs, (x) => x.rssShareMB),
        rssGetMB: medianOf(rs, (x) => x.rssGetMB),
        mbps: medianOf(rs, (x) => x.mbps),
      };
      const flat = (a?: number, b?: number) => (a && b ? round(b / a, 3) : undefined);
      rows.push({
        id: 'rss',
        label: `peak RSS MB, ${sizeName} vs ${gib(opts.rssBigBytes)} (host / receiver)`,
        details: {
          [`share${sizeName.replace(' ', '')}`]: round(rss1?.share),
          [`get${sizeName.replace(' ', '')}`]: round(rss1?.get),
          [`share${gib(opts.rssBigBytes).replace(' ', '')}`]: round(r.rssShareMB),
          [`get${gib(opts.rssBigBytes).replace(' ', '')}`]: round(r.rssGetMB),
          shareFlatness: flat(rss1?.share, r.rssShareMB),
          getFlatness: flat(rss1?.get, r.rssGetMB),
          bigMBps: round(r.mbps),
          bigRunsRssMB: rs.map((x) => `${round(x.rssShareMB)}/${round(x.rssGetMB)}`).join(' '),
        },
      });
      if (big !== file) await rm(big, { force: true }).catch(() => undefined);
    }

    // 7. the page's JS heap: a quarter of the file vs the page row's runs (same number of runs)
    let pageHeapSmall: PageRun[] = [];
    if (!pageSkip && browserRuns?.page.length) {
      const smallBytes = Math.max(MiB, Math.round(opts.bytes / 4 / MiB) * MiB);
      const smallFile = await randomFile(workDir, smallBytes, log);
      log(`bench: the page, ${gib(smallBytes)}, for its JS heap`);
      pageHeapSmall = await repeat(
        opts.runs,
        log,
        'page heap',
        () => pageShareRun(ch, tools, sig.url, smallFile, smallBytes, workDir),
        (r) => `${r.mbps.toFixed(1)} MB/s, JS heap peak ${r.heapPeakMB?.toFixed(1)} MB`,
      );
      const small = medianOf(pageHeapSmall, (r) => r.heapPeakMB);
      const bigHeap = medianOf(browserRuns.page, (r) => r.heapPeakMB);
      const ratioOf = (f: (r: PageRun) => number | undefined) => {
        const a = medianOf(pageHeapSmall, f);
        const b = medianOf(browserRuns.page, f);
        return a && b ? `${round(a, 2)} → ${round(b, 2)} (${round(b / a, 3)})` : undefined;
      };
      rows.push({
        id: 'page-heap',
        label: `the page's JS heap, peak MB (CDP Runtime.getHeapUsage every 200 ms), ${gib(smallBytes)} vs ${sizeName} received (others: small → big (big/small))`,
        details: {
          [`heap${gib(smallBytes).replace(' ', '')}MB`]: round(small, 2),
          [`heap${sizeName.replace(' ', '')}MB`]: round(bigHeap, 2),
          heapBigSmall: small && bigHeap ? round(bigHeap / small, 3) : undefined,
          heapRunsMB: `${pageHeapSmall.map((r) => round(r.heapPeakMB, 2)).join('/')} vs ${browserRuns.page.map((r) => round(r.heapPeakMB, 2)).join('/')}`,
          heapAfterGcMB: ratioOf((r) => r.heapAfterGcMB),
          backingPeakMB: ratioOf((r) => r.backingPeakMB),
          rendererRssMB: ratioOf((r) => r.rendererRssMB),
          smallMBps: round(medianOf(pageHeapSmall, (r) => r.mbps)),
        },
      });
      if (smallFile !== file) await rm(smallFile, { force: true }).catch(() => undefined);
    }
    if (browserRuns) browserRunsOut = { ceiling: browserRuns.ceiling, page: browserRuns.page, pageHeapSmall };

    // optional: sparse 5 GiB (64-bit offsets end to end)
    if (opts.bigBytes > 0) {
      const sparse = await sparseFile(workDir, opts.bigBytes);
      log(`bench: sparse ${gib(opts.bigBytes)} end to end`);
      try {
        const [r] = await repeat(
          1,
          log,
          'big',
          () => movieShareRun(ch, tools, sig.url, sparse, opts.bigBytes, workDir, []),
          (x) => `${x.mbps.toFixed(1)} MB/s`,
        );
        if (!r) throw new Error('the sparse run produced no result');
        rows.push({
          id: 'big-sparse',
          label: `movie-share, sparse ${gib(opts.bigBytes)} (64-bit offsets), verified`,
          mbps: round(r.mbps),
          runs: [round(r.mbps)!],
          details: { seconds: round(r.seconds, 1), rssShareMB: round(r.rssShareMB), rssGetMB: round(r.rssGetMB) },
        });
      } finally {
        await rm(sparse, { force: true });
      }
    }
    sig.proc.kill();

    // 5. magic-wormhole (its runs alternated with the product-default rows above)
    if (wormholeSkip) {
      rows.push({ id: 'wormhole', label: 'magic-wormhole (local mailbox + transit relay)', details: {}, skipped: wormholeSkip });
    } else {
      const rs = wormholeRuns;
      const mbps = medianOf(rs, (r) => r.mbps);
      rows.push({
        id: 'wormhole',
        label: `magic-wormhole 0.12 (local mailbox + transit relay, --no-listen), ${sizeName}`,
        mbps: round(mbps),
        runs: rs.map((r) => round(r.mbps)!),
        ratio: round(
          pairedRatio(
            productRuns.map((r) => r.mbps),
            rs.map((r) => r.mbps),
          ),
          2,
        ),
        ratioTo: 'movie-share (product default) / this, run by run',
        details: {
          ...Object.fromEntries(rows.filter((r) => r.id.startsWith('movie-share-') && r.mbps && mbps).map((r) => [`${r.id}/wormhole`, round(r.mbps! / mbps!, 2)])),
          ...pairDetails(rs, opts.bytes),
        },
      });
    }
    if (opts.wormhole) {
      rows.push({
        id: 'wormhole-william',
        label: 'wormhole-william',
        details: {},
        skipped: tools.wormholeWilliam
          ? 'cannot be pointed at a local transit relay (no --transit-helper; transit.magic-wormhole.io:4001 is built in) and has no --no-listen, so it would offer and dial non-loopback direct hints'
          : 'not installed',
      });
    }
  } finally {
    await closeBlank?.();
    await ch.cleanup();
  }
  return {
    ...emptyResults(opts, loadavgStart),
    rows,
    browserRuns: browserRunsOut,
    notes: [...notes, ...takeFailures()],
  };
}

/** the failed (and retried) runs since the last call, as notes */
export const takeFailures = (): string[] => failures.splice(0).map((f) => `retried after a failed run: ${f}`);

/** Results with no rows yet: the machine (load average now as the end) and the options. */
export function emptyResults(opts: BenchOptions, loadavgStart = loadavg().map((x) => round(x, 2)!)): BenchResults {
  return {
    when: new Date().toISOString(),
    machine: {
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '?',
      platform: `${process.platform}-${process.arch}`,
      loadavgStart,
      loadavgEnd: loadavg().map((x) => round(x, 2)!),
    },
    options: {
      bytes: opts.bytes,
      rssBigBytes: opts.rssBigBytes,
      runs: opts.runs,
      mtus: opts.mtus,
      wormhole: opts.wormhole,
      install: opts.install,
      bigBytes: opts.bigBytes,
      cryptoBytes: opts.cryptoBytes,
      browser: opts.browser,
    },
    productDefaultMtu: PRODUCT_MTU,
    rows: [],
    notes: [],
  };
}

// ---------------------------------------------------------------- table

const DETAIL_NAMES: Record<string, string> = {
  seconds: 's',
  firstByteMs: 'first byte ms',
  connectedMs: 'connected ms',
  streamMBps: 'streaming MB/s',
  streamRatio: 'streaming/ceiling',
  firstByteRunsMs: 'runs ms',
  cpuSPerGiBSend: 'CPU s/GiB send',
  cpuSPerGiBRecv: 'CPU s/GiB recv',
  cpuSPerGiBShare: 'CPU s/GiB share',
  cpuSPerGiBGet: 'CPU s/GiB get',
  rssSendMB: 'RSS send MB',
  rssRecvMB: 'RSS recv MB',
  rssShareMB: 'RSS share MB',
  rssGetMB: 'RSS get MB',
  recvCpuSPerGiB: 'CPU s/GiB recv',
  maxMessageSize: 'max msg',
  messageBytes: 'msg bytes',
  shareFlatness: 'share big/small',
  getFlatness: 'get big/small',
  bigMBps: 'big MB/s',
  cpuSPerGiBHost: 'CPU s/GiB host (connected → done)',
  cpuSPerGiBRenderer: 'CPU s/GiB renderer',
  cpuSPerGiBNetwork: 'CPU s/GiB network service',
  cpuSPerGiBBrowser: 'CPU s/GiB browser process',
  cpuSPerGiBStorage: 'CPU s/GiB storage service',
  cpuSPerGiBGpu: 'CPU s/GiB gpu',
  udpDrops: 'datagrams dropped (Chromium rcvbuf full)',
  machineBusy: 'machine busy',
  heapPeakMB: 'JS heap peak MB',
  vsCli1280Streaming: 'streaming vs CLI→CLI 1280',
  heapBigSmall: 'heap big/small',
  heapRunsMB: 'runs MB',
  heapAfterGcMB: 'heap after a full GC MB',
  backingPeakMB: 'ArrayBuffer backing stores peak MB',
  rendererRssMB: 'renderer peak RSS MB',
  smallMBps: 'small MB/s',
  lineCpuSPerGiB: 'line CPU s/GiB',
  directMBps: 'plain forwarding MB/s',
  sentMBps: 'sent MB/s',
  lostPct: 'lost %',
  ofLink: '÷ link',
  vsRaw: '÷ raw channel',
  lineLost: 'line: lost (random)',
  lineQueueDrops: 'line: queue drops',
  lineInputDrops: 'line: input drops',
};

export function formatTable(res: BenchResults): string {
  const lines = ['| row | MB/s (median) | runs | ratio | details |', '|---|---:|---|---:|---|'];
  for (const r of res.rows) {
    const det = r.skipped
      ? `skipped: ${r.skipped}`
      : Object.entries(r.details)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${DETAIL_NAMES[k] ?? k} ${v}`)
          .join(', ');
    const ratio = r.ratio !== undefined ? `${r.ratio}${r.ratioTo ? ` (vs ${r.ratioTo})` : ''}` : '';
    lines.push(`| ${r.label} | ${r.mbps ?? ''} | ${r.runs?.join(' / ') ?? ''} | ${ratio} | ${det} |`);
  }
  return lines.join('\n');
}

export { GiB, MiB, Children };
