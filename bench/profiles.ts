/**
 * The benchmark across an emulated network (docs/PERFORMANCE.md, "Across an
 * emulated network"): namespaces A ── R ── B (test/support/netns.ts) with the
 * delay line in R (test/support/delay-line.ts), root only.
 *
 *  - the line's own ceiling: node TCP, node UDP and the raw data channel from A
 *    to B through the line with no delay, loss or cap, alternated with the same
 *    through R's plain forwarding (the line bypassed);
 *  - per profile (LAN, WAN, long-haul, lossy): the raw data channel (mtu 1280,
 *    what the CLIs choose on a routed path), movie-share (the real CLIs, product
 *    defaults: no --mtu, no --bind-address) and magic-wormhole, round by round;
 *  - the README's "two terminals on one machine" row: both CLIs in one namespace
 *    whose only interface besides lo is its link to R (a machine with one LAN
 *    address), no --bind-address, no --mtu, movie-signal on that address, against
 *    the raw data channel at mtu 4096 on 127.0.0.1 in the same namespace.
 *
 * Where each piece sits, so that the data crosses the same emulated path:
 * movie-share in A, movie-get in B, movie-signal in B (198.18.2.2): the data
 * channel is A ↔ B through the line. magic-wormhole: `send` in A, `receive` in B,
 * the mailbox and the transit relay in B (both clients --no-listen, so every byte
 * goes A → relay, through the line, then relay → receiver inside B, which costs
 * no emulated time). The raw channel: sender in A, receiver in B. All three
 * cross the line once per direction; every setup message from A crosses it too.
 */
import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { ADDR, Topology } from '../test/support/netns.js';
import { DelayLine, delayLineUnavailable, PASS_THROUGH, PROFILES, type DirStats, type LinkProfile, type ProfileId } from '../test/support/delay-line.js';
import { parseJsonLine, type Children } from './children.js';
import {
  ceilingRun,
  cpuPerGiB,
  pairDetails,
  at,
  DIST,
  GiB,
  interleave,
  LIBRARY_DEFAULT_MTU,
  medianOf,
  MiB,
  movieShareRun,
  pairedRatio,
  randomFile,
  round,
  startSignal,
  startWormholeServers,
  tcpRun,
  wormholeRun,
  type PairRun,
  type Place,
  type Row,
  type ShareRun,
  type Task,
  type Tools,
  type WormholeRun,
  type WormholeServers,
} from './lib.js';

const MB = 1e6;

export interface ProfileSpec {
  id: ProfileId;
  bytes: number;
}

/** `lan,wan,longhaul,lossy:32M` → specs; a profile without `:SIZE` moves `bytes`. */
export function parseProfiles(v: string, bytes: number, parseSize: (s: string) => number): ProfileSpec[] {
  return v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => {
      const [id, size] = x.split(':') as [string, string | undefined];
      if (!(id in PROFILES)) throw new Error(`unknown profile ${id} (known: ${Object.keys(PROFILES).join(', ')})`);
      return { id: id as ProfileId, bytes: size ? parseSize(size) : bytes };
    });
}

/** the default: 256 MiB each (long-haul at 100 Mbit/s: ~21 s a run at the link's rate), lossy 16 MiB (at 1 % loss SCTP moves ~0.3 MB/s: ~1 min a run) */
export const DEFAULT_PROFILES = 'lan,wan,longhaul,lossy:16M';
export const DEFAULT_PROFILE_BYTES = 256 * MiB;

export interface ProfileOptions {
  profiles: ProfileSpec[];
  /** the line's own ceiling rows (bytes per run; 0 = skip) */
  ceilingBytes: number;
  /** the README's one-machine row (bytes per run; 0 = skip) */
  readmeBytes: number;
  runs: number;
  wormhole: boolean;
  dataDir: string;
  /** write the chart (SVG) here */
  chartOut?: string;
  log: (l: string) => void;
}

export interface ChartDatum {
  profile: string;
  tool: string;
  mbps: number;
}

