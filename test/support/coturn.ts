/**
 * A real coturn (Debian `coturn`, `turnserver`) for tests: foreground, no
 * config file, all state (--db, --pidfile) in the test's own folder, started
 * and killed (by PID, through Procs) by the test.
 *
 * Network rule: coturn only ever listens and relays on a loopback address
 * (127.x) or on an address inside a network namespace the test created
 * (198.18.0.0/15, with `netns`). On loopback the relay address differs from
 * the listening one (127.0.0.2 vs 127.0.0.1): coturn grants permissions per
 * IP, so with one shared address a relay-policy connection would silently
 * slip onto a direct host<->prflx pair.
 */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Proc, Procs } from './procs.js';

export type TurnAuth = { user: string; pass: string } | { secret: string };

export interface CoturnOptions {
  procs: Procs;
  /** a folder of the test's own: turn.db, turn.pid */
  dir: string;
  listenIp?: string;
  relayIp?: string;
  /** default: a free port on loopback, 3478 inside a namespace */
  port?: number;
  auth: TurnAuth;
  realm?: string;
  /** run inside this network namespace (ip netns exec) */
  netns?: string;
  /** where to probe from when in a namespace (a namespace that can reach listenIp); default: netns */
  probeFrom?: string;
}

export interface Coturn {
  proc: Proc;
  host: string;
  port: number;
  /** turn:HOST:PORT (UDP) */
  url: string;
  relayIp: string;
  realm: string;
  /** everything coturn logged so far */
  log(): string;
  stop(): Promise<void>;
}

export function turnserverPath(): string | undefined {
  for (const p of ['/usr/bin/turnserver', '/usr/sbin/turnserver', '/usr/local/bin/turnserver']) if (existsSync(p)) return p;
  return undefined;
}

const isLoopback = (ip: string): boolean => /^127\.\d+\.\d+\.\d+$/.test(ip);
const isTestNet = (ip: string): boolean => /^198\.(18|19)\.\d+\.\d+$/.test(ip);

function guardAddress(ip: string, netns: string | undefined, what: string): void {
  if (netns ? !isTestNet(ip) && !isLoopback(ip) : !isLoopback(ip)) {
    throw new Error(`refusing to run coturn with ${what} ${ip}: only 127.x, or 198.18.0.0/15 inside a test namespace`);
  }
}

/** A port free for both TCP and UDP on `host` (coturn listens on both). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, host, () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, host, () => s.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free port found');
}

/**
 * A STUN Binding request sent every 100 ms until a Binding success arrives;
 * exits 0 on success, 1 after `ms`. Run as `node -e` so it can run inside a
 * namespace.
 */
const PROBE = `
const [host, port, ms] = process.argv.slice(1);
const s = require('node:dgram').createSocket('udp4');
const req = Buffer.alloc(20);
req.writeUInt16BE(0x0001, 0); req.writeUInt16BE(0, 2); req.writeUInt32BE(0x2112a442, 4);
require('node:crypto').randomFillSync(req, 8, 12);
s.on('message', (m) => { if (m.length >= 20 && m.readUInt16BE(0) === 0x0101 && m.subarray(8, 20).equals(req.subarray(8, 20))) process.exit(0); });
s.on('error', () => undefined);
const send = () => s.send(req, Number(port), host, () => undefined);
send(); setInterval(send, 100);
setTimeout(() => process.exit(1), Number(ms));
`;

async function probe(procs: Procs, host: string, port: number, netns: string | undefined, ms: number): Promise<boolean> {
  const args = ['-e', PROBE, host, String(port), String(ms)];
  const p = netns ? procs.spawn('ip', ['netns', 'exec', netns, process.execPath, ...args]) : procs.spawn(process.execPath, args);
  return (await p.exited) === 0;
}

export async function startCoturn(o: CoturnOptions): Promise<Coturn> {
  const bin = turnserverPath();
  if (!bin) throw new Error('turnserver not found: install the Debian package coturn (apt-get install -y coturn)');
  const host = o.listenIp ?? '127.0.0.1';
  const relayIp = o.relayIp ?? '127.0.0.2';
  guardAddress(host, o.netns, 'listening address');
  guardAddress(relayIp, o.netns, 'relay address');
  const realm = o.realm ?? 'movie-share.test';

  let lastErr = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = o.port ?? (o.netns ? 3478 : await freePort(host));
    // a random relay port range, so parallel coturns (benchmarks, other tests) rarely meet
    const minPort = 20000 + 200 * Math.floor(Math.random() * 50);
    const tag = randomBytes(3).toString('hex');
    const args = [
      '-n',
      `--listening-ip=${host}`,
      `--relay-ip=${relayIp}`,
      `--listening-port=${port}`,
      `--min-port=${minPort}`,
      `--max-port=${minPort + 199}`,
      '--fingerprint',
      '--no-cli',
      '--no-tls',
      '--no-dtls',
      '--no-tcp-relay',
      '--no-multicast-peers',
      '--log-file=stdout',
      '--simple-log',
      `--db=${join(o.dir, `turn-${tag}.db`)}`,
      `--pidfile=${join(o.dir, `turn-${tag}.pid`)}`,
      `--realm=${realm}`,
      ...(isLoopback(relayIp) ? ['--allow-loopback-peers'] : []),
      ...('secret' in o.auth ? ['--use-auth-secret', `--static-auth-secret=${o.auth.secret}`] : ['--lt-cred-mech', `--user=${o.auth.user}:${o.auth.pass}`]),
    ];
    const proc = o.netns ? o.procs.spawn('ip', ['netns', 'exec', o.netns, bin, ...args]) : o.procs.spawn(bin, args);
    const ok = await probe(o.procs, host, port, o.probeFrom ?? o.netns, 5000);
    const alive = proc.child.exitCode === null && proc.child.signalCode === null;
    if (ok && alive && !/Cannot bind|Address already in use/i.test(proc.stdout())) {
      return {
        proc,
        host,
        port,
        url: `turn:${host}:${port}`,
        relayIp,
        realm,
        log: () => proc.stdout() + proc.stderr(),
        stop: async () => {
          proc.kill('SIGKILL');
          await proc.exited;
        },
      };
    }
    lastErr =
      proc
        .stdout()
        .split('\n')
        .filter((l) => /error|cannot|fail/i.test(l))
        .slice(-5)
        .join('\n') + proc.stderr();
    proc.kill('SIGKILL');
    await proc.exited;
    if (o.port !== undefined) break;
  }
  throw new Error(`coturn did not start:\n${lastErr}`);
}
