/**
 * The browser rows of the benchmark (docs/PERFORMANCE.md, "The browser"), on
 * Debian's Chromium driven by playwright-core:
 *
 *  - ceiling: bench/raw-peer.ts as the sender (node-datachannel, no crypto, no
 *    disk, the product's frame size and backpressure) → a Chromium
 *    RTCPeerConnection in a blank page that only counts bytes. The bench page is
 *    served by a tiny static server on 127.0.0.1 (a secure context, as the real
 *    page needs); the SDP goes through `page.evaluate`, no signaling server.
 *  - page: a `movie-share` CLI host → the real page (peer/web/) receiving through
 *    the real signaling server, staged in OPFS (no save picker), verified and
 *    offered as a download; with the page's JS heap sampled over CDP.
 *
 * Every run gets a fresh browser with a fresh on-disk profile
 * (`launchPersistentContext`): a real user's OPFS is on disk, an incognito
 * context's is in memory. CPU is read from /proc for every Chromium process
 * this bench started (descendants of this process), by process type and, for
 * the busiest ones, by thread: what bounds the browser path.
 *
 * Browser-side code is plain JavaScript in strings (this file is compiled
 * without the DOM library).
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import type { Child, Children } from './children.js';
import { nowMs, parseJsonLine, tail } from './children.js';

export const CHROMIUM = process.env.BENCH_CHROMIUM ?? '/usr/bin/chromium';
import { CHROMIUM_ARGS } from '../test/support/browser.js';
const MB = 1e6;
const GiB = 1024 * 1024 * 1024;

// ---------------------------------------------------------------- CPU of Chromium's processes and threads

/** clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux) */
const HZ = 100;

interface Proc {
  pid: number;
  ppid: number;
  /** utime + stime, ticks */
  ticks: number;
  /** cutime + cstime: of the children it has reaped */
  childTicks: number;
}

function readStat(path: string): { ppid: number; ticks: number; childTicks: number; comm: string } | undefined {
  try {
    const s = readFileSync(path, 'utf8');
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const f = s.slice(close + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), childTicks: Number(f[13]) + Number(f[14]), comm };
  } catch {
    return undefined;
  }
}

function allProcs(): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = readStat(`/proc/${d}/stat`);
    if (st) out.push({ pid: Number(d), ppid: st.ppid, ticks: st.ticks, childTicks: st.childTicks });
  }
  return out;
}

/** Chromium's process type, from its command line: browser, renderer, network, storage, gpu, zygote, … */
function chromeKind(pid: number): string | undefined {
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
  } catch {
    return undefined;
  }
  if (!args.some((a) => /chrom/i.test(a))) return undefined;
  const type = args.find((a) => a.startsWith('--type='))?.slice(7);
  if (!type) return 'browser';
  if (type === 'utility') {
    const sub = args.find((a) => a.startsWith('--utility-sub-type='))?.slice(19) ?? 'utility';
    if (/NetworkService/.test(sub)) return 'network';
    if (/StorageService/.test(sub)) return 'storage';
    return sub.replace(/\.mojom\..*$/, '');
  }
  if (type === 'gpu-process') return 'gpu';
  return type;
}

/** CPU ticks of every Chromium process under this one, by process type, and by thread name within each type. */
export interface ChromeCpu {
  at: number;
  /** the whole machine, from /proc/stat: ticks busy and in all (every core) */
  machine: { busy: number; all: number };
  byKind: Map<string, number>;
  byThread: Map<string, number>;
}

function machineTicks(): { busy: number; all: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const all = f.reduce((a, b) => a + b, 0);
    return { busy: all - (f[3] ?? 0) - (f[4] ?? 0), all };
  } catch {
    return { busy: 0, all: 0 };
  }
}

