/**
 * Signaling load benchmark: N concurrent rooms pairing through movie-signal
 * (one node, or two nodes sharing a local redis-server), with scripted
 * clients (SignalClient, no WebRTC).
 *
 *   node dist/bench/signal-load.js --rooms 1000 [--nodes 2] [--json]
 *
 * Phases: every host connects and creates its room (all rooms open at once),
 * every receiver connects (half of them to the other node when --nodes 2),
 * then all receivers join at the same moment. Pairing latency = from the
 * receiver's `join` to the host's `peer-joined`; then one relayed
 * round trip per room (host → receiver → host). Loopback only.
 *
 * Also exports the process helpers the signaling tests use
 * (`spawnSignalNode`, `spawnRedis`).
 */
import { withTimeout } from '../common/timeout.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SignalClient } from '../peer/rendezvous/signal-client.js';

const CLI = fileURLToPath(new URL('../bin/movie-signal.js', import.meta.url));

/* ------------------------------------------------------------------ */
/* child processes                                                     */

export interface SignalNode {
  url: string;
  port: number;
  pid: number;
  proc: ChildProcess;
  /** everything the node wrote on stderr so far (for diagnostics) */
  stderr(): string;
  /** SIGTERM, wait for exit (SIGKILL after 5 s); resolves with the exit code */
  stop(): Promise<number | null>;
  /** SIGKILL, wait for exit */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

function waitExit(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MOVIE_SIGNAL_')) env[k] = v;
  return env;
}

/** Start `movie-signal` as a child process (loopback, ephemeral port unless given) and wait for its `listening on` line. */
export async function spawnSignalNode(args: string[] = [], opts: { timeoutMs?: number } = {}): Promise<SignalNode> {
  const full = ['--host', '127.0.0.1', ...(args.includes('--port') ? [] : ['--port', '0']), ...args];
  const proc = spawn(process.execPath, [CLI, ...full], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
  let err = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d: string) => {
    err += d;
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const exited = waitExit(proc);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`movie-signal did not start within ${opts.timeoutMs ?? 10_000} ms; stderr: ${err}`));
    }, opts.timeoutMs ?? 10_000);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d: string) => {
      out += d;
      const m = /^listening on (http:\/\/\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`movie-signal exited (${code}) before listening; stderr: ${err}`));
    });
  });
  const port = Number(new URL(url).port);
  const node: SignalNode = {
    url,
    port,
    pid: proc.pid!,
    proc,
    exited,
    stderr: () => err,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGKILL');
      await exited;
    },
  };
  return node;
}

export interface RedisProc {
  url: string;
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Start a throwaway `redis-server` on 127.0.0.1 (no persistence). Fails clearly if it is not installed. */
export async function spawnRedis(): Promise<RedisProc> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = waitExit(proc);
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
        proc.once('error', (e: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          reject(e.code === 'ENOENT' ? new Error('redis-server is not installed (Debian: apt-get install -y redis-server); the Redis scale-out tests need it.') : e);
        });
        proc.stdout.setEncoding('utf8');
        proc.stdout.on('data', (d: string) => {
          out += d;
          if (out.includes('Ready to accept connections')) {
            clearTimeout(timer);
            resolve();
          }
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`redis-server exited (${code}): ${out}`));
        });
      });
    } catch (e) {
      proc.kill('SIGKILL');
      if (String((e as Error).message).includes('not installed')) throw e;
      lastErr = e;
      continue;
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      proc,
      async stop() {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        proc.kill('SIGKILL');
        await exited;
      },
    };
  }
  throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
}

/* ------------------------------------------------------------------ */
/* load                                                                */

export interface LoadOptions {
  rooms: number;
  /** 1 (default) or 2 (two nodes + redis) */
  nodes?: number;
  /** connections being opened at once; default 200 */
  concurrency?: number;
  log?: (line: string) => void;
}