interface UdpRun {
  /** received MB/s (first → last datagram at the sink) */
  mbps: number;
  sentMBps: number;
  lost: number;
}

const ns = (name: string): string[] => ['ip', 'netns', 'exec', name];
const gib = (b: number) => (b >= GiB ? `${(b / GiB).toFixed(b % GiB ? 1 : 0)} GiB` : `${(b / MiB).toFixed(0)} MiB`);

/** node UDP from A to a sink in B: 1400-byte datagrams as fast as node sends them */
async function udpRun(ch: Children, topo: Topology, bytes: number): Promise<UdpRun> {
  const PROBE = join(DIST, 'test/support/udp-probe.js');
  const sink = ch.spawn('udp-sink', ...at(ns(topo.b), process.execPath, [PROBE, 'sink', ADDR.b]));
  try {
    const port = (await sink.waitFor(/"port":(\d+)/, 20_000))[1]!;
    const blast = ch.spawn('udp-blast', ...at(ns(topo.a), process.execPath, [PROBE, 'blast', ADDR.b, port, String(bytes), '1400']));
    const sent = parseJsonLine((await blast.waitFor(/\{"t":"done".*\}/, 120_000))[0])!;
    const got = parseJsonLine((await sink.waitFor(/\{"t":"done".*\}/, 30_000))[0])!;
    return {
      mbps: (got.bytes as number) / MB / (got.seconds as number),
      sentMBps: (sent.bytes as number) / MB / (sent.seconds as number),
      lost: 1 - (got.bytes as number) / (sent.bytes as number),
    };
  } finally {
    await ch.stop(sink);
  }
}

/** `f`, and the CPU seconds the delay line used meanwhile */
async function lineCpu<T extends object>(line: DelayLine, f: () => Promise<T>): Promise<T & { lineCpuS: number; lineStats: { ab: DirStats; ba: DirStats } }> {
  const c0 = line.cpuSeconds();
  const s0 = await line.stats();
  const r = await f();
  const s1 = await line.stats();
  const d = (k: 'ab' | 'ba'): DirStats => {
    const o = {} as DirStats;
    for (const key of Object.keys(s1[k]) as (keyof DirStats)[]) o[key] = s1[k][key] - (key === 'queued' ? 0 : s0[k][key]);
    return o;
  };
  return { ...r, lineCpuS: line.cpuSeconds() - c0, lineStats: { ab: d('ab'), ba: d('ba') } };
}

type WithLine<T> = T & { lineCpuS: number; lineStats: { ab: DirStats; ba: DirStats } };

const linkMBps = (p: LinkProfile): number | undefined => (p.rateMbit ? p.rateMbit / 8 : undefined);

/** the profile goals (docs/PERFORMANCE.md) */
export const PROFILE_GOALS = { vsWormhole: 1.0, longhaulLinkFraction: 0.8, readmeVsRaw4096: 0.85 };

