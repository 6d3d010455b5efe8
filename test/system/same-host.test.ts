/**
 * One machine is one machine (peer/rtc/path-mtu.ts): movie-share and movie-get
 * on this machine, both bound to one of its non-loopback addresses, prove with
 * their keyed `host` values that they share a kernel and a network namespace,
 * and choose MTU 4096 (without the host value: "no shared link", 1280).
 *
 * Tests talk to loopback or to namespaces they create, never to another of
 * the machine's addresses: so a network namespace this test creates, with a
 * veth pair inside it, gives the non-loopback address, and everything
 * (movie-signal included) runs inside it; without root, skipped.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { networkInterfaces } from 'node:os';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { BIN, Procs, type Proc } from '../support/procs.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';
import { netnsUnavailable, run } from '../support/netns.js';
import { events, type JsonEvent } from '../support/reliability.js';

/** the machine's first global address (IPv4 first), if it has one */
function machineAddress(): string | undefined {
  const all = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && !a.internal && !a.address.toLowerCase().startsWith('fe80:'));
  return (all.find((a) => a!.family === 'IPv4') ?? all[0])?.address;
}

const NS_ADDR = '198.18.7.1';
const own: string | undefined = process.env.MOVIE_TEST_OWN_ADDRESS === '1' ? machineAddress() : undefined;
const skip = own ? undefined : netnsUnavailable();
if (skip) process.stderr.write(`same-host.test: skipped: ${skip}\n`);

const procs = new Procs();
let ns: string | undefined;
let address: string;
let dir: string;
let removeDir: (() => Promise<void>) | undefined;
let signalUrl: string;
let src: string;
const SIZE = 4 * 1024 * 1024;

/** argv for `cmd args`, inside our namespace when there is one */
const inNs = (cmd: string, args: string[]): [string, string[]] => (ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args]);

async function must(cmd: string, args: string[]): Promise<void> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
}

process.on('exit', () => {
  if (ns) spawnSync('ip', ['netns', 'del', ns]);
});

before(async () => {
  if (skip) return;
  ({ dir, remove: removeDir } = await tempDir('movie-share-same-host-'));
  src = join(dir, 'src.bin');
  await randomFile(src, SIZE);
  if (own) {
    address = own;
  } else {
    ns = `msh${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
    await must('ip', ['netns', 'add', ns]);
    await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // a veth pair with both ends inside (this kernel may lack the dummy device type)
    await must('ip', ['-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    await must('ip', ['-n', ns, 'addr', 'add', `${NS_ADDR}/24`, 'dev', 'v0']);
    for (const dev of ['v0', 'v1']) await must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    address = NS_ADDR;
  }
  const sig = procs.spawn(...inNs(process.execPath, [BIN.signal, '--host', '127.0.0.1', '--port', '0']));
  signalUrl = (await sig.waitFor(/listening on (http:\/\/\S+)/))[1]!;
});

after(async () => {
  await procs.cleanup();
  if (ns) await run('ip', ['netns', 'del', ns]);
  ns = undefined;
  await removeDir?.();
});

const event = (p: Proc, name: string): JsonEvent | undefined => events(p).find((e) => e.event === name);

test('two CLIs on this machine, bound to its non-loopback address: same kernel and network namespace, MTU 4096', { skip, timeout: 60_000 }, async (t) => {
  const out = join(dir, 'out.bin');
  const common = ['--signal', signalUrl, '--bind-address', address, '--json'];
  const s = procs.spawn(...inNs(process.execPath, [BIN.share, src, ...common]));
  const code = (await s.waitFor(/"event":"code","code":"([^"]+)"/))[1]!;
  const g = procs.spawn(...inNs(process.execPath, [BIN.get, code, '-o', out, ...common]));
  const [gc, sc] = await Promise.all([g.exited, s.exited]);
  assert.equal(gc, 0, `movie-get failed: ${g.stderr()}`);
  assert.equal(sc, 0, `movie-share failed: ${s.stderr()}`);
  assert.ok(await sameBytes(src, out), 'byte-identical');
  for (const p of [s, g]) {
    const c = event(p, 'connected');
    assert.ok(c, 'reports the connection');
    assert.equal(c.mtu, 4096, JSON.stringify(c));
    assert.match(String(c.mtuReason), /same kernel and network namespace/);
    // over the non-loopback address: equal addresses prove no link, the host values do
    assert.ok(String(c.local).includes(address) && String(c.remote).includes(address), JSON.stringify(c));
  }
  t.diagnostic(`bound to ${address}${ns ? ` (veth in namespace ${ns})` : ''}: ${JSON.stringify(event(g, 'connected'))}`);
});
