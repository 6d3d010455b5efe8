/**
 * Real videos for the playback tests, made with Debian's ffmpeg (installed by
 * .ci/run): 30 s of `testsrc` at 720p with a sine tone, one keyframe a
 * second (so a seek needs at most a second of video before the target):
 *
 *   faststart.mp4  H.264 + AAC, `moov` first: plays from a sequential stream
 *   moov-end.mp4   the same streams remuxed with `moov` at the end: a player
 *                  must read the tail before it can play
 *   vp9.webm       VP9 + Opus
 *
 * Each is about 4 MB; `--max-rate 330K` makes a transfer last ~12 s.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestVideos {
  faststart: string;
  moovEnd: string;
  webm: string;
}

export const VIDEO_SECONDS = 30;

const SOURCES = ['-f', 'lavfi', '-i', `testsrc=duration=${VIDEO_SECONDS}:size=1280x720:rate=25`, '-f', 'lavfi', '-i', `sine=frequency=440:duration=${VIDEO_SECONDS}`];

async function ffmpeg(args: string[]): Promise<void> {
  await run('ffmpeg', ['-v', 'error', '-y', ...args], { timeout: 120_000 });
}

const H264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-b:v', '1M', '-pix_fmt', 'yuv420p', '-c:a', 'aac'];

/** Makes only faststart.mp4 in `dir` (a third of the CPU of all three) and returns its path. */
export async function makeFaststartVideo(dir: string): Promise<string> {
  const path = join(dir, 'faststart.mp4');
  await ffmpeg([...SOURCES, ...H264, '-movflags', '+faststart', path]);
  return path;
}

/** Makes the three videos in `dir` (about 10 s of CPU). */
export async function makeTestVideos(dir: string): Promise<TestVideos> {
  const v = startTestVideos(dir);
  return { faststart: await v.faststart, moovEnd: await v.moovEnd, webm: await v.webm };
}

/** The same, each video's path resolving as soon as that one is made: the faststart MP4 first, then the other two at once, so a test can start with the first. */
export function startTestVideos(dir: string): { [K in keyof TestVideos]: Promise<string> } {
  const v: TestVideos = { faststart: join(dir, 'faststart.mp4'), moovEnd: join(dir, 'moov-end.mp4'), webm: join(dir, 'vp9.webm') };
  const faststart = makeFaststartVideo(dir);
  const moovEnd = faststart.then(() => ffmpeg(['-i', v.faststart, '-c', 'copy', v.moovEnd])).then(() => v.moovEnd); // no +faststart: moov goes last
  const webm = faststart
    .then(() => ffmpeg([...SOURCES, '-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-row-mt', '1', '-g', '25', '-b:v', '1M', '-c:a', 'libopus', v.webm]))
    .then(() => v.webm);
  for (const p of [faststart, moovEnd, webm]) p.catch(() => undefined); // reported where awaited
  return { faststart, moovEnd, webm };
}

/** Where the `moov` box of an MP4 starts (its top-level boxes, walked). */
export async function moovOffset(path: string): Promise<number> {
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'r');
  try {
    const size = (await stat(path)).size;
    const head = Buffer.alloc(16);
    for (let at = 0; at + 8 <= size;) {
      await fh.read(head, 0, 16, at);
      let len = head.readUInt32BE(0);
      const type = head.toString('latin1', 4, 8);
      if (len === 1) len = Number(head.readBigUInt64BE(8));
      if (type === 'moov') return at;
      if (len < 8) break;
      at += len;
    }
    return -1;
  } finally {
    await fh.close();
  }
}