export function chromeCpu(root = process.pid): ChromeCpu {
  const procs = allProcs();
  const children = new Map<number, Proc[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const byKind = new Map<string, number>();
  const byThread = new Map<string, number>();
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      const kind = chromeKind(c.pid);
      if (kind) {
        byKind.set(kind, (byKind.get(kind) ?? 0) + c.ticks);
        let tids: string[] = [];
        try {
          tids = readdirSync(`/proc/${c.pid}/task`);
        } catch {
          // gone
        }
        for (const t of tids) {
          const st = readStat(`/proc/${c.pid}/task/${t}/stat`);
          if (!st) continue;
          // thread names end in a number when there are several of a kind (ThreadPoolForeg…)
          const key = `${kind}/${st.comm.replace(/\d+$/, '')}`;
          byThread.set(key, (byThread.get(key) ?? 0) + st.ticks);
        }
      }
      walk(c.pid);
    }
  };
  walk(root);
  return { at: nowMs(), machine: machineTicks(), byKind, byThread };
}

/**
 * Datagrams the kernel dropped because a socket's receive buffer was full
 * (the `drops` column of /proc/net/udp{,6}), summed over the UDP sockets of
 * every Chromium process under this one (`chrome`) and of the given pids. The
 * counters live as long as the sockets: read them before the peers close.
 */
export function udpDrops(pids: number[] = [], root = process.pid): { chrome: number; others: number } {
  const procs = allProcs();
  const children = new Map<number, number[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const chromePids: number[] = [];
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      if (chromeKind(c)) chromePids.push(c);
      walk(c);
    }
  };
  walk(root);
  const inodes = (pid: number): Set<string> => {
    const out = new Set<string>();
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      return out;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) out.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
    return out;
  };
  const chromeInodes = new Set(chromePids.flatMap((p) => [...inodes(p)]));
  const otherInodes = new Set(pids.flatMap((p) => [...inodes(p)]));
  let chrome = 0;
  let others = 0;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 12) continue;
      const drops = Number(f[f.length - 1]) || 0;
      if (chromeInodes.has(f[9]!)) chrome += drops;
      else if (otherInodes.has(f[9]!)) others += drops;
    }
  }
  return { chrome, others };
}

