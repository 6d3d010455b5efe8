/**
 * Separate hosts for tests, made of Linux network namespaces the test creates
 * itself (root only):
 *
 *     A (198.18.1.2) ──veth── (198.18.1.1) R (198.18.2.1) ──veth── (198.18.2.2) B
 *     A (198.18.3.2) ─────────────── lan (optional) ─────────────── (198.18.3.3) B
 *
 * R is a router (ip_forward on) that runs coturn and movie-signal on its own
 * addresses. `blockDirect()` loads an nftables table in R whose forward chain
 * drops everything between A's and B's links, so A and B can only talk to R's
 * own addresses (input is untouched): any A<->B transfer must go through the
 * TURN relay. `linkDown('a')` / `linkUp('a')` pull A's (or B's) cable out of R
 * and plug it back in (address and routes restored). Only addresses from
 * 198.18.0.0/15 are used, and only inside these namespaces; the host's own
 * network is never touched.
 *
 * Namespace names are unique per run (prefix + pid + random). `destroy()`
 * kills whatever still runs inside them (by PID, from `ip netns pids`: only
 * processes this test started can be in there) and deletes them; a process
 * exit hook does the same synchronously if the test dies first.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a short command to completion (killed by PID after `timeoutMs`). */
export function run(cmd: string, args: string[], input?: string, timeoutMs = 10_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(t);
      resolve({ code: 127, stdout, stderr: stderr + e.message });
    });
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.on('error', () => undefined); // a command that exits without reading its input
    child.stdin.end(input ?? '');
  });
}

async function must(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await run(cmd, args, input);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Why namespaces cannot be used here, or undefined if they can (decided without side effects). */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'creating network namespaces needs root (CI runs as root); run the tests as root to include them';
  }
  return undefined;
}

export const ADDR = {
  a: '198.18.1.2',
  rA: '198.18.1.1',
  b: '198.18.2.2',
  rB: '198.18.2.1',
  /** A and B on one shared link (`addLan`) */
  lanA: '198.18.3.2',
  lanB: '198.18.3.3',
} as const;

const alive = new Set<Topology>();
process.on('exit', () => {
  for (const t of alive) t.destroySync();
});

export class Topology {
  private blocked = false;
  private constructor(
    readonly a: string,
    readonly b: string,
    readonly r: string,
  ) {}

  /** Create A, B and R, link and address them, and turn R into a router. */
  static async create(prefix = 'mst'): Promise<Topology> {
    const id = `${prefix}${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
    const t = new Topology(`${id}-a`, `${id}-b`, `${id}-r`);
    alive.add(t);
    try {
      for (const ns of [t.a, t.b, t.r]) await must('ip', ['netns', 'add', ns]);
      // veth pairs created directly inside the namespaces: no name ever appears in the host's namespace
      await must('ip', ['link', 'add', 'name', 'eth-r', 'netns', t.a, 'type', 'veth', 'peer', 'name', 'eth-a', 'netns', t.r]);
      await must('ip', ['link', 'add', 'name', 'eth-r', 'netns', t.b, 'type', 'veth', 'peer', 'name', 'eth-b', 'netns', t.r]);
      const inNs = (ns: string, ...args: string[]) => must('ip', ['-n', ns, ...args]);
      for (const ns of [t.a, t.b, t.r]) await inNs(ns, 'link', 'set', 'lo', 'up');
      await inNs(t.a, 'addr', 'add', `${ADDR.a}/24`, 'dev', 'eth-r');
      await inNs(t.b, 'addr', 'add', `${ADDR.b}/24`, 'dev', 'eth-r');
      await inNs(t.r, 'addr', 'add', `${ADDR.rA}/24`, 'dev', 'eth-a');
      await inNs(t.r, 'addr', 'add', `${ADDR.rB}/24`, 'dev', 'eth-b');
      for (const [ns, dev] of [
        [t.a, 'eth-r'],
        [t.b, 'eth-r'],
        [t.r, 'eth-a'],
        [t.r, 'eth-b'],
      ] as const)
        await inNs(ns, 'link', 'set', dev, 'up');
      await inNs(t.a, 'route', 'add', 'default', 'via', ADDR.rA);
      await inNs(t.b, 'route', 'add', 'default', 'via', ADDR.rB);
      await must('ip', ['netns', 'exec', t.r, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    } catch (e) {
      await t.destroy();
      throw e;
    }
    return t;
  }

  /** argv to run `cmd args` inside namespace `ns` (the PID is the command's own: ip netns exec execs it). */
  exec(ns: string, cmd: string, args: string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', ns, cmd, ...args]];
  }

  /** A direct link between A and B, one /24, the given MTU (a LAN both sides share). */
  async addLan(mtu: number): Promise<void> {
    await must('ip', ['link', 'add', 'name', 'lan', 'netns', this.a, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', 'lan', 'netns', this.b, 'mtu', String(mtu)]);
    await must('ip', ['-n', this.a, 'addr', 'add', `${ADDR.lanA}/24`, 'dev', 'lan']);
    await must('ip', ['-n', this.b, 'addr', 'add', `${ADDR.lanB}/24`, 'dev', 'lan']);
    for (const ns of [this.a, this.b]) await must('ip', ['-n', ns, 'link', 'set', 'lan', 'up']);
    await this.lanRunning();
  }

  async setLanMtu(mtu: number): Promise<void> {
    for (const ns of [this.a, this.b]) await must('ip', ['-n', ns, 'link', 'set', 'lan', 'mtu', String(mtu)]);
    await this.lanRunning();
  }

  /**
   * Wait until both ends of the LAN have carrier: the kernel raises it a moment
   * after `link set up`, and until then Node's networkInterfaces() (libuv skips
   * interfaces that are not IFF_RUNNING) does not list the link at all.
   */
  private async lanRunning(): Promise<void> {
    for (const ns of [this.a, this.b]) await this.running(ns, 'lan');
  }

  /** Wait until `dev` in `ns` is up with carrier (state UP), at most 10 s. */
  private async running(ns: string, dev: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!/state UP/.test(await must('ip', ['-n', ns, '-o', 'link', 'show', dev]))) {
      if (Date.now() > deadline) throw new Error(`netns ${ns}: ${dev} has no carrier after 10 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A's or B's link to R: its namespace, device, address, and R's address on it (the host's default gateway). */
  private link(host: 'a' | 'b'): { ns: string; dev: string; addr: string; gw: string; rDev: string } {
    return host === 'a' ? { ns: this.a, dev: 'eth-r', addr: ADDR.a, gw: ADDR.rA, rDev: 'eth-a' } : { ns: this.b, dev: 'eth-r', addr: ADDR.b, gw: ADDR.rB, rDev: 'eth-b' };
  }

