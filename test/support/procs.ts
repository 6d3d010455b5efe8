/**
 * Child processes for process-level tests: the real CLIs against a real
 * movie-signal on 127.0.0.1 with an ephemeral port, ICE bound to 127.0.0.1.
 * Every child is tracked and killed (by PID) when the test ends, even on
 * failure, and when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const DIST = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = {
  signal: `${DIST}bin/movie-signal.js`,
  share: `${DIST}bin/movie-share.js`,
  get: `${DIST}bin/movie-get.js`,
};

export interface Proc {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** resolves with the exit code (or 128+signal) */
  exited: Promise<number>;
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  kill(sig?: NodeJS.Signals): void;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

const SIGNALS: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2 };

export class Procs {
  private children: Proc[] = [];

  /** `stdin: 'pipe'` to type into the child (`child.stdin`), e.g. a Ctrl-C through `script`'s terminal; `cwd`: where it runs. */
  spawn(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, opts: { stdin?: 'pipe'; cwd?: string } = {}): Proc {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'], cwd: opts.cwd });
    live.add(child);
    let out = '';
    let err = '';
    /** exited, and its pipes read (or 2 s passed) */
    let ended = false;
    const listeners: (() => void)[] = [];
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const l of listeners) l();
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      for (const l of listeners) l();
    });
    // 'exit' can come before the last of stdout and stderr is read (curl's
    // `-w %{http_code}` was seen missing under load), so `exited` waits for
    // 'close' too; at most 2 s, in case a grandchild still holds the pipes.
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const exited = new Promise<number>((resolve) => {
      child.on('exit', (code, sig) => {
        live.delete(child);
        const status = code ?? 128 + (sig ? (SIGNALS[sig] ?? 0) : 0);
        let timer: NodeJS.Timeout | undefined;
        void Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, 2000)))]).then(() => {
          clearTimeout(timer);
          ended = true;
          resolve(status);
          for (const l of listeners) l();
        });
      });
    });
    const p: Proc = {
      child,
      pid: child.pid!,
      stdout: () => out,
      stderr: () => err,
      exited,
      waitFor(re, timeoutMs = 20_000) {
        return new Promise((resolve, reject) => {
          const check = () => {
            const m = re.exec(out) ?? re.exec(err);
            if (m) {
              clearTimeout(t);
              resolve(m);
              return true;
            }
            if (ended) {
              clearTimeout(t);
              reject(new Error(`process exited before ${re}:\nstdout: ${out}\nstderr: ${err}`));
              return true;
            }
            return false;
          };
          const t = setTimeout(() => reject(new Error(`timeout waiting for ${re}:\nstdout: ${out}\nstderr: ${err}`)), timeoutMs);
          if (!check()) listeners.push(() => void check());
        });
      },
      kill(sig = 'SIGKILL') {
        try {
          child.kill(sig);
        } catch {
          // already gone
        }
      },
    };
    this.children.push(p);
    return p;
  }

  node(script: string, args: string[], env: NodeJS.ProcessEnv = {}, opts: { stdin?: 'pipe'; cwd?: string } = {}): Proc {
    return this.spawn(process.execPath, [script, ...args], env, opts);
  }

  /** A real movie-signal on 127.0.0.1, ephemeral port (`https://` with --tls-cert/--tls-key). */
  async signal(extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ proc: Proc; url: string }> {
    const proc = this.node(BIN.signal, ['--host', '127.0.0.1', '--port', '0', ...extra], env);
    const m = await proc.waitFor(/listening on (https?:\/\/\S+)/);
    return { proc, url: m[1]! };
  }

  /** movie-share FILE against `url`; resolves once the code is printed. */
  async share(file: string, url: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ proc: Proc; code: string }> {
    const proc = this.node(BIN.share, [file, '--signal', url, '--bind-address', '127.0.0.1', ...extra], env);
    const m = await proc.waitFor(/Code: (\S+)/);
    return { proc, code: m[1]! };
  }

  get(code: string, out: string, url: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Proc {
    return this.node(BIN.get, [code, '-o', out, '--signal', url, '--bind-address', '127.0.0.1', ...extra], env);
  }

  /** Kill every child still running (SIGKILL, by PID) and wait for them. */
  async cleanup(): Promise<void> {
    await Promise.all(
      this.children.map(async (p) => {
        if (p.child.exitCode === null && p.child.signalCode === null) p.kill('SIGKILL');
        await p.exited;
      }),
    );
    this.children = [];
  }
}