export async function runProfiles(opts: ProfileOptions, ch: Children, tools: Tools): Promise<{ rows: Row[]; chart: ChartDatum[]; notes: string[] }> {
  const { log } = opts;
  const rows: Row[] = [];
  const notes: string[] = [];
  const chart: ChartDatum[] = [];
  const skip = delayLineUnavailable();
  if (skip) {
    rows.push({ id: 'profiles', label: 'delay-line profiles (namespaces A ── R ── B)', details: {}, skipped: skip });
    return { rows, chart, notes };
  }
  await mkdir(opts.dataDir, { recursive: true });
  const topo = await Topology.create('msb');
  let line: DelayLine | undefined;
  let srv: WormholeServers | undefined;
  const servers: { kill(): void }[] = [];
  try {
    line = await DelayLine.start(topo, PASS_THROUGH);
    const l = line;
    const a = ns(topo.a);
    const b = ns(topo.b);
    /** the CLIs: product defaults (no --bind-address: each side's only non-loopback address) */
    const cli: Place = { send: a, recv: b, minMBps: 0.1 };
    /** raw-peer binds 127.0.0.1 unless told: the namespaces' addresses */
    const raw: Place = { send: a, recv: b, bindSend: ADDR.a, bindRecv: ADDR.b, minMBps: 0.1 };
    const sig = await startSignal(ch, { prefix: b, host: ADDR.b });
    servers.push(sig.proc);
    const wormholeSkip = !opts.wormhole ? 'disabled' : !tools.wormhole || !tools.twist ? 'magic-wormhole or its servers are not installed' : undefined;
    if (!wormholeSkip) srv = await startWormholeServers(ch, tools, opts.dataDir, { prefix: b, host: ADDR.b });

    // ---- the line's own ceiling: through the line vs R's plain forwarding, alternated
    if (opts.ceilingBytes > 0) {
      const bytes = opts.ceilingBytes;
      log(`bench: delay line ceiling (no delay, loss or cap), ${gib(bytes)}: TCP, UDP, raw channel mtu ${LIBRARY_DEFAULT_MTU}, through the line and around it, in turn`);
      await l.set(PASS_THROUGH);
      const via =
        <T extends object>(on: boolean, f: () => Promise<T>) =>
        async () => {
          if (on) await l.engage();
          else await l.bypass();
          try {
            return await lineCpu(l, f);
          } finally {
            await l.engage();
          }
        };
      const show = (r: { mbps: number; lineCpuS: number }) => `${r.mbps.toFixed(1)} MB/s (line CPU ${r.lineCpuS.toFixed(2)} s)`;
      const [tcpL, tcpD, udpL, rawL, rawD] = await interleave<[WithLine<PairRun>, WithLine<PairRun>, WithLine<UdpRun>, WithLine<PairRun>, WithLine<PairRun>]>(opts.runs, log, [
        { what: 'line TCP', f: via(true, () => tcpRun(ch, bytes, { send: a, recv: b, bindRecv: ADDR.b })), show },
        { what: 'direct TCP', f: via(false, () => tcpRun(ch, bytes, { send: a, recv: b, bindRecv: ADDR.b })), show },
        { what: 'line UDP', f: via(true, () => udpRun(ch, topo, bytes)), show: (r) => `${show(r)}, sent ${r.sentMBps.toFixed(1)} MB/s, lost ${(r.lost * 100).toFixed(1)} %` },
        { what: 'line raw', f: via(true, () => ceilingRun(ch, bytes, LIBRARY_DEFAULT_MTU, undefined, raw)), show },
        { what: 'direct raw', f: via(false, () => ceilingRun(ch, bytes, LIBRARY_DEFAULT_MTU, undefined, raw)), show },
      ]);
      const lineRow = (id: string, label: string, rs: WithLine<PairRun | UdpRun>[], direct?: WithLine<PairRun>[], extra: Row['details'] = {}): Row => ({
        id,
        label,
        mbps: round(medianOf(rs, (r) => r.mbps)),
        runs: rs.map((r) => round(r.mbps)!),
        ratio: direct
          ? round(
              pairedRatio(
                rs.map((r) => r.mbps),
                direct.map((r) => r.mbps),
              ),
              2,
            )
          : undefined,
        ratioTo: direct ? 'the same through plain forwarding in R, run by run' : undefined,
        details: {
          lineCpuSPerGiB: cpuPerGiB(
            medianOf(rs, (r) => r.lineCpuS),
            bytes,
          ),
          directMBps: direct ? round(medianOf(direct, (r) => r.mbps)) : undefined,
          ...extra,
        },
      });
      rows.push(lineRow('line-tcp', `delay line ceiling: node TCP A → B, ${gib(bytes)}`, tcpL, tcpD));
      rows.push(
        lineRow('line-udp', `delay line ceiling: node UDP A → B (1400-byte datagrams, as fast as node sends), ${gib(bytes)}`, udpL, undefined, {
          sentMBps: round(medianOf(udpL, (r) => r.sentMBps)),
          lostPct: round((medianOf(udpL, (r) => r.lost) ?? 0) * 100, 1),
        }),
      );
      rows.push(lineRow('line-raw', `delay line ceiling: raw data channel A → B, mtu ${LIBRARY_DEFAULT_MTU}, ${gib(bytes)}`, rawL, rawD));
    }

    // ---- the profiles
    for (const spec of opts.profiles) {
      const profile = PROFILES[spec.id];
      const bytes = spec.bytes;
      const file = await randomFile(opts.dataDir, bytes, log);
      await l.set(profile);
      log(`bench: profile ${profile.label}, ${gib(bytes)}: raw channel, movie-share${srv ? ', magic-wormhole' : ''}, in turn`);
      const tasks: Task<unknown>[] = [
        { what: `${spec.id} raw`, f: () => lineCpu(l, () => ceilingRun(ch, bytes, LIBRARY_DEFAULT_MTU, undefined, raw)), show: (r) => `${(r as PairRun).mbps.toFixed(1)} MB/s` },
        {
          what: `${spec.id} movie-share`,
          f: () => lineCpu(l, () => movieShareRun(ch, tools, sig.url, file, bytes, opts.dataDir, [], cli)),
          show: (r) => `${(r as ShareRun).mbps.toFixed(1)} MB/s (streaming ${(r as ShareRun).streamMBps?.toFixed(1)}, MTU ${(r as ShareRun).hostMtu})`,
        },
      ];
      if (srv) {
        const s = srv;
        tasks.push({
          what: `${spec.id} wormhole`,
          f: () => lineCpu(l, () => wormholeRun(ch, tools, s, file, bytes, opts.dataDir, cli)),
          show: (r) => `${(r as WormholeRun).mbps.toFixed(1)} MB/s`,
        });
      }
      const results = await interleave<unknown[]>(opts.runs, log, tasks);
      const rawRs = results[0] as WithLine<PairRun>[];
      const shareRs = results[1] as WithLine<ShareRun>[];
      const whRs = (results[2] ?? []) as WithLine<WormholeRun>[];
      const link = linkMBps(profile);
      const lossPct = (rs: WithLine<object>[]) => {
        const lost = medianOf(rs, (r) => r.lineStats.ab.lost + r.lineStats.ba.lost);
        const over = medianOf(rs, (r) => r.lineStats.ab.overflow + r.lineStats.ba.overflow);
        const tun = medianOf(rs, (r) => r.lineStats.ab.tunDrops + r.lineStats.ba.tunDrops);
        return { lineLost: lost, lineQueueDrops: over, lineInputDrops: tun };
      };
      const name = `${profile.label}, ${gib(bytes)}`;
      rows.push({
        id: `${spec.id}-raw`,
        label: `${name}: raw data channel A → B, mtu ${LIBRARY_DEFAULT_MTU}`,
        mbps: round(medianOf(rawRs, (r) => r.mbps)),
        runs: rawRs.map((r) => round(r.mbps)!),
        details: {
          ...pairDetails(rawRs, bytes),
          ofLink: link ? round((medianOf(rawRs, (r) => r.mbps) ?? 0) / link, 2) : undefined,
          ...lossPct(rawRs),
        },
      });
      const shareMbps = medianOf(shareRs, (r) => r.mbps);
      const vsWh = whRs.length
        ? pairedRatio(
            shareRs.map((r) => r.mbps),
            whRs.map((r) => r.mbps),
          )
        : undefined;
      const goals: string[] = [];
      if (vsWh !== undefined) goals.push(`≥ ${PROFILE_GOALS.vsWormhole} × magic-wormhole: ${vsWh >= PROFILE_GOALS.vsWormhole ? 'met' : 'missed'}`);
      if (spec.id === 'longhaul' && link && shareMbps !== undefined)
        goals.push(`≥ ${PROFILE_GOALS.longhaulLinkFraction} × link: ${shareMbps / link >= PROFILE_GOALS.longhaulLinkFraction ? 'met' : 'missed'}`);
      rows.push({
        id: `${spec.id}-movie-share`,
        label: `${name}: movie-share CLIs A → B (product defaults: no --mtu, no --bind-address)`,
        mbps: round(shareMbps),
        runs: shareRs.map((r) => round(r.mbps)!),
        ratio: round(vsWh, 2),
        ratioTo: vsWh !== undefined ? 'magic-wormhole, run by run' : undefined,
        details: {
          goal: goals.join('; ') || undefined,
          vsRaw: round(
            pairedRatio(
              shareRs.map((r) => r.mbps),
              rawRs.map((r) => r.mbps),
            ),
            2,
          ),
          ofLink: link && shareMbps !== undefined ? round(shareMbps / link, 2) : undefined,
          seconds: round(
            medianOf(shareRs, (r) => r.seconds),
            2,
          ),
          streamMBps: round(medianOf(shareRs, (r) => r.streamMBps)),
          firstByteMs: round(
            medianOf(shareRs, (r) => r.firstByteMs),
            0,
          ),
          cpuSPerGiBShare: cpuPerGiB(
            medianOf(shareRs, (r) => r.cpuShareS),
            bytes,
          ),
          cpuSPerGiBGet: cpuPerGiB(
            medianOf(shareRs, (r) => r.cpuGetS),
            bytes,
          ),
          ratioRuns: whRs.length ? shareRs.map((r, i) => (whRs[i] ? round(r.mbps / whRs[i].mbps, 2) : '?')).join('/') : undefined,
          hostMtu: [...new Set(shareRs.map((r) => r.hostMtu))].join('/'),
          ...lossPct(shareRs),
        },
      });
      if (whRs.length) {
        rows.push({
          id: `${spec.id}-wormhole`,
          label: `${name}: magic-wormhole A → relay in B → B`,
          mbps: round(medianOf(whRs, (r) => r.mbps)),
          runs: whRs.map((r) => round(r.mbps)!),
          details: {
            ...pairDetails(whRs, bytes),
            ofLink: link ? round((medianOf(whRs, (r) => r.mbps) ?? 0) / link, 2) : undefined,
            ...lossPct(whRs),
          },
        });
      } else {
        rows.push({ id: `${spec.id}-wormhole`, label: `${name}: magic-wormhole`, details: {}, skipped: wormholeSkip ?? 'not run' });
      }
      const put = (tool: string, rs: { mbps: number }[]) => {
        const m = medianOf(rs, (r) => r.mbps);
        if (m !== undefined) chart.push({ profile: profile.short, tool, mbps: m });
      };
      put('movie-share', shareRs);
      put('raw data channel', rawRs);
      put('magic-wormhole', whRs);
      if (link) chart.push({ profile: profile.short, tool: 'link rate', mbps: link });
    }
    await ch.stop(sig.proc, ...(srv?.procs ?? []));

    // ---- the README's two terminals on one machine, in A (its one LAN address, not the line)
    if (opts.readmeBytes > 0) {
      const bytes = opts.readmeBytes;
      const file = await randomFile(opts.dataDir, bytes, log);
      const one = await startSignal(ch, { prefix: a, host: ADDR.a });
      try {
        log(`bench: the README's two terminals on one machine (namespace A), ${gib(bytes)}, vs the raw channel at mtu 4096 on 127.0.0.1, in turn`);
        const [rawRs, readmeRs] = await interleave<[PairRun, ShareRun]>(opts.runs, log, [
          {
            what: 'raw 4096',
            f: () => ceilingRun(ch, bytes, 4096, undefined, { send: a, recv: a, bindSend: '127.0.0.1', bindRecv: '127.0.0.1' }),
            show: (r) => `${r.mbps.toFixed(1)} MB/s`,
          },
          {
            what: 'README',
            f: () => movieShareRun(ch, tools, one.url, file, bytes, opts.dataDir, [], { send: a, recv: a }),
            show: (r) => `${r.mbps.toFixed(1)} MB/s (MTU ${r.hostMtu})`,
          },
        ]);
        const ratio = pairedRatio(
          readmeRs.map((r) => r.mbps),
          rawRs.map((r) => r.mbps),
        );
        rows.push({
          id: 'readme-raw-4096',
          label: `one machine: raw data channel, mtu 4096, 127.0.0.1, ${gib(bytes)}`,
          mbps: round(medianOf(rawRs, (r) => r.mbps)),
          runs: rawRs.map((r) => round(r.mbps)!),
          details: {},
        });
        rows.push({
          id: 'readme',
          label: `one machine as the README runs it: movie-share FILE --signal URL / movie-get CODE -o OUT --signal URL (no --bind-address, no --mtu), ${gib(bytes)}`,
          mbps: round(medianOf(readmeRs, (r) => r.mbps)),
          runs: readmeRs.map((r) => round(r.mbps)!),
          ratio: round(ratio, 2),
          ratioTo: 'raw data channel at mtu 4096, run by run',
          details: {
            goal: ratio !== undefined ? `≥ ${PROFILE_GOALS.readmeVsRaw4096} × raw 4096: ${ratio >= PROFILE_GOALS.readmeVsRaw4096 ? 'met' : 'missed'}` : undefined,
            streamMBps: round(medianOf(readmeRs, (r) => r.streamMBps)),
            ratioRuns: readmeRs.map((r, i) => round(r.mbps / rawRs[i]!.mbps, 2)).join('/'),
            hostMtu: [...new Set(readmeRs.map((r) => r.hostMtu))].join('/'),
          },
        });
      } finally {
        await ch.stop(one.proc);
      }
    }
    if (opts.chartOut && chart.length) {
      await writeFile(opts.chartOut, await profileChart(chart));
      notes.push(`chart written to ${opts.chartOut}`);
    }
  } finally {
    for (const s of servers) s.kill();
    if (srv) await ch.stop(...srv.procs);
    await line?.stop();
    await topo.destroy();
  }
  return { rows, chart, notes };
}