  /**
   * Take A's (or B's) link to R down, as if its cable were pulled: `ip link set
   * eth-r down` on the host's end of the veth, inside its namespace. The kernel
   * then drops the host's routes through it (its default route included); R's
   * end only loses carrier, so R's own addresses (movie-signal, coturn) stay
   * reachable from the other host. `linkUp` puts everything back.
   */
  async linkDown(host: 'a' | 'b'): Promise<void> {
    const l = this.link(host);
    await must('ip', ['-n', l.ns, 'link', 'set', l.dev, 'down']);
  }

  /**
   * Bring the link `linkDown` took down up again, wait for carrier on both ends,
   * and re-add what the kernel dropped: the address (IPv4 keeps it, but `replace`
   * makes sure) and the default route via R (always removed with the link). Resolves
   * once the host can route to R again (`ip route get` through eth-r).
   */
  async linkUp(host: 'a' | 'b'): Promise<void> {
    const l = this.link(host);
    await must('ip', ['-n', l.ns, 'link', 'set', l.dev, 'up']);
    await must('ip', ['-n', this.r, 'link', 'set', l.rDev, 'up']); // a no-op unless someone took it down too
    await this.running(l.ns, l.dev);
    await this.running(this.r, l.rDev);
    await must('ip', ['-n', l.ns, 'addr', 'replace', `${l.addr}/24`, 'dev', l.dev]);
    await must('ip', ['-n', l.ns, 'route', 'replace', 'default', 'via', l.gw, 'dev', l.dev]);
    const far = host === 'a' ? ADDR.b : ADDR.a;
    const route = await must('ip', ['-n', l.ns, 'route', 'get', far]);
    if (!route.includes(`dev ${l.dev}`)) throw new Error(`netns ${l.ns}: no route to ${far} through ${l.dev} after link up: ${route.trim()}`);
  }

  /** Whether A's (or B's) link to R is up with carrier (for tests of the helpers themselves). */
  async linkIsUp(host: 'a' | 'b'): Promise<boolean> {
    const l = this.link(host);
    return /state UP/.test(await must('ip', ['-n', l.ns, '-o', 'link', 'show', l.dev]));
  }

  /**
   * Drop forwarded traffic between A and B in R (traffic to R's own addresses
   * still flows). With `turnPort`, UDP from A or B to R's own addresses is also
   * dropped unless it goes to that port (coturn's listening port): like two
   * hosts behind firewalls that let out nothing but TURN, each can then only
   * use its own allocation, so the selected pair is relay<->relay. Without it,
   * one side's host candidate can reach the other side's relay address directly
   * (host<->relay), so only one side's end of the pair is relayed.
   */
  async blockDirect(opts: { turnPort?: number } = {}): Promise<void> {
    const turnOnly =
      opts.turnPort === undefined
        ? ''
        : `  chain turn_only {
    type filter hook input priority filter; policy accept;
    iifname { "eth-a", "eth-b" } udp dport != ${opts.turnPort} drop
  }
`;
    const rules = `table inet movie_share_test {
  chain block_ab {
    type filter hook forward priority filter; policy accept;
    iifname "eth-a" oifname "eth-b" drop
    iifname "eth-b" oifname "eth-a" drop
  }
${turnOnly}}
`;
    await must('ip', ['netns', 'exec', this.r, 'nft', '-f', '-'], rules);
    this.blocked = true;
  }

  async allowDirect(): Promise<void> {
    if (!this.blocked) return;
    await must('ip', ['netns', 'exec', this.r, 'nft', 'delete', 'table', 'inet', 'movie_share_test']);
    this.blocked = false;
  }

  /** PIDs of processes still inside our namespaces. */
  private async pids(): Promise<number[]> {
    const out: number[] = [];
    for (const ns of [this.a, this.b, this.r]) {
      const r = await run('ip', ['netns', 'pids', ns]);
      for (const l of r.stdout.split('\n')) if (/^\d+$/.test(l.trim())) out.push(Number(l.trim()));
    }
    return out;
  }

  async destroy(): Promise<void> {
    for (const pid of await this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    for (const ns of [this.a, this.b, this.r]) await run('ip', ['netns', 'del', ns]);
    alive.delete(this);
  }

  destroySync(): void {
    for (const ns of [this.a, this.b, this.r]) {
      const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
      for (const l of (r.stdout ?? '').split('\n')) {
        if (/^\d+$/.test(l.trim())) {
          try {
            process.kill(Number(l.trim()), 'SIGKILL');
          } catch {
            // gone already
          }
        }
      }
      spawnSync('ip', ['netns', 'del', ns]);
    }
    alive.delete(this);
  }
}
