/**
 * Self-healing transfers (docs/RELIABILITY.md, "Self-healing transfers"): when
 * the data channel dies or never opens, the two peers reconnect on their own
 * through the signaling server and the receiver resumes from what it verified
 * on disk; a CLI gives up (exit 5) only after `--patience` seconds (default 120)
 * of failed reconnecting. `--json` reports it as `{"event":"reconnecting",
 * "attempt":N,"reason":"…"}` and `{"event":"reconnected","attempt":N,
 * "candidateType":"…"}`.
 *
 * Separate hosts: network namespaces the test creates (root only; skipped
 * otherwise, like netns.test.ts). Each case gets its own A ── R ── B
 * (test/support/netns.ts): movie-share in A, movie-get in B, movie-signal (and,
 * for the relay case, coturn) in R, the real CLIs with `--json` on both sides.
 *
 *  a. A's link down for 10 s at ~50 % of a 64 MiB transfer capped at 4 MB/s
 *     (~17 s): both processes finish, exit 0, byte-identical, and a
 *     `reconnecting` event proves it healed (not just SCTP riding it out). The
 *     link stays down past 10 s until a side has said `reconnecting` (at most
 *     20 s): 10 s is also the liveness timeout, and the test must not depend on
 *     which of the two comes first;
 *  b. the same, with movie-signal SIGTERMed and restarted on the same
 *     address:port while the link is down;
 *  c. the receiver SIGKILLed at ~50 %: movie-share (`--patience 5`) exits 5,
 *     after trying to reconnect for its patience, within a bound (not a hang);
 *  d. N transfers (MOVIE_TEST_RELAY_RUNS, default 60) of 256 KiB with A<->B
 *     blocked in R, TURN given to both as a fallback (not --relay-only): every
 *     one relayed, exit 0 on both sides, byte-identical. The test never
 *     retries: the product must heal a stalled DTLS handshake
 *     (peer/rtc/dtls-role.ts) on its own.
 *
 * a, b and c run concurrently (each mostly waits: rate-capped transfers,
 * sleeps, timeouts), d after them. Every child is killed by PID and every
 * namespace deleted in `after`, pass or fail.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BIN, Procs, type Proc } from '../support/procs.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';
import { startCoturn, type Coturn } from '../support/coturn.js';
import { ADDR, netnsUnavailable, Topology } from '../support/netns.js';
import { assertCleanFailure, events, exitWithin, lastEvent, MiB, type JsonEvent } from '../support/reliability.js';
import { LINGER_MS, PEER_TIMEOUT_MS } from '../../common/config.js';

const skip = netnsUnavailable();
if (skip) process.stderr.write(`healing.test: skipped: ${skip}\n`);

const procs = new Procs();
const topologies: Topology[] = [];
let dir: string;
let removeDir: (() => Promise<void>) | undefined;
/** a, b, c: 64 MiB at 4 MB/s (~17 s), so that a 10 s outage lands mid-transfer */
const BIG = 64 * MiB;
const RATE = ['--max-rate', '4M'];
/** d: small files, many runs */
const SMALL = 256 * 1024;
const RELAY_RUNS = Number(process.env.MOVIE_TEST_RELAY_RUNS ?? 60);
const RELAY_CONCURRENCY = 6;
const OUTAGE_MS = 10_000;
let big: string;
let small: string;

before(async () => {
  if (skip) return;
  ({ dir, remove: removeDir } = await tempDir('movie-share-heal-'));
  big = join(dir, 'movie.bin');
  small = join(dir, 'small.bin');
  await Promise.all([randomFile(big, BIG), randomFile(small, SMALL)]);
});