export interface LoadResult {
  rooms: number;
  nodes: number;
  paired: number;
  relayed: number;
  errors: number;
  errorSamples: string[];
  /** the most rooms the first node reported open at once (/metrics), -1 if unknown */
  roomsOpenSeen: number;
  pairingMs: { p50: number; p99: number; max: number };
  relayRttMs: { p50: number; p99: number; max: number };
  setupMs: number;
  pairingWallMs: number;
  wallMs: number;
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function pool<T>(n: number, limit: number, fn: (i: number) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  const out = new Array<PromiseSettledResult<T>>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      try {
        out[i] = { status: 'fulfilled', value: await fn(i) };
      } catch (e) {
        out[i] = { status: 'rejected', reason: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  return out;
}

async function roomsOpen(url: string): Promise<number> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const m = /^movie_signal_rooms_open (\d+)/m.exec(text);
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}

export async function runSignalLoad(opts: LoadOptions): Promise<LoadResult> {
  const n = opts.rooms;
  const nodesWanted = opts.nodes ?? 1;
  const limit = opts.concurrency ?? 200;
  const log = opts.log ?? (() => undefined);
  if (nodesWanted !== 1 && nodesWanted !== 2) throw new Error('--nodes must be 1 or 2');
  const t0 = Date.now();
  let redis: RedisProc | undefined;
  const nodes: SignalNode[] = [];
  const clients: SignalClient[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  const failed = new Set<number>();
  const fail = (i: number, e: unknown): void => {
    errors++;
    failed.add(i);
    if (errorSamples.length < 10) errorSamples.push(`room #${i}: ${(e as Error)?.message ?? e}`);
  };
  try {
    // one address opens every connection and room here: the per-address limits are lifted
    const common = [
      '--rate-limit-creates',
      '1000000',
      '--rate-limit-joins',
      '1000000',
      '--max-sockets-per-address',
      '0',
      '--max-rooms-per-address',
      '0',
      '--max-rooms',
      String(Math.max(10_000, n * 2)),
    ];
    if (nodesWanted === 2) {
      redis = await spawnRedis();
      nodes.push(...(await Promise.all([0, 1].map(() => spawnSignalNode([...common, '--redis', redis!.url])))));
    } else {
      nodes.push(await spawnSignalNode(common));
    }
    log(`nodes: ${nodes.map((x) => x.url).join(', ')}${redis ? ` (redis ${redis.url})` : ''}`);

    const hostNode = (i: number): number => i % nodes.length;
    // with two nodes: every other room has its receiver on the other node
    const recvNode = (i: number): number => (hostNode(i) + (Math.floor(i / nodes.length) % nodes.length)) % nodes.length;

    const hosts = new Array<SignalClient | undefined>(n);
    const recvs = new Array<SignalClient | undefined>(n);
    const roomIds = new Array<string>(n);
    const joinedP = new Array<Promise<number>>(n);

    // 1. hosts connect and create (all rooms open at the same time)
    const tSetup = Date.now();
    (
      await pool(n, limit, async (i) => {
        const c = await SignalClient.connect({ url: nodes[hostNode(i)]!.url, connectTimeoutMs: 30_000, requestTimeoutMs: 30_000 });
        clients.push(c);
        hosts[i] = c;
        joinedP[i] = new Promise<number>((resolve) => c.onPeerJoined(() => resolve(performance.now())));
        joinedP[i].catch(() => undefined);
        roomIds[i] = (await c.createRoom()).room;
      })
    ).forEach((r, i) => r.status === 'rejected' && fail(i, r.reason));
    log(`${n - failed.size} rooms created in ${Date.now() - tSetup} ms`);

    // 2. receivers connect
    (
      await pool(n, limit, async (i) => {
        if (failed.has(i)) return;
        const c = await SignalClient.connect({ url: nodes[recvNode(i)]!.url, connectTimeoutMs: 30_000, requestTimeoutMs: 30_000 });
        clients.push(c);
        recvs[i] = c;
      })
    ).forEach((r, i) => r.status === 'rejected' && fail(i, r.reason));
    const setupMs = Date.now() - tSetup;

    // 3. every receiver joins at once
    const pairing: number[] = [];
    const tPair = performance.now();
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        if (failed.has(i)) return;
        try {
          const start = performance.now();
          await recvs[i]!.joinRoom(roomIds[i]!);
          const at = await withTimeout(joinedP[i]!, 30_000, 'peer-joined: no answer within 30000 ms');
          pairing.push(at - start);
        } catch (e) {
          fail(i, e);
        }
      }),
    );
    const pairingWallMs = performance.now() - tPair;
    const roomsOpenSeen = await roomsOpen(nodes[0]!.url);
    log(`${pairing.length} rooms paired in ${pairingWallMs.toFixed(0)} ms; rooms open (node 1 /metrics): ${roomsOpenSeen}`);

    // 4. one relayed round trip per room: host -> receiver -> host
    const rtts: number[] = [];
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        if (failed.has(i)) return;
        try {
          const h = hosts[i]!;
          const r = recvs[i]!;
          const payload = Buffer.from(`ping ${i}`).toString('base64');
          r.onSignal((m) => r.send({ kind: 'sdp', data: m.data }));
          const back = new Promise<number>((resolve, reject) =>
            h.onSignal((m) => (m.data === payload ? resolve(performance.now()) : reject(new Error('relayed payload differs')))),
          );
          const start = performance.now();
          h.send({ kind: 'pake', data: payload });
          rtts.push((await withTimeout(back, 30_000, 'relay: no answer within 30000 ms')) - start);
        } catch (e) {
          fail(i, e);
        }
      }),
    );
    const sp = pairing.sort((a, b) => a - b);
    const sr = rtts.sort((a, b) => a - b);
    const r3 = (x: number): number => Math.round(x * 10) / 10;
    return {
      rooms: n,
      nodes: nodes.length,
      paired: pairing.length,
      relayed: rtts.length,
      errors,
      errorSamples,
      roomsOpenSeen,
      pairingMs: { p50: r3(pct(sp, 50)), p99: r3(pct(sp, 99)), max: r3(sp[sp.length - 1] ?? NaN) },
      relayRttMs: { p50: r3(pct(sr, 50)), p99: r3(pct(sr, 99)), max: r3(sr[sr.length - 1] ?? NaN) },
      setupMs,
      pairingWallMs: Math.round(pairingWallMs),
      wallMs: Date.now() - t0,
    };
  } finally {
    for (const c of clients) c.close();
    await Promise.allSettled(nodes.map((x) => x.stop()));
    await redis?.stop();
  }
}