/**
 * The chart (vega-lite, rendered to SVG without a canvas): one panel per
 * profile with its own scale (LAN and lossy differ 300-fold), a bar per tool
 * (median MB/s), the link's rate as a dashed line.
 */
export async function profileChart(data: ChartDatum[]): Promise<string> {
  const vega = await import('vega');
  const vl = await import('vega-lite');
  const tools = ['movie-share', 'raw data channel', 'magic-wormhole'];
  const bars = { filter: "datum.tool != 'link rate'" };
  const x = { field: 'tool', type: 'nominal', sort: tools, title: null, axis: { labelAngle: -30, labelLimit: 0 } };
  const y = { field: 'mbps', type: 'quantitative', title: 'MB/s (10^6 bytes/s), median' };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'movie-share, the raw data channel and magic-wormhole across the delay line (A → B)', fontSize: 13 },
    data: { values: data.map((d) => ({ ...d, mbps: Number(d.mbps.toFixed(2)) })) },
    facet: { column: { field: 'profile', type: 'nominal', sort: null, title: null, header: { labelFontSize: 11, labelLimit: 0 } } },
    spec: {
      width: 150,
      height: 220,
      layer: [
        {
          transform: [bars],
          mark: 'bar',
          encoding: { x, y, color: { field: 'tool', type: 'nominal', sort: tools, legend: null, scale: { domain: tools, range: ['#d62728', '#7f7f7f', '#1f77b4'] } } },
        },
        { transform: [bars], mark: { type: 'text', dy: -6, fontSize: 10 }, encoding: { x, y, text: { field: 'mbps', type: 'quantitative', format: '.3~r' } } },
        { transform: [{ filter: "datum.tool == 'link rate'" }], mark: { type: 'rule', strokeDash: [4, 3], color: '#444' }, encoding: { y } },
        {
          transform: [{ filter: "datum.tool == 'link rate'" }, { calculate: "'link ' + format(datum.mbps, '.3~r')", as: 'label' }],
          mark: { type: 'text', align: 'right', dy: -5, fontSize: 9, color: '#444' },
          encoding: { y, x: { value: 148 }, text: { field: 'label', type: 'nominal' } },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
  const compiled = vl.compile(spec as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return `${svg}\n`;
}