after(async () => {
  await procs.cleanup(); // every child, by PID, even on failure
  for (const t of topologies) await t.destroy(); // and whatever still runs inside the namespaces
  await removeDir?.();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** One A ── R ── B of a case's own, movie-signal (and coturn) in R. */
interface World {
  topo: Topology;
  signal: Proc;
  url: string;
  port: number;
  turn?: Coturn;
}

/**
 * movie-signal in R on R's A-side address (both hosts reach it, and B still
 * does while A's link is down). Rate limits raised: case d's receivers all join
 * from one address, far more than 20 times a minute.
 */
async function startSignal(topo: Topology, port: number): Promise<{ proc: Proc; url: string; port: number }> {
  const proc = procs.spawn('ip', [
    'netns',
    'exec',
    topo.r,
    process.execPath,
    BIN.signal,
    '--host',
    ADDR.rA,
    '--port',
    String(port),
    '--rate-limit-joins',
    '100000',
    '--rate-limit-creates',
    '100000',
  ]);
  const url = (await proc.waitFor(/listening on (http:\/\/\S+)/))[1]!;
  return { proc, url, port: Number(new URL(url).port) };
}

async function world(opts: { turn?: boolean } = {}): Promise<World> {
  const topo = await Topology.create('mhl');
  topologies.push(topo);
  const sig = await startSignal(topo, 0);
  const turn = opts.turn
    ? await startCoturn({ procs, dir, netns: topo.r, listenIp: ADDR.rA, relayIp: ADDR.rA, port: 3478, auth: { user: 'alice', pass: 'wonderland' } })
    : undefined;
  return { topo, signal: sig.proc, url: sig.url, port: sig.port, turn };
}

const turnFlags = (w: World): string[] => (w.turn ? ['--turn', w.turn.url, '--turn-user', 'alice', '--turn-pass', 'wonderland'] : []);

/** movie-share FILE --json in A; resolves once its code is out. */
async function share(w: World, file: string, extra: string[] = []): Promise<{ proc: Proc; code: string }> {
  const proc = procs.spawn('ip', ['netns', 'exec', w.topo.a, process.execPath, BIN.share, file, '--signal', w.url, '--bind-address', ADDR.a, '--json', ...turnFlags(w), ...extra]);
  const code = (await proc.waitFor(/"event":"code","code":"([^"]+)"/, 30_000))[1]!;
  return { proc, code };
}

/** movie-get CODE -o OUT --json in B. */
function get(w: World, code: string, out: string, extra: string[] = []): Proc {
  return procs.spawn('ip', [
    'netns',
    'exec',
    w.topo.b,
    process.execPath,
    BIN.get,
    code,
    '-o',
    out,
    '--signal',
    w.url,
    '--bind-address',
    ADDR.b,
    '--json',
    ...turnFlags(w),
    ...extra,
  ]);
}

/**
 * Resolves once the receiver's `progress` events (peer/cli/progress.ts: `bytes`,
 * `total`, `rate`; at most one a second) reach `fraction` of the file. Fails if
 * either process exits first, or after `timeoutMs`.
 */
async function waitProgress(g: Proc, fraction: number, watch: Proc[], timeoutMs = 60_000): Promise<JsonEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = lastEvent(g, 'progress');
    if (p && Number(p.total) > 0 && Number(p.bytes) >= fraction * Number(p.total)) return p;
    for (const x of watch) {
      if (x.child.exitCode !== null || x.child.signalCode !== null) {
        throw new Error(`process ${x.pid} exited (${x.child.exitCode ?? x.child.signalCode}) before ${fraction * 100} %:\nstdout: ${x.stdout()}\nstderr: ${x.stderr()}`);
      }
    }
    if (Date.now() > deadline) throw new Error(`the receiver did not report ${fraction * 100} % within ${timeoutMs / 1000} s: ${JSON.stringify(p)}`);
    await sleep(50);
  }
}

/** When (Date.now()) `p` first printed the --json event `name`; undefined if it exits first or not within `ms`. */
function seen(p: Proc, name: string, ms: number): Promise<number | undefined> {
  return p.waitFor(new RegExp(`"event":"${name}"`), ms).then(
    () => Date.now(),
    () => undefined,
  );
}

/** The healing events a process printed, checked against the contract's shape. */
function healing(p: Proc, who: string): { reconnecting: JsonEvent[]; reconnected: JsonEvent[] } {
  const all = events(p);
  const reconnecting = all.filter((e) => e.event === 'reconnecting');
  const reconnected = all.filter((e) => e.event === 'reconnected');
  for (const e of reconnecting) {
    assert.ok(Number.isInteger(e.attempt) && Number(e.attempt) >= 1, `${who}: reconnecting.attempt: ${JSON.stringify(e)}`);
    assert.equal(typeof e.reason, 'string', `${who}: reconnecting.reason: ${JSON.stringify(e)}`);
    assert.ok(String(e.reason).length > 0, `${who}: reconnecting.reason is empty: ${JSON.stringify(e)}`);
  }
  for (const e of reconnected) {
    assert.ok(Number.isInteger(e.attempt) && Number(e.attempt) >= 1, `${who}: reconnected.attempt: ${JSON.stringify(e)}`);
    assert.match(String(e.candidateType), /^(host|srflx|prflx|relay)$/, `${who}: reconnected.candidateType: ${JSON.stringify(e)}`);
  }
  return { reconnecting, reconnected };
}

