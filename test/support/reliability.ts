/**
 * Helpers for the process-level reliability tests (test/system/reliability-*.test.ts):
 * --json CLIs, watching OUT.part grow, a TCP listener that refuses socket.io
 * connections (to count a client's retries), free ports, bounded waits.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { readSidecar, sidecarBytes } from '../../peer/node/resume.js';
import { BIN, type Proc, type Procs } from './procs.js';

export interface JsonEvent {
  event: string;
  [k: string]: unknown;
}

/** Every --json event a process printed on stdout so far. */
export function events(p: Proc): JsonEvent[] {
  const out: JsonEvent[] = [];
  for (const line of p.stdout().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as JsonEvent);
    } catch {
      // a line still being written
    }
  }
  return out;
}

export function lastEvent(p: Proc, name: string): JsonEvent | undefined {
  return events(p)
    .filter((e) => e.event === name)
    .pop();
}

/** Resolves once `p` printed the --json event `name`. */
export async function waitEvent(p: Proc, name: string, timeoutMs = 30_000): Promise<JsonEvent> {
  await p.waitFor(new RegExp(`"event":"${name}"`), timeoutMs);
  return lastEvent(p, name)!;
}

/** movie-share FILE --json against `url`; resolves once the code event is out. */
export async function shareJson(procs: Procs, file: string, url: string, extra: string[] = []): Promise<{ proc: Proc; code: string }> {
  const proc = procs.node(BIN.share, [file, '--signal', url, '--bind-address', '127.0.0.1', '--json', ...extra]);
  const m = await proc.waitFor(/"event":"code","code":"([^"]+)"/, 30_000);
  return { proc, code: m[1]! };
}

/** movie-get CODE -o OUT --json against `url`. */
export function getJson(procs: Procs, code: string, out: string, url: string, extra: string[] = []): Proc {
  return procs.get(code, out, url, ['--json', ...extra]);
}

/**
 * Poll the size of `path` (e.g. OUT.part) until it reaches `minBytes`. Fails if
 * any of `watch` exits first (the transfer ended before we could interrupt it).
 */
export function waitForSize(path: string, minBytes: number, watch: Proc[], timeoutMs = 60_000): Promise<number> {
  const size = () =>
    stat(path).then(
      (s) => s.size,
      () => 0,
    );
  return pollUntil(path, size, minBytes, watch, timeoutMs);
}

/** Poll OUT's resume sidecar until the bytes it records reach `minBytes` (same failure rules). */
export function waitForVerified(out: string, minBytes: number, watch: Proc[], timeoutMs = 60_000): Promise<number> {
  return pollUntil(`${out}.part.json`, async () => sidecarBytesOf(await readSidecar(out)), minBytes, watch, timeoutMs);
}

async function pollUntil(path: string, read: () => Promise<number>, minBytes: number, watch: Proc[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const size = await read();
    if (size >= minBytes) return size;
    for (const p of watch) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) {
        throw new Error(
          `process ${p.pid} exited (${p.child.exitCode ?? p.child.signalCode}) before ${path} reached ${minBytes} bytes (it has ${size}):\nstdout: ${p.stdout()}\nstderr: ${p.stderr()}`,
        );
      }
    }
    if (Date.now() > deadline) throw new Error(`${path} did not reach ${minBytes} bytes in ${timeoutMs} ms (it has ${size})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves with the exit code, or fails the test if it takes longer than `ms` (a "within N s" bound of docs/RELIABILITY.md). */
export async function exitWithin(p: Proc, ms: number, what: string): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const t0 = Date.now();
  const code = await Promise.race([
    p.exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not exit within ${ms / 1000} s:\nstdout: ${p.stdout()}\nstderr: ${p.stderr()}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
  assert.ok(Date.now() - t0 <= ms, `${what} took ${Date.now() - t0} ms`);
  return code;
}

/** One clear sentence on stderr, no stack trace. */
export function assertCleanFailure(p: Proc, re: RegExp, what: string): void {
  const err = p.stderr();
  assert.match(err, re, `${what} stderr: ${err}`);
  assert.doesNotMatch(err, /\n\s+at .*(\.js|\.ts|node:)/, `${what} printed a stack trace: ${err}`);
  assert.doesNotMatch(err, /unexpected error|Please report this/i, `${what} hit an unexpected error: ${err}`);
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A TCP listener that accepts and at once drops every connection, so a
 * socket.io client keeps failing to connect; `attempts` counts its tries.
 */
export class RefusingServer {
  attempts = 0;
  private readonly server: Server;
  private waiters: { n: number; resolve: () => void }[] = [];

  private constructor(
    readonly port: number,
    server: Server,
  ) {
    this.server = server;
  }

  static async listen(port = 0): Promise<RefusingServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const rs = new RefusingServer((server.address() as { port: number }).port, server);
    server.on('connection', (sock) => {
      rs.attempts++;
      sock.on('error', () => undefined);
      sock.destroy();
      rs.waiters = rs.waiters.filter((w) => (rs.attempts >= w.n ? (w.resolve(), false) : true));
    });
    return rs;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  waitAttempts(n: number): Promise<void> {
    if (this.attempts >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export const MiB = 1024 * 1024;

const sidecarBytesOf = (sc: Awaited<ReturnType<typeof readSidecar>>): number => (sc ? sidecarBytes(sc) : 0);
