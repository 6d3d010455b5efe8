/**
 * Play while downloading, through the real CLIs against a real movie-signal on
 * 127.0.0.1: `movie-get CODE -o -` into a decoder (ffmpeg), `--play` with
 * Range requests from the real curl, the final-hash failure on stdout, and
 * `--max-rate`. Transfers are rate-capped so that they last long enough to
 * play during them; the cases run concurrently. Every time bound here is a
 * lower bound or a generous timeout: the machine may be slow and loaded.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, DIST, Procs, type Proc } from '../support/procs.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';
import { makeFaststartVideo, VIDEO_SECONDS } from '../support/videos.js';
import { rawRequest } from '../support/http.js';
import { WORDS } from '../../common/code/wordlist.js';
import { formatCode } from '../../common/code/code.js';
import { PlayServer, type PlaySource } from '../../peer/node/play-server.js';

const LYING_HOST = `${DIST}test/support/lying-host-main.js`;
/** how long the rate-capped video transfers should last: -o - into ffmpeg, and --play */
const PIPE_SECONDS = 10;
const PLAY_SECONDS = 12;
const FPS = 25;

const procs = new Procs();
let url: string;
let dir: string;
let removeDir: () => Promise<void>;
/** faststart.mp4 of test/support/videos.ts: H.264 + AAC, `moov` first, so it decodes from a pipe */
let videoPath: string;
let video: Buffer;
/** bytes per second that make the video's transfer last `seconds` */
const rateFor = (seconds: number): number => Math.max(64 * 1024, Math.round(video.length / seconds));

before(async () => {
  ({ dir, remove: removeDir } = await tempDir('movie-share-play-'));
  const [sig, v] = await Promise.all([procs.signal(), makeFaststartVideo(dir)]);
  url = sig.url;
  videoPath = v;
  video = await readFile(videoPath);
});
after(async () => {
  await procs.cleanup();
  await removeDir();
});

/** `promise`, or a clear failure after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms / 1000} s`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every byte a child writes on stdout, as bytes (Procs keeps only text). */
function collectStdout(p: Proc, onData?: (d: Buffer) => void): { bytes: () => Buffer; ended: Promise<void> } {
  const parts: Buffer[] = [];
  p.child.stdout!.on('data', (d: Buffer) => {
    parts.push(d);
    onData?.(d);
  });
  const ended = new Promise<void>((resolve) => p.child.stdout!.once('close', () => resolve()));
  return { bytes: () => Buffer.concat(parts), ended };
}

interface CurlResult {
  status: number;
  headers: string;
  body: Buffer;
  ms: number;
}

/** The real curl: `curl -s [-r RANGE] URL`, headers and body to files. */
async function curl(target: string, name: string, range?: string): Promise<CurlResult> {
  const body = join(dir, `${name}.body`);
  const headers = join(dir, `${name}.headers`);
  const t0 = Date.now();
  const p = procs.spawn('curl', ['-s', '--max-time', '60', ...(range ? ['-r', range] : []), '-D', headers, '-o', body, '-w', '%{http_code}', target]);
  const code = await within(p.exited, 70_000, `curl ${range ?? ''} ${target}`);
  assert.equal(code, 0, `curl failed (${code}): ${p.stderr()}`);
  return { status: Number(p.stdout()), headers: await readFile(headers, 'utf8'), body: await readFile(body).catch(() => Buffer.alloc(0)), ms: Date.now() - t0 };
}