const summary = (p: Proc): string =>
  events(p)
    .filter((e) => e.event !== 'progress')
    .map((e) => JSON.stringify(e))
    .join(' ');

const lastLine = (s: string): string => s.trim().split('\n').pop() ?? '';

/**
 * Cases a and b: A's link down for OUTAGE_MS once the receiver is past 50 % of
 * a rate-capped 64 MiB transfer (optionally restarting movie-signal meanwhile),
 * then up; the same two processes must finish the transfer.
 */
async function outage(t: { diagnostic(m: string): void }, name: string, restartSignal: boolean): Promise<void> {
  const w = await world();
  const out = join(dir, `${name}.out`);
  const s = await share(w, big, RATE);
  const g = get(w, s.code, out);
  const t0 = Date.now();
  const half = await waitProgress(g, 0.5, [s.proc, g]);
  const tDown = Date.now();
  await w.topo.linkDown('a');
  const rel = (ms: number | undefined) => (ms === undefined ? '-' : `${((ms - tDown) / 1000).toFixed(1)} s`);
  const exitAt: { share?: number; get?: number } = {};
  void s.proc.exited.then(() => (exitAt.share = Date.now()));
  void g.exited.then(() => (exitAt.get = Date.now()));
  const firstReconnecting = Promise.all([seen(s.proc, 'reconnecting', 150_000), seen(g, 'reconnecting', 150_000)]);
  let restarted = '';
  if (restartSignal) {
    await sleep(1000);
    w.signal.kill('SIGTERM');
    const code = await exitWithin(w.signal, 10_000, 'movie-signal (SIGTERM)');
    const again = await startSignal(w.topo, w.port); // the same address:port
    assert.equal(again.url, w.url);
    w.signal = again.proc;
    restarted = `; movie-signal SIGTERMed (exit ${code}) and back on ${again.url} at ${rel(Date.now())}`;
  }
  await sleep(OUTAGE_MS - (Date.now() - tDown));
  // 10 s is also the liveness timeout (PEER_TIMEOUT_MS): a link back at 10.2 s can
  // beat the timer (today's code then sometimes rides the outage out: exit 0, no
  // reconnecting). So the link stays down until a side has noticed the loss
  // (`reconnecting`), at most PEER_TIMEOUT_MS + 10 s: the test always exercises a
  // real reconnect, and a product that never notices fails the assertion below.
  const noticed = () => [...events(s.proc), ...events(g)].some((e) => e.event === 'reconnecting');
  const running = () => [s.proc, g].every((p) => p.child.exitCode === null && p.child.signalCode === null);
  while (!noticed() && running() && Date.now() < tDown + PEER_TIMEOUT_MS + 10_000) await sleep(100);
  await w.topo.linkUp('a');
  const tUp = Date.now();
  // after the link is back: reconnecting (seconds) and the other half at 4 MB/s (~9 s); generous
  const [sc, gc] = await Promise.all([exitWithin(s.proc, 90_000, 'movie-share'), exitWithin(g, 90_000, 'movie-get')]);
  const [recS, recG] = await firstReconnecting;
  t.diagnostic(
    `${name}: ${((tDown - t0) / 1000).toFixed(1)} s to ${((100 * Number(half.bytes)) / BIG).toFixed(0)} %; link down at 0 s, up at ${rel(tUp)}${restarted}; ` +
      `movie-share exit ${sc} at ${rel(exitAt.share)} (first reconnecting ${rel(recS)}), movie-get exit ${gc} at ${rel(exitAt.get)} (first reconnecting ${rel(recG)})`,
  );
  t.diagnostic(`${name}: movie-share events: ${summary(s.proc)} | stderr: ${lastLine(s.proc.stderr())}`);
  t.diagnostic(`${name}: movie-get events: ${summary(g)} | stderr: ${lastLine(g.stderr())}`);
  assert.equal(gc, 0, `movie-get (in B) exit ${gc}: ${g.stderr()}`);
  assert.equal(sc, 0, `movie-share (in A) exit ${sc}: ${s.proc.stderr()}`);
  assert.ok(await sameBytes(big, out), 'OUT is byte-identical to the source');
  const hs = healing(s.proc, 'movie-share');
  const hg = healing(g, 'movie-get');
  // the proof that it healed, and not just that SCTP rode out the outage
  assert.ok(hs.reconnecting.length + hg.reconnecting.length > 0, `no reconnecting event on either side: ${summary(s.proc)} | ${summary(g)}`);
  assert.ok(hs.reconnected.length + hg.reconnected.length > 0, `no reconnected event on either side: ${summary(s.proc)} | ${summary(g)}`);
  for (const [who, h] of [
    ['movie-share', hs],
    ['movie-get', hg],
  ] as const) {
    if (h.reconnecting.length > 0) assert.ok(h.reconnected.length > 0, `${who} reconnected never after reconnecting (it exited 0)`);
  }
  assert.equal(lastEvent(g, 'done')?.size, BIG);
}

