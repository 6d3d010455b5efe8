/**
 * Progress on stderr: a live bar on a TTY (cli-progress), one plain line every
 * few seconds otherwise; `--json` events on stdout instead; `--quiet` nothing.
 *
 * Every other line the CLIs print on stderr goes through `printLine`, so that
 * it starts on a line of its own even while a bar is drawn (see endProgressLine).
 */
import cliProgress from 'cli-progress';
import { silentProgress, type ProgressSink } from '../transfer/session.js';
import { formatBytes } from '../../common/format.js';
import { safeText } from '../../common/terminal.js';
import { fileAt, streamFiles, type Manifest, type StreamFile } from '../../common/protocol/manifest.js';

export type OutputMode = 'human' | 'json' | 'quiet';

/** Where progress and messages go: process.stderr, or a stand-in in tests. */
export interface TextStream {
  write(text: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

/**
 * The TTY bar being drawn right now, if any. cli-progress leaves the cursor at
 * the end of the bar's line and redraws that line a few times a second, so a
 * message written as is would be glued to the bar (`… ETA 21 s^Cmovie-get:
 * Cancelled.`), and one the bar outlived could be drawn over.
 */
let liveBar: cliProgress.SingleBar | undefined;

/**
 * End a live bar's line: stop the bar, which leaves its last frame on its own
 * line, shows the cursor again and moves to the next line. After this nothing
 * redraws over what is printed next; the transfer's own finish() is then a
 * no-op. Without a live bar: nothing.
 */
export function endProgressLine(): void {
  const bar = liveBar;
  liveBar = undefined;
  bar?.stop();
}

/**
 * One line on stderr (or `stream`), starting on a line of its own even while a
 * progress bar is live. The one place the CLIs print text: whatever came from
 * outside (an abort message, a server's reply, a file name) loses its terminal
 * controls here (safeText), line by line (a stack trace under MOVIE_DEBUG keeps its lines).
 */
export function printLine(line: string, stream: TextStream = process.stderr): void {
  endProgressLine();
  stream.write(`${line.split('\n').map(safeText).join('\n')}\n`);
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.ceil(seconds % 60)} s`;
}

/**
 * One JSON event on stdout. JSON.stringify escapes C0 controls but not DEL,
 * C1 controls (U+009B is a CSI) or bidi overrides: they are written as \uXXXX
 * escapes too, so the line is safe on a terminal and still says exactly what came.
 */
export function jsonEvent(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${jsonLine({ event, ...fields })}\n`);
}

export function jsonLine(v: unknown): string {
  return JSON.stringify(v).replace(/[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A rate meter over the bytes of this run (not counting resumed bytes). */
class Meter {
  private t0 = Date.now();
  private base = 0;
  reset(base: number): void {
    this.t0 = Date.now();
    this.base = base;
  }
  rate(done: number): number {
    const s = (Date.now() - this.t0) / 1000;
    return s > 0 ? (done - this.base) / s : 0;
  }
}

export interface ProgressOptions {
  /** default process.stderr; a bar only if it is a TTY */
  stream?: TextStream;
  /** without a TTY: at most one line this often; default 3000 */
  plainEveryMs?: number;
}

export function createProgress(mode: OutputMode, verb: string, opts: ProgressOptions = {}): ProgressSink {
  const stream = opts.stream ?? process.stderr;
  const plainEveryMs = opts.plainEveryMs ?? 3000;
  const meter = new Meter();
  let total = 0;
  if (mode === 'quiet') return silentProgress;
  if (mode === 'json') {
    let lastEmit = 0;
    let last = 0;
    return {
      start(t, already) {
        total = t;
        meter.reset(already);
      },
      update(done) {
        last = done;
        const now = Date.now();
        if (now - lastEmit < 1000) return;
        lastEmit = now;
        jsonEvent('progress', { bytes: done, total, rate: Math.round(meter.rate(done)) });
      },
      finish() {
        jsonEvent('progress', { bytes: total, total, rate: Math.round(meter.rate(last)) });
      },
    };
  }
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: stream as NodeJS.WritableStream,
        format: `${verb} {bar} {percentage}% | {doneH} / {totalH} | {speed}/s | ETA {etaH}{note}`,
        hideCursor: true,
        fps: 5,
        barsize: 30,
      },
      cliProgress.Presets.shades_classic,
    );
    let last = 0;
    /** the file of a set being sent or received, shown after the numbers */
    let current = '';
    const fields = (done: number, note = '') => {
      const rate = meter.rate(done);
      return { doneH: formatBytes(done), totalH: formatBytes(total), speed: formatBytes(rate), etaH: formatEta((total - done) / rate), note: note || current };
    };
    return {
      start(t, already) {
        total = t;
        meter.reset(already);
        last = already;
        bar.start(Math.max(t, 1), already, fields(already));
        liveBar = bar;
      },
      update(done) {
        last = done;
        bar.update(done, fields(done));
      },
      note(text) {
        if (liveBar === bar) bar.update(last, fields(last, ` | ${text}`));
        else printLine(`${verb}: ${text}`, stream);
      },
      label(text) {
        current = ` | ${text}`;
      },
      finish() {
        // once endProgressLine() stopped the bar, both calls do nothing
        bar.update(Math.max(total, 1), fields(total));
        bar.stop();
        if (liveBar === bar) liveBar = undefined;
      },
    };
  }
  let lastLine = 0;
  let current = '';
  return {
    label(text) {
      current = `: ${text}`;
    },
    start(t, already) {
      total = t;
      meter.reset(already);
      lastLine = Date.now();
    },
    update(done) {
      const now = Date.now();
      if (now - lastLine < plainEveryMs) return;
      lastLine = now;
      const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
      const rate = meter.rate(done);
      stream.write(`${verb}: ${pct}% (${formatBytes(done)} of ${formatBytes(total)}), ${formatBytes(rate)}/s, ETA ${formatEta((total - done) / rate)}${current}\n`);
    },
    // the CLI's closing sentence ("Received …" / "Sent …") reports the end
    finish() {},
    note(text) {
      stream.write(`${verb}: ${text}\n`);
    },
  };
}

/**
 * A set's progress: the line names the file at the current offset of the
 * stream (files back to back), and `onFile` hears each file as it begins.
 */
export function setProgress(inner: ProgressSink, manifest: Manifest | Promise<Manifest>, onFile: (f: StreamFile) => void): ProgressSink {
  let files: StreamFile[] = [];
  void Promise.resolve(manifest).then(
    (m) => (files = streamFiles(m)),
    () => undefined,
  );
  let current = -1;
  /** the file holding the last byte moved: its first byte has been read (host) or written (receiver) */
  const follow = (done: number): void => {
    if (files.length === 0 || done === 0) return;
    const i = fileAt(files, done - 1);
    for (let j = current + 1; j <= i; j++) onFile(files[j]!);
    if (i > current) {
      current = i;
      inner.label?.(safeText(files[i]!.path));
    }
  };
  return {
    start: (total, already) => {
      follow(already);
      inner.start(total, already);
    },
    update: (done) => {
      follow(done);
      inner.update(done);
    },
    finish: () => inner.finish(),
    note: (text) => inner.note?.(text),
  };
}