/* ------------------------------------------------------------------ */

async function main(): Promise<void> {
  const { Command } = await import('commander');
  const p = new Command('signal-load')
    .option('--rooms <n>', 'concurrent rooms', '1000')
    .option('--nodes <n>', '1 or 2 (two nodes share a local redis-server)', '1')
    .option('--concurrency <n>', 'connections opened at once', '200')
    .option('--json', 'print the result as JSON')
    .parse(process.argv);
  const o = p.opts<{ rooms: string; nodes: string; concurrency: string; json?: boolean }>();
  const res = await runSignalLoad({
    rooms: Number(o.rooms),
    nodes: Number(o.nodes),
    concurrency: Number(o.concurrency),
    log: o.json ? undefined : (l) => process.stderr.write(`${l}\n`),
  });
  if (o.json) process.stdout.write(JSON.stringify(res) + '\n');
  else {
    process.stdout.write(
      [
        `signal-load: ${res.rooms} rooms, ${res.nodes} node(s)`,
        `  paired ${res.paired}, relayed ${res.relayed}, errors ${res.errors}${res.errorSamples.length ? `: ${res.errorSamples.join('; ')}` : ''}`,
        `  pairing latency p50 ${res.pairingMs.p50} ms, p99 ${res.pairingMs.p99} ms, max ${res.pairingMs.max} ms`,
        `  relay round trip p50 ${res.relayRttMs.p50} ms, p99 ${res.relayRttMs.p99} ms`,
        `  rooms open seen ${res.roomsOpenSeen}; setup ${res.setupMs} ms, all pairings ${res.pairingWallMs} ms, wall ${res.wallMs} ms`,
      ].join('\n') + '\n',
    );
  }
  process.exitCode = res.errors ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    process.stderr.write(`signal-load: ${(e as Error)?.message ?? e}\n`);
    process.exitCode = 1;
  });
}