describe('link outages and a vanished peer', { concurrency: true, skip }, () => {
  test('link down for 10 s at ~50 % of a 64 MiB transfer: completes byte-identical without re-running anything', { timeout: 180_000 }, async (t) => {
    await outage(t, 'outage', false);
  });

  test('link down for 10 s at ~50 %, movie-signal killed (SIGTERM) and restarted on the same address:port meanwhile: completes byte-identical', { timeout: 180_000 }, async (t) => {
    await outage(t, 'outage-signal-restart', true);
  });

  /**
   * The bound: the host notices the silence after PEER_TIMEOUT_MS (10 s: pings
   * every 2 s), then tries to reconnect for its patience (5 s), then exits,
   * lingering at most LINGER_MS (3 s) for a goodbye; 7 s more for a loaded
   * 2-core machine: 25 s from the SIGKILL. Today's "stopped responding" exit
   * comes at ~10 s; a hang never comes.
   */
  test('a peer killed with SIGKILL ends the other side in exit 5 after the patience, not a hang', { timeout: 120_000 }, async (t) => {
    const PATIENCE_S = 5;
    const bound = PEER_TIMEOUT_MS + PATIENCE_S * 1000 + LINGER_MS + 7_000;
    const w = await world();
    const out = join(dir, 'killed.out');
    const s = await share(w, big, [...RATE, '--patience', String(PATIENCE_S)]);
    const g = get(w, s.code, out);
    await waitProgress(g, 0.5, [s.proc, g]);
    g.kill('SIGKILL');
    const tKill = Date.now();
    const reconnecting = seen(s.proc, 'reconnecting', bound);
    const code = await exitWithin(s.proc, bound, 'movie-share');
    const tExit = Date.now();
    const tRec = await reconnecting;
    t.diagnostic(
      `movie-share exit ${code} ${((tExit - tKill) / 1000).toFixed(1)} s after the SIGKILL (bound ${bound / 1000} s); first reconnecting ` +
        `${tRec === undefined ? 'never' : `at ${((tRec - tKill) / 1000).toFixed(1)} s`}; stderr: ${lastLine(s.proc.stderr())}`,
    );
    assert.equal(code, 5, `movie-share exit ${code}: ${s.proc.stderr()}`);
    assertCleanFailure(s.proc, /other side|connection|reconnect/i, 'movie-share');
    assert.equal(lastEvent(s.proc, 'error')?.code, 5, summary(s.proc));
    // it tried to heal, and for its whole patience
    assert.ok(tRec !== undefined, `movie-share printed no reconnecting event: ${summary(s.proc)}`);
    healing(s.proc, 'movie-share');
    assert.ok(tExit - tRec >= PATIENCE_S * 1000 - 1000, `gave up ${tExit - tRec} ms after it started reconnecting (patience ${PATIENCE_S} s)`);
  });
});

interface RelayRun {
  i: number;
  ms: number;
  share: number;
  get: number;
  same: boolean;
  /** candidateType each side reported last (connected, or reconnected), movie-share/movie-get */
  types: string;
  /** whether both sides' selected pair has an end at coturn's relay address (the path, whatever the type says) */
  relayed: boolean;
  /** movie-get's selected pair, when it did not say relay */
  note: string;
  reconnects: number;
  why: string;
}

