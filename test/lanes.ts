/**
 * `npm test`'s runner: every test file, in two lanes at once, each lane one
 * file at a time (node --test --test-concurrency=1).
 *
 * Lane B holds files that mostly wait (rate-capped playback transfers, the
 * signaling server's timeouts and windows, peers killed mid-transfer, pages
 * waiting for a host) and none that uses the default
 * port 8080 (the embedded-server tests, in lane A, must find it free), so
 * together the lanes take little more CPU than lane A alone and finish a few
 * minutes sooner. Lane A's report is printed as it runs, lane B's after it;
 * the exit code is non-zero if either lane failed.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const LANE_B = new Set([
  'reliability-transfer.test.js',
  'browser-receive.test.js',
  'play-cli.test.js',
  'browser-play.test.js',
  'reliability-signal.test.js',
  'signaling-rooms.test.js',
  'signaling-ratelimit.test.js',
  'signaling-harden.test.js',
  'signaling-cli.test.js',
  'signaling-redis.test.js',
  // rate-capped transfers through a 10 s link outage, a peer's silence plus
  // --patience, and 60 small relayed transfers (mostly ICE/TURN round trips)
  'healing.test.js',
  // movie-get without -o and --text: short transfers, mostly process start-up
  'default-out-text.test.js',
  // sets: rate-capped transfers interrupted or tampered with mid-way, and 13 refused manifests
  'folders.test.js',
]);

const here = fileURLToPath(new URL('.', import.meta.url));
const files = (sub: string): string[] =>
  readdirSync(`${here}${sub}`)
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => `${here}${sub}/${f}`);
const all = [...files('unit'), ...files('system')];
const laneB = all.filter((f) => LANE_B.has(f.slice(f.lastIndexOf('/') + 1)));
const laneA = all.filter((f) => !laneB.includes(f));

function run(lane: string[], live: boolean): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...lane], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (b: Buffer, to: NodeJS.WriteStream): void => {
      if (live) to.write(b);
      else output += b.toString();
    };
    child.stdout.on('data', (b: Buffer) => take(b, process.stdout));
    child.stderr.on('data', (b: Buffer) => take(b, process.stderr));
    child.on('close', (code, sig) => resolve({ code: code ?? (sig ? 1 : 0), output }));
  });
}

const [a, b] = await Promise.all([run(laneA, true), run(laneB, false)]);
process.stdout.write(`\n# ---- lane B (run beside the above): ${laneB.length} files ----\n${b.output}`);
process.stdout.write(`\n# lane A: exit ${a.code}; lane B: exit ${b.code}\n`);
process.exit(a.code !== 0 ? a.code : b.code);