/** The largest peak RSS (VmHWM, MB) among the Chromium processes of one kind under this process. */
export function chromePeakRssMB(kind: string, root = process.pid): number | undefined {
  const procs = allProcs();
  let peak: number | undefined;
  const walk = (pid: number) => {
    for (const c of procs) {
      if (c.ppid !== pid) continue;
      if (chromeKind(c.pid) === kind) {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${c.pid}/status`, 'utf8'));
          if (m) peak = Math.max(peak ?? 0, (Number(m[1]) * 1024) / MB);
        } catch {
          // gone
        }
      }
      walk(c.pid);
    }
  };
  walk(root);
  return peak;
}

/**
 * CPU seconds of a process and everything under it (a node peer, or
 * `/usr/bin/time` and the peer it runs), including descendants that have
 * exited and been reaped (a peer that has just exited under `time`).
 */
export function treeCpuS(pid: number): number | undefined {
  const procs = allProcs();
  const mine = new Set([pid]);
  let total: number | undefined;
  // parents come before children in /proc order only by chance: repeat until nothing is added
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) {
      if (!mine.has(p.pid) && mine.has(p.ppid)) {
        mine.add(p.pid);
        grew = true;
      }
    }
  }
  for (const p of procs) if (mine.has(p.pid)) total = (total ?? 0) + (p.ticks + p.childTicks) / HZ;
  return total;
}

/** CPU seconds spent between two samples, by process type and by thread (threads: the top ones). */
export function cpuBetween(
  a: ChromeCpu,
  b: ChromeCpu,
  topThreads = 8,
): { kinds: Record<string, number>; threads: Record<string, number>; wallS: number; machineBusy: number | undefined } {
  const diff = (x: Map<string, number>, y: Map<string, number>) => [...y].map(([k, v]) => [k, (v - (x.get(k) ?? 0)) / HZ] as const).filter(([, v]) => v > 0);
  const kinds = Object.fromEntries(diff(a.byKind, b.byKind).sort((p, q) => q[1] - p[1]));
  const threads = Object.fromEntries(
    diff(a.byThread, b.byThread)
      .sort((p, q) => q[1] - p[1])
      .slice(0, topThreads),
  );
  const all = b.machine.all - a.machine.all;
  return { kinds, threads, wallS: (b.at - a.at) / 1000, machineBusy: all > 0 ? (b.machine.busy - a.machine.busy) / all : undefined };
}

// ---------------------------------------------------------------- the browser

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** playwright-core, loaded only when a browser row runs (undefined if it is not installed) */
async function playwright(): Promise<typeof import('playwright-core') | undefined> {
  try {
    return await import('playwright-core');
  } catch {
    return undefined;
  }
}

/** Why the browser rows cannot run here, or undefined when they can. */
export async function browserUnavailable(): Promise<string | undefined> {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} not found (apt-get install chromium; or set BENCH_CHROMIUM)`;
  if (!(await playwright())) return 'playwright-core is not installed (npm install)';
  return undefined;
}

/** A fresh Chromium with a fresh on-disk profile, downloads accepted, one page. */
export interface LaunchOptions {
  /** more Chromium flags (experiments) */
  args?: string[];
  /** more environment for Chromium (experiments: e.g. LD_PRELOAD) */
  env?: Record<string, string>;
  /** ignore the page's Content-Security-Policy (experiments: e.g. a page build with WebAssembly) */
  bypassCSP?: boolean;
}

export async function launchBrowser(o: LaunchOptions = {}): Promise<BrowserSession> {
  const pw = await playwright();
  if (!pw) throw new Error('playwright-core is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'movie-bench-chromium-'));
  try {
    const context = await pw.chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM,
      args: [...CHROMIUM_ARGS, ...(o.args ?? [])],
      acceptDownloads: true,
      headless: true,
      bypassCSP: o.bypassCSP ?? false,
      ...(o.env ? { env: { ...process.env, ...o.env } } : {}),
    });
    const page = context.pages()[0] ?? (await context.newPage());
    return {
      context,
      page,
      close: async () => {
        await context.close().catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** A blank page on http://127.0.0.1:PORT/ (a secure context), for the raw receiver. */
export async function startBlankServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end('<!doctype html><html><head><meta charset="utf-8"><title>movie-share bench</title></head><body>bench</body></html>');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

// ---------------------------------------------------------------- row: node → Chromium, raw

/**
 * The receiving side in the page: an RTCPeerConnection that answers the node
 * sender's offer and counts the bytes of every channel it is given.
 * `mode`: 'count' reads only `byteLength`; 'copy' also copies each message into
 * a fresh Uint8Array (what a receiver that keeps the bytes pays at least).
 */
const RAW_RECEIVER = `
window.benchRecv = {
  pc: null,
  channels: [],
  kept: null,
  done: null,
  async answer(sdp, opts) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.pc = pc;
    let got = 0, messages = 0, firstAt = 0, resolve;
    this.done = new Promise((r) => (resolve = r));
    pc.ondatachannel = (ev) => {
      const dc = ev.channel;
      dc.binaryType = 'arraybuffer';
      this.channels.push(dc);
      dc.onmessage = (m) => {
        const n = m.data.byteLength;
        if (opts.mode === 'copy') this.kept = new Uint8Array(m.data).slice(); // kept: the copy cannot be optimized away
        if (messages++ === 0) firstAt = performance.timeOrigin + performance.now();
        got += n;
        if (got >= opts.total) resolve({ at: performance.timeOrigin + performance.now(), firstAt, got, messages, maxMessageSize: pc.sctp ? pc.sctp.maxMessageSize : 0 });
      };
    };
    await pc.setRemoteDescription({ type: 'offer', sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await new Promise((r) => {
      if (pc.iceGatheringState === 'complete') return r();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r());
      setTimeout(r, 3000);
    });
    return pc.localDescription.sdp;
  },
  candidate(candidate, sdpMid) {
    return this.pc.addIceCandidate({ candidate, sdpMid }).catch(() => undefined);
  },
  close() {
    for (const dc of this.channels) dc.close();
    if (this.pc) this.pc.close();
  },
};
`;

export interface BrowserCeilingOptions {
  mtu: number;
  /** bytes per message (default: the product's frame, 64 KiB + 18) */
  messageBytes: number;
  /** data channels in parallel on the one connection (default 1) */
  channels?: number;
  mode?: 'count' | 'copy';
  /** the sender's usrsctp send space (bytes in flight at most; libdatachannel's default otherwise) */
  sctpSendBuffer?: number;
  browser?: LaunchOptions;
}

export interface BrowserCeilingRun {
  mbps: number;
  seconds: number;
  maxMessageSize?: number;
  messages?: number;
  /** node sender's CPU seconds over the transfer */
  cpuSendS?: number;
  /** datagrams dropped at a full receive buffer: Chromium's sockets, the sender's */
  dropsChrome?: number;
  dropsSend?: number;
  /** Chromium's CPU seconds over the transfer, by process type and by thread */
  chrome?: ReturnType<typeof cpuBetween>;
}

export async function browserCeilingRun(ch: Children, rawPeer: string, blankUrl: string, bytes: number, o: BrowserCeilingOptions): Promise<BrowserCeilingRun> {
  const b = await launchBrowser(o.browser);
  let send: Child | undefined;
  try {
    await b.page.goto(blankUrl);
    await b.page.evaluate(RAW_RECEIVER);
    const extra = ['--mtu', String(o.mtu), '--message', String(o.messageBytes), '--channels', String(o.channels ?? 1)];
    if (o.sctpSendBuffer) extra.push('--sctp-send-buffer', String(o.sctpSendBuffer));
    send = ch.spawn('raw-send', process.execPath, [rawPeer, 'send', String(bytes), ...extra], { stdin: true });
    const sender = send;
    // the sender's lines in order: its offer, then its candidates (added once the answer is made)
    let chain: Promise<unknown> = Promise.resolve();
    let relayError: unknown;
    sender.onLine((l) => {
      const m = parseJsonLine(l);
      if (m?.t === 'sdp') {
        chain = chain.then(async () => {
          const answer = await b.page.evaluate(`window.benchRecv.answer(${JSON.stringify(m.sdp)}, ${JSON.stringify({ total: bytes, mode: o.mode ?? 'count' })})`);
          sender.write(JSON.stringify({ t: 'sdp', sdp: answer, type: 'answer' }));
        });
      } else if (m?.t === 'cand') {
        chain = chain.then(() => b.page.evaluate(`window.benchRecv.candidate(${JSON.stringify(m.cand)}, ${JSON.stringify(m.mid)})`));
      }
      chain = chain.catch((e: unknown) => (relayError ??= e));
    });
    const timeoutMs = 60_000 + (bytes / MB) * 1000;
    const startLine = await sender.waitFor(/\{"t":"start".*\}/, 30_000).catch((e: unknown) => {
      throw relayError ?? e;
    });
    const cpu0 = chromeCpu();
    const send0 = treeCpuS(sender.pid);
    const start = parseJsonLine(startLine[0])!;
    const done = await withTimeout(
      b.page.evaluate<{ at: number; got: number; messages: number; maxMessageSize: number }>('window.benchRecv.done'),
      timeoutMs,
      () => `the page received nothing more (sender: ${tail(sender.stderr())})`,
    );
    const cpu1 = chromeCpu();
    const send1 = treeCpuS(sender.pid);
    const drops = udpDrops([sender.pid]);
    const seconds = (done.at - (start.at as number)) / 1000;
    sender.write(JSON.stringify({ t: 'quit' }));
    await b.page.evaluate('window.benchRecv.close()').catch(() => undefined);
    return {
      mbps: bytes / MB / seconds,
      seconds,
      maxMessageSize: done.maxMessageSize || (start.maxMessageSize as number),
      messages: done.messages,
      cpuSendS: send0 !== undefined && send1 !== undefined ? send1 - send0 : undefined,
      dropsChrome: drops.chrome,
      dropsSend: drops.others,
      chrome: cpuBetween(cpu0, cpu1),
    };
  } finally {
    await ch.stop(send);
    await b.close();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, why: () => string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timeout after ${Math.round(ms / 1000)} s: ${why()}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

// ---------------------------------------------------------------- row: movie-share CLI → the page

/** Does the signaling server at `url` serve the page at `/`? */
export async function servesPage(url: string): Promise<boolean> {
  try {
    const res = await fetch(new URL('/', url), { signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    return res.ok && /app\.js/.test(body) && /data-state/.test(body);
  } catch {
    return false;
  }
}

/**
 * Before the page's own script: no save picker (the page then stages in OPFS
 * and downloads once verified), and a log of every `data-state` with its time.
 */
const PAGE_INIT = `
delete window.showSaveFilePicker;
window.__benchStates = [];
new MutationObserver(() => {
  const s = document.body && document.body.dataset.state;
  const l = window.__benchStates;
  if (s && (l.length === 0 || l[l.length - 1].state !== s)) l.push({ state: s, at: performance.timeOrigin + performance.now() });
}).observe(document, { attributes: true, attributeFilter: ['data-state'], subtree: true, childList: true });
`;

/** what the bench reads in the page (typed here: this file has no DOM library) */
interface PageGlobals {
  document: { body: { dataset: Record<string, string | undefined> } };
  __benchStates: { state: string; at: number }[];
}

export interface HostProcess {
  proc: Child;
  usage(): Promise<{ rssMB?: number; cpuS?: number }>;
}

export interface PageRunOptions {
  /** the page (also the signaling server the page uses: location.origin) */
  pageUrl: string;
  /** starts `movie-share FILE` with these extra arguments (--signal … --bind-address 127.0.0.1 --json) */
  startHost(): HostProcess;
  size: number;
  /** sample the JS heap over CDP every this many ms (0: not at all) */
  heapSampleMs?: number;
  /** record a CPU profile of the page's main thread (page load → verified), returned as `profile` */
  cpuProfile?: boolean;
  browser?: LaunchOptions;
}

export interface PageRun {
  /** host `connected` → host `done` (the page verified the SHA-256 and committed the file), MB/s */
  mbps: number;
  seconds: number;
  /** page `transferring` (key exchanged, chunks about to flow) → host `done` */
  streamMBps?: number;
  /** code entered (page opened) → the page shows `verified` */
  totalSeconds: number;
  hostMtu?: number;
  cpuHostS?: number;
  rssHostMB?: number;
  /** peak of Runtime.getHeapUsage usedSize over the transfer */
  heapPeakMB?: number;
  /** peak of its backingStorageSize (ArrayBuffers' contents live outside the JS heap) */
  backingPeakMB?: number;
  /** usedSize after a forced full GC once the page verified: what it retains */
  heapAfterGcMB?: number;
  /** peak RSS (VmHWM) of the page's renderer process */
  rendererRssMB?: number;
  heapSamples?: number;
  chrome?: ReturnType<typeof cpuBetween>;
  profile?: unknown;
}

export async function pageRun(o: PageRunOptions): Promise<PageRun> {
  const host = o.startHost();
  let b: BrowserSession | undefined;
  let heapTimer: NodeJS.Timeout | undefined;
  let connectedAt: number | undefined;
  let hostMtu: number | undefined;
  let cpu0: ChromeCpu | undefined;
  let host0: number | undefined;
  let doneAt: number | undefined;
  let cpu1: ChromeCpu | undefined;
  let host1: number | undefined;
  host.proc.onLine((l) => {
    const ev = parseJsonLine(l);
    if (ev?.event === 'connected' && connectedAt === undefined) {
      connectedAt = nowMs();
      if (typeof ev.mtu === 'number') hostMtu = ev.mtu;
      cpu0 = chromeCpu();
      host0 = treeCpuS(host.proc.pid);
    } else if (ev?.event === 'done' && doneAt === undefined) {
      // the page's `done`: it sends it once the SHA-256 matched and the file is committed
      doneAt = nowMs();
      cpu1 = chromeCpu();
      host1 = treeCpuS(host.proc.pid);
    }
  });
  try {
    const code = parseJsonLine((await host.proc.waitFor(/\{"event":"code".*\}/, 30_000))[0])!.code as string;
    b = await launchBrowser(o.browser);
    const { page, context } = b;
    await page.addInitScript(PAGE_INIT);
    const cdp: CDPSession = await context.newCDPSession(page);
    let heapPeak = 0;
    let backingPeak = 0;
    let samples = 0;
    if (o.heapSampleMs) {
      let busy = false;
      heapTimer = setInterval(() => {
        if (busy) return;
        busy = true;
        cdp
          .send('Runtime.getHeapUsage')
          .then((h) => {
            heapPeak = Math.max(heapPeak, h.usedSize);
            backingPeak = Math.max(backingPeak, h.backingStorageSize ?? 0);
            samples++;
          })
          .catch(() => undefined)
          .finally(() => (busy = false));
      }, o.heapSampleMs);
    }
    if (o.cpuProfile) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
      await cdp.send('Profiler.start');
    }
    const timeout = 120_000 + (o.size / MB) * 1000;
    const download = page.waitForEvent('download', { timeout });
    download.catch(() => undefined);
    const t0 = nowMs();
    await page.goto(`${o.pageUrl.replace(/\/?$/, '/')}#${code}`);
    // a function, not a string: the page's Content-Security-Policy forbids eval
    await page.waitForFunction(
      () => {
        const s = (globalThis as unknown as PageGlobals).document.body.dataset.state;
        return s === 'verified' || s === 'failed';
      },
      undefined,
      { timeout, polling: 100 },
    );
    clearInterval(heapTimer);
    const states = await page.evaluate(() => (globalThis as unknown as PageGlobals).__benchStates);
    const at = (s: string) => states.find((x) => x.state === s)?.at;
    const verifiedAt = at('verified');
    if (!verifiedAt) {
      const err = await page
        .locator('#error')
        .evaluate((e: unknown) => {
          const el = e as { textContent: string; dataset: { exitCode?: string } };
          return `${el.textContent} (exit code ${el.dataset.exitCode})`;
        })
        .catch(() => '?');
      throw new Error(`the page failed: ${err}; host: ${tail(host.proc.stderr(), 500)}`);
    }
    const profile = o.cpuProfile ? (await cdp.send('Profiler.stop')).profile : undefined;
    // what the page still holds once the transfer is over: a full GC, then the heap
    let heapAfterGc: number | undefined;
    if (o.heapSampleMs) {
      await cdp.send('HeapProfiler.collectGarbage').catch(() => undefined);
      heapAfterGc = (await cdp.send('Runtime.getHeapUsage').catch(() => undefined))?.usedSize;
    }
    const rendererRss = chromePeakRssMB('renderer');
    if (connectedAt === undefined) throw new Error('the host never reported `connected`');
    const d = await download;
    const path = await d.path();
    const got = (await stat(path)).size;
    await d.delete();
    if (got !== o.size) throw new Error(`the download has ${got} bytes, expected ${o.size}`);
    const hc = await withTimeout(host.proc.exited, 20_000, () => 'the host did not exit after `done`');
    if (hc !== 0) throw new Error(`movie-share exited ${hc}: ${tail(host.proc.stderr())}`);
    if (doneAt === undefined) throw new Error('the host exited 0 without a `done` event');
    const usage = await host.usage();
    const seconds = (doneAt - connectedAt) / 1000;
    const transferringAt = at('transferring');
    return {
      mbps: o.size / MB / seconds,
      seconds,
      streamMBps: transferringAt ? o.size / MB / ((doneAt - transferringAt) / 1000) : undefined,
      totalSeconds: (verifiedAt - t0) / 1000,
      hostMtu,
      cpuHostS: host0 !== undefined && host1 !== undefined ? host1 - host0 : undefined,
      rssHostMB: usage.rssMB,
      heapPeakMB: o.heapSampleMs ? heapPeak / MB : undefined,
      backingPeakMB: o.heapSampleMs ? backingPeak / MB : undefined,
      heapAfterGcMB: heapAfterGc !== undefined ? heapAfterGc / MB : undefined,
      rendererRssMB: rendererRss,
      heapSamples: samples,
      chrome: cpu0 && cpu1 ? cpuBetween(cpu0, cpu1) : undefined,
      profile,
    };
  } finally {
    clearInterval(heapTimer);
    host.proc.kill();
    await host.proc.exited;
    await b?.close();
  }
}

/** CPU seconds per GiB moved, by process type (renderer, network, browser, …), for a row's details. */
export function chromeCpuPerGiB(runs: (BrowserCeilingRun | PageRun)[], bytes: number, median: (xs: number[]) => number): Record<string, number> {
  const kinds = new Set(runs.flatMap((r) => Object.keys(r.chrome?.kinds ?? {})));
  const out: Record<string, number> = {};
  for (const k of kinds) {
    const xs = runs.map((r) => r.chrome?.kinds[k]).filter((x): x is number => typeof x === 'number');
    const v = xs.length ? median(xs) / (bytes / GiB) : 0;
    if (v >= 0.05) out[k] = Number(v.toFixed(2));
  }
  return out;
}