describe('play while downloading', { concurrency: true }, () => {
  test('movie-get -o - | ffmpeg: frames are decoded well before the transfer ends; the bytes are the source; all exit 0', { timeout: 120_000 }, async (t) => {
    const rate = rateFor(PIPE_SECONDS);
    const share = await procs.share(videoPath, url, ['--max-rate', String(rate)]);
    const t0 = Date.now();
    const ff = procs.spawn('ffmpeg', ['-v', 'error', '-nostats', '-progress', 'pipe:1', '-stats_period', '0.25', '-i', 'pipe:0', '-f', 'null', '-'], {}, { stdin: 'pipe' });
    ff.child.stdin!.on('error', () => undefined); // ffmpeg gone: its exit code tells
    let firstFrameAt: number | undefined;
    let frames = 0;
    let bytesAtFirstFrame = 0;
    let firstByteAt: number | undefined;
    ff.child.stdout!.on('data', () => {
      for (const m of ff.stdout().matchAll(/^frame=(\d+)$/gm)) frames = Math.max(frames, Number(m[1]));
      if (frames > 0 && firstFrameAt === undefined) {
        firstFrameAt = Date.now();
        bytesAtFirstFrame = out.bytes().length;
      }
    });
    const get = procs.get(share.code, '-', url);
    const out = collectStdout(get, (d) => {
      firstByteAt ??= Date.now();
      ff.child.stdin!.write(d);
    });
    void out.ended.then(() => ff.child.stdin!.end());
    let getExitAt = 0;
    const [gc, sc, fc] = await within(Promise.all([get.exited.then((c) => ((getExitAt = Date.now()), c)), share.proc.exited, ff.exited]), 100_000, 'movie-get -o - | ffmpeg');
    assert.equal(gc, 0, `movie-get: ${get.stderr()}`);
    assert.equal(sc, 0, `movie-share: ${share.proc.stderr()}`);
    assert.equal(fc, 0, `ffmpeg: ${ff.stderr()}`);
    assert.ok(out.bytes().equals(video), `stdout holds exactly the source (${out.bytes().length} of ${video.length} bytes)`);
    assert.match(get.stderr(), /Received .* into stdout in .*SHA-256 verified/);
    assert.ok(frames >= VIDEO_SECONDS * FPS * 0.95, `ffmpeg decoded the whole video (${frames} frames)`);
    assert.ok(firstFrameAt !== undefined, 'ffmpeg reported no frame');
    t.diagnostic(
      `${video.length} bytes at ${rate} B/s: movie-get exited after ${((getExitAt - t0) / 1000).toFixed(1)} s, first byte on stdout after ${(((firstByteAt ?? t0) - t0) / 1000).toFixed(1)} s, ffmpeg's first frame after ${((firstFrameAt - t0) / 1000).toFixed(1)} s (${bytesAtFirstFrame} bytes in)`,
    );
    assert.ok(getExitAt - firstFrameAt >= 5000, `first frame ${(getExitAt - firstFrameAt) / 1000} s before movie-get exited; expected at least 5 s`);
  });

  test('--play: Range requests (curl) at the end, the middle and the start while the file arrives; then the saved file; Ctrl-C exits 0', { timeout: 120_000 }, async (t) => {
    const size = video.length;
    const out = join(dir, 'played.mp4');
    const share = await procs.share(videoPath, url, ['--max-rate', String(rateFor(PLAY_SECONDS))]);
    const get = procs.get(share.code, out, url, ['--play']);
    const m = await get.waitFor(/Playing: (http:\/\/127\.0\.0\.1:(\d+)\/(\S+))/, 60_000);
    const playUrl = m[1]!;
    assert.equal(m[3], 'faststart.mp4', 'the path is the host file name');
    const tPlaying = Date.now();

    // the end and the middle first: in file order they would come last
    const mid = Math.floor(size / 2);
    const cases: [string, number, number][] = [
      ['end', size - 150_000, size - 1],
      ['middle', mid, mid + 400_000],
      ['start', 0, 99_999],
    ];
    for (const [name, a, b] of cases) {
      const r = await curl(playUrl, `range-${name}`, `${a}-${b}`);
      assert.equal(r.status, 206, `${name}: ${r.headers}`);
      assert.match(r.headers, new RegExp(`^content-range: bytes ${a}-${b}/${size}\\r?$`, 'im'), name);
      assert.match(r.headers, new RegExp(`^content-length: ${b - a + 1}\\r?$`, 'im'), name);
      assert.match(r.headers, /^accept-ranges: bytes\r?$/im, name);
      assert.match(r.headers, /^content-type: video\/mp4\r?$/im, name);
      assert.ok(r.body.equals(video.subarray(a, b + 1)), `${name}: the source's bytes ${a}-${b} (got ${r.body.length} bytes)`);
      t.diagnostic(`range ${name} (${a}-${b}) served in ${r.ms} ms`);
    }
    const suffix = await curl(playUrl, 'range-suffix', '-1000');
    assert.equal(suffix.status, 206);
    assert.ok(suffix.body.equals(video.subarray(size - 1000)), 'bytes=-1000: the last 1000 bytes');
    // the end and middle came well before the rest of the file: the transfer is still running
    assert.equal(get.child.exitCode, null, 'movie-get still receiving');
    assert.doesNotMatch(get.stderr(), /Received /, 'the transfer had not finished when the end and middle were served');
    t.diagnostic(`ranges done ${((Date.now() - tPlaying) / 1000).toFixed(1)} s after "Playing:"`);

    const past = await curl(playUrl, 'range-past', `${size}-`);
    assert.equal(past.status, 416);
    assert.match(past.headers, new RegExp(`^content-range: bytes \\*/${size}\\r?$`, 'im'));
    const head = await rawRequest(playUrl, new URL(playUrl).pathname, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(size));
    assert.equal(head.headers['accept-ranges'], 'bytes');
    assert.equal((await rawRequest(playUrl, '/other.mp4')).status, 404);
    assert.equal((await rawRequest(playUrl, '/../faststart.mp4')).status, 404);

    await get.waitFor(/Verified and saved; the player can go on at (\S+) until you press Ctrl-C/, 90_000);
    assert.equal(await within(share.proc.exited, 30_000, 'movie-share'), 0, share.proc.stderr());
    assert.ok(await sameBytes(videoPath, out), 'OUT is the source');
    const whole = await curl(playUrl, 'whole-after');
    assert.equal(whole.status, 200);
    assert.ok(whole.body.equals(video), 'the URL still serves the whole file');
    const tail = await curl(playUrl, 'tail-after', `${size - 10}-`);
    assert.ok(tail.body.equals(video.subarray(size - 10)));
    assert.equal(get.child.exitCode, null, 'still serving');
    get.kill('SIGINT');
    assert.equal(await within(get.exited, 20_000, 'movie-get after SIGINT'), 0, get.stderr());
  });

  test('-o - and a host that claims a wrong SHA-256: the bytes are out, exit 3', { timeout: 90_000 }, async () => {
    const host = procs.node(LYING_HOST, [url, videoPath, String(rateFor(5))]);
    const m = await host.waitFor(/"code":"([^"]+)"/, 30_000);
    const get = procs.get(m[1]!, '-', url);
    const out = collectStdout(get);
    const [gc, hc] = await within(Promise.all([get.exited, host.exited]), 60_000, 'movie-get from the lying host');
    assert.equal(gc, 3, get.stderr());
    assert.equal(hc, 3, host.stderr());
    assert.match(get.stderr(), /stdout does not match the sender's SHA-256/);
    assert.ok(out.bytes().equals(video), 'every (authenticated) byte went out before the final check');
  });

  test('-o - and a player that quits (EPIPE): movie-get exits 1 with a sentence, the host is told', { timeout: 90_000 }, async () => {
    const share = await procs.share(videoPath, url, ['--max-rate', String(rateFor(PIPE_SECONDS))]);
    const get = procs.get(share.code, '-', url);
    let got = 0;
    await within(
      new Promise<void>((resolve) =>
        get.child.stdout!.on('data', (d: Buffer) => {
          got += d.length;
          if (got >= 100_000) resolve();
        }),
      ),
      60_000,
      'the first 100 kB on stdout',
    );
    get.child.stdout!.destroy(); // the reading end of the pipe closes, as when a player quits
    const [gc, sc] = await within(Promise.all([get.exited, share.proc.exited]), 30_000, 'both sides after the player quit');
    assert.equal(gc, 1, get.stderr());
    assert.match(get.stderr(), /The program reading stdout \(the player\) stopped reading, so the download was stopped\./);
    assert.notEqual(sc, 0, share.proc.stderr());
    assert.match(share.proc.stderr(), /stopped reading/, 'the host was told why');
  });

  test('--max-rate on movie-get: N bytes take at least 0.8·N/R s; the bytes are identical', { timeout: 90_000 }, async (t) => {
    const size = 2 * 1024 * 1024;
    const r = 400_000;
    const src = join(dir, 'capped.src');
    const out = join(dir, 'capped.out');
    await randomFile(src, size);
    const share = await procs.share(src, url);
    const get = procs.get(share.code, out, url, ['--max-rate', '400K']);
    await get.waitFor(/Connected to the sender/, 60_000);
    const t0 = Date.now();
    const [gc, sc] = await within(Promise.all([get.exited, share.proc.exited]), 60_000, 'the rate-capped transfer');
    const secs = (Date.now() - t0) / 1000;
    assert.equal(gc, 0, get.stderr());
    assert.equal(sc, 0, share.proc.stderr());
    assert.ok(await sameBytes(src, out));
    t.diagnostic(`${size} bytes at --max-rate 400K: ${secs.toFixed(1)} s (N/R = ${(size / r).toFixed(1)} s)`);
    assert.ok(secs >= (0.8 * size) / r, `${secs} s: faster than the cap allows`);
  });

  test('usage errors: --max-rate abc, -o - with --json or --play, --play-port without --play', async () => {
    const dead = 'http://127.0.0.1:9'; // never reached: usage is checked first
    const code = formatCode('2345', [WORDS[0]!, WORDS[1]!, WORDS[2]!]);
    const cases: [Proc, RegExp][] = [
      [procs.get(code, join(dir, 'x.out'), dead, ['--max-rate', 'abc']), /--max-rate must be a rate/],
      [procs.node(BIN.share, [videoPath, '--signal', dead, '--max-rate', 'abc']), /--max-rate must be a rate/],
      [procs.get(code, '-', dead, ['--json']), /--json prints events on stdout/],
      [procs.get(code, '-', dead, ['--play']), /--play serves a file on disk/],
      [procs.get(code, join(dir, 'y.out'), dead, ['--play-port', '8000']), /--play-port needs --play/],
      [procs.get(code, join(dir, 'y.out'), dead, ['--play', '--play-port', 'x']), /--play-port must be a port number/],
    ];
    for (const [p, re] of cases) {
      assert.equal(await within(p.exited, 30_000, 'a usage error'), 2, p.stderr());
      assert.match(p.stderr(), re);
      assert.equal(p.stdout(), '', 'nothing on stdout');
    }
  });

  test('the play server: a client that disconnects mid-body breaks nothing; HEAD, 200, 206, 416, 404', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 7);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    let slow = true;
    const source: PlaySource = {
      size: data.length,
      read: async (o, l) => {
        if (slow) await new Promise((r) => setTimeout(r, 300));
        return data.subarray(o, o + l);
      },
    };
    const server = await PlayServer.listen(0);
    try {
      const u = server.serve('my/odd name?.webm', source);
      // the name as common/file-name.ts makes it safe: the last path part, `?` replaced
      assert.match(u, /^http:\/\/127\.0\.0\.1:\d+\/odd%20name_\.webm$/);
      // a client that reads the first bytes of the whole file and hangs up
      await new Promise<void>((resolve, reject) => {
        const req = http.get(u, { agent: false }, (res) => {
          assert.equal(res.statusCode, 200);
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (e) => (req.destroyed ? undefined : reject(e)));
      });
      slow = false;
      const head = await rawRequest(u, new URL(u).pathname, { method: 'HEAD' });
      assert.equal(head.headers['content-type'], 'video/webm');
      assert.equal(head.headers['content-length'], String(data.length));
      const r = await curl(u, 'server-range', '1048570-2097160');
      assert.equal(r.status, 206);
      assert.ok(r.body.equals(data.subarray(1048570, 2097161)));
      const all = await curl(u, 'server-all');
      assert.ok(all.body.equals(data));
      assert.equal((await curl(u, 'server-416', `${data.length + 5}-`)).status, 416);
      assert.equal((await rawRequest(u, '/my/odd%20name%3F.webm')).status, 404);
      assert.equal((await rawRequest(u, new URL(u).pathname, { method: 'POST' })).status, 405);
    } finally {
      await server.close();
    }
  });
});