test(`${RELAY_RUNS} transfers through coturn with TURN as a fallback and the relay selected: 0 failures`, { skip, timeout: 120_000 + RELAY_RUNS * 5_000 }, async (t) => {
  const w = await world({ turn: true });
  await w.topo.blockDirect(); // only R's own addresses, so only the relay, connect A and B
  /** one run, no retry; bounded (a stuck pair is killed and counted as a failure) */
  const once = async (i: number): Promise<RelayRun> => {
    const out = join(dir, `relay-${i}.out`);
    const t0 = Date.now();
    let s: Awaited<ReturnType<typeof share>>;
    try {
      s = await share(w, small);
    } catch (e) {
      return {
        i,
        ms: Date.now() - t0,
        share: -1,
        get: -1,
        same: false,
        types: '-',
        relayed: false,
        note: '',
        reconnects: 0,
        why: `movie-share printed no code: ${(e as Error).message.split('\n')[0]}`,
      };
    }
    const g = get(w, s.code, out);
    const killer = setTimeout(() => {
      s.proc.kill('SIGKILL');
      g.kill('SIGKILL');
    }, 90_000);
    const [sc, gc] = await Promise.all([s.proc.exited, g.exited]).finally(() => clearTimeout(killer));
    const ms = Date.now() - t0;
    const same = gc === 0 && (await sameBytes(small, out));
    const pair = (p: Proc) => lastEvent(p, 'reconnected') ?? lastEvent(p, 'connected');
    const type = (p: Proc) => JSON.stringify(pair(p)?.candidateType ?? '-').replace(/"/g, '');
    // through the relay: one end of the pair is coturn's relay address. (The
    // candidateType alone can say "host" on the receiver: the sender's relay
    // candidate seen first as a peer-reflexive address.) A connected event
    // without the addresses (a reconnected one) counts by its candidateType.
    const viaRelay = (p: Proc) => {
      const e = pair(p);
      if (!e) return false;
      if (typeof e.local === 'string' || typeof e.remote === 'string') return [e.local, e.remote].some((a) => typeof a === 'string' && a.includes(`${w.turn!.relayIp}:`));
      return e.candidateType === 'relay';
    };
    const reconnects = events(s.proc).filter((e) => e.event === 'reconnecting').length + events(g).filter((e) => e.event === 'reconnecting').length;
    const why =
      sc === 0 && gc === 0
        ? ''
        : `movie-share ${sc}: ${lastLine(s.proc.stderr()) || '(nothing)'} / movie-get ${gc}: ${lastLine(g.stderr()) || '(nothing)'}${ms >= 90_000 ? ' (killed after 90 s)' : ''}`;
    return {
      i,
      ms,
      share: sc,
      get: gc,
      same,
      types: `${type(s.proc)}/${type(g)}`,
      relayed: viaRelay(s.proc) && viaRelay(g),
      note: type(g) === 'relay' ? '' : ` (movie-get's pair: ${String(pair(g)?.local)} <-> ${String(pair(g)?.remote)})`,
      reconnects,
      why,
    };
  };
  const runs: RelayRun[] = [];
  let next = 0;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: RELAY_CONCURRENCY }, async () => {
      while (next < RELAY_RUNS) runs.push(await once(next++));
    }),
  );
  const wall = Date.now() - t0;
  runs.sort((x, y) => x.i - y.i);
  for (const r of runs) {
    t.diagnostic(
      `run ${r.i}: ${(r.ms / 1000).toFixed(2)} s, exit ${r.share}/${r.get}, ${r.types}${r.note}${r.reconnects ? `, ${r.reconnects} reconnecting` : ''}${r.why ? `: ${r.why}` : ''}`,
    );
  }
  const ms = runs.map((r) => r.ms).sort((x, y) => x - y);
  const pct = (q: number) => (ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]! / 1000).toFixed(2);
  const failed = runs.filter((r) => r.share !== 0 || r.get !== 0 || !r.same || !r.relayed || !r.types.includes('relay'));
  const sentences = new Map<string, number>();
  for (const r of failed) {
    const key = r.why || `exit 0 but ${r.same ? `not through the relay (${r.types})` : 'OUT differs'}`;
    sentences.set(key, (sentences.get(key) ?? 0) + 1);
  }
  t.diagnostic(
    `${RELAY_RUNS} relayed runs, ${RELAY_CONCURRENCY} at a time, in ${(wall / 1000).toFixed(1)} s: ${failed.length} failed; ` +
      `per run median ${pct(0.5)} s, p90 ${pct(0.9)} s, max ${pct(1)} s; healed ${runs.filter((r) => r.reconnects > 0 && !failed.includes(r)).length}; ` +
      `candidateType relay/relay in ${runs.filter((r) => r.types === 'relay/relay').length}, ${[...new Set(runs.map((r) => r.types))].join(', ')} seen`,
  );
  assert.equal(runs.length, RELAY_RUNS);
  assert.deepEqual(
    failed.map((r) => `run ${r.i}: exit ${r.share}/${r.get}, ${r.types}, ${r.same ? 'same bytes' : 'OUT differs or missing'}: ${r.why}`),
    [],
    `${failed.length} of ${RELAY_RUNS} relayed transfers failed: ${[...sentences].map(([k, v]) => `${v}× ${k}`).join('; ')}`,
  );
});
