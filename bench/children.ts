/**
 * Child processes for the benchmark. Each child is started in its own process
 * group (so that a `/usr/bin/time` wrapper and the program it runs are ended
 * together), tracked, and killed by process-group id on `cleanup()`, on a
 * failure, and when the bench process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Child {
  child: ChildProcess;
  pid: number;
  name: string;
  stdout(): string;
  stderr(): string;
  /** resolves with the exit code (128+n for a signal) */
  exited: Promise<number>;
  /** calls `cb` for each stdout line */
  onLine(cb: (line: string) => void): void;
  /** first stdout/stderr match of `re` */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  write(line: string): void;
  kill(): void;
}

const live = new Set<Child>();
let exitHookInstalled = false;

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export class Children {
  private mine = new Set<Child>();

  constructor() {
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const c of live) if (c.child.exitCode === null && c.child.signalCode === null) killGroup(c.pid);
      });
    }
  }

  spawn(name: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; stdin?: boolean } = {}): Child {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    let out = '';
    let err = '';
    const listeners = new Set<() => void>();
    const lineCbs: ((l: string) => void)[] = [];
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (l) => {
      for (const cb of lineCbs) cb(l);
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.length > 1_000_000) out = out.slice(-500_000);
      for (const l of listeners) l();
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 1_000_000) err = err.slice(-500_000);
      for (const l of listeners) l();
    });
    child.stdin?.on('error', () => undefined);
    const c: Child = {
      child,
      pid: child.pid,
      name,
      stdout: () => out,
      stderr: () => err,
      exited: new Promise<number>((resolve) => {
        child.on('exit', (code, sig) => {
          live.delete(c);
          resolve(code ?? 128 + (sig === 'SIGKILL' ? 9 : sig === 'SIGTERM' ? 15 : 0));
          for (const l of listeners) l();
        });
      }),
      onLine: (cb) => void lineCbs.push(cb),
      waitFor(re, timeoutMs = 60_000) {
        return new Promise((resolve, reject) => {
          let done = false;
          const check = () => {
            if (done) return;
            const m = re.exec(out) ?? re.exec(err);
            if (m) {
              done = true;
              clearTimeout(t);
              listeners.delete(check);
              resolve(m);
            } else if (child.exitCode !== null || child.signalCode !== null) {
              done = true;
              clearTimeout(t);
              listeners.delete(check);
              reject(new Error(`${name} exited before printing ${re}:\n${tail(out)}\n${tail(err)}`));
            }
          };
          const t = setTimeout(() => {
            done = true;
            listeners.delete(check);
            reject(new Error(`${name}: timeout waiting for ${re}:\n${tail(out)}\n${tail(err)}`));
          }, timeoutMs);
          listeners.add(check);
          check();
        });
      },
      write: (line) => {
        child.stdin?.write(`${line}\n`);
      },
      kill: () => {
        if (child.exitCode === null && child.signalCode === null) killGroup(child.pid!);
      },
    };
    live.add(c);
    this.mine.add(c);
    void c.exited.then(() => this.mine.delete(c));
    return c;
  }

  /** Kill these children (those still running, by process group) and wait until they are gone. */
  async stop(...cs: (Child | undefined)[]): Promise<void> {
    const mine = cs.filter((c): c is Child => c !== undefined);
    for (const c of mine) c.kill();
    await Promise.all(mine.map((c) => c.exited));
  }

  /** Kill every child of this set that still runs (by process group) and wait for it. */
  async cleanup(): Promise<void> {
    await this.stop(...this.mine);
  }
}

export function tail(s: string, n = 1500): string {
  return s.length > n ? `…${s.slice(-n)}` : s;
}

/** Wall-clock milliseconds with sub-millisecond resolution (comparable across this machine's processes). */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** A child's output line as a JSON object, or undefined when it is not one. */
export function parseJsonLine(l: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(l) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
