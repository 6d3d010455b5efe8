/**
 * A progress bar never swallows the last sentence: a line printed while a TTY
 * bar is live (an error, the Ctrl-C message, a --verbose note) starts on a line
 * of its own, and the bar stops redrawing. A fake TTY stream shows it for
 * progress.ts itself; under a real pseudo-terminal (util-linux `script`), a
 * Ctrl-C typed into movie-get mid-transfer shows it for the CLI.
 */
import { test, after, mock } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { createProgress, endProgressLine, printLine, type TextStream } from '../../peer/cli/progress.js';
import { BIN, Procs } from '../support/procs.js';
import { tempDir } from '../support/files.js';
import { shareJson } from '../support/reliability.js';

/** What a terminal would show: escape sequences (cursor moves, clear, show/hide) and carriage returns removed. */
// eslint-disable-next-line no-control-regex -- ESC (\x1b) starts the very sequences this strips
const visible = (raw: string): string => raw.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '').replace(/\r/g, '');

function fakeTty(): TextStream & { out: string } {
  return {
    out: '',
    isTTY: true,
    columns: 120,
    write(text: string) {
      this.out += text;
      return true;
    },
  };
}

test('a line printed while a TTY bar is live starts on its own line, and the bar no longer redraws', () => {
  mock.timers.enable({ apis: ['setTimeout'] }); // cli-progress redraws from a setTimeout: its clock is ours
  try {
    const tty = fakeTty();
    const bar = createProgress('human', 'receiving', { stream: tty });
    bar.start(1000, 0);
    bar.update(500);
    mock.timers.tick(1000);
    assert.match(visible(tty.out), /receiving .* 50% \| 500 B \/ 1\.00 KB/);
    assert.doesNotMatch(tty.out, /\n/, 'the live bar is mid-line');

    printLine('movie-get: Cancelled. Run both commands again to resume.', tty);
    assert.match(visible(tty.out), /receiving .* 50% [^\n]*\nmovie-get: Cancelled\. Run both commands again to resume\.\n$/);
    assert.ok(tty.out.includes('\x1b[?25h'), 'the cursor is shown again');

    const printed = tty.out;
    bar.update(600);
    mock.timers.tick(5000);
    bar.finish();
    assert.equal(tty.out, printed, 'nothing is drawn after the last sentence');

    printLine('another line', tty); // no bar any more: just the line
    assert.equal(tty.out, `${printed}another line\n`);
  } finally {
    mock.timers.reset();
  }
});

test('without a live bar, endProgressLine writes nothing; a finished bar leaves the cursor on a fresh line', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const tty = fakeTty();
    endProgressLine();
    const bar = createProgress('human', 'sending', { stream: tty });
    bar.start(10, 0);
    bar.update(10);
    bar.finish();
    const finished = tty.out;
    assert.match(visible(finished), /sending .* 100% [^\n]*\n$/);
    endProgressLine();
    printLine('Sent it.', tty);
    assert.equal(tty.out, `${finished}Sent it.\n`);
  } finally {
    mock.timers.reset();
  }
});

test('plain (not a TTY) progress lines are whole lines', () => {
  const out = { ...fakeTty(), isTTY: false };
  const p = createProgress('human', 'receiving', { stream: out, plainEveryMs: 0 });
  p.start(100, 0);
  p.update(50);
  p.finish();
  printLine('done', out);
  assert.match(out.out, /^receiving: 50% \(50 B of 100 B\), .*\ndone\n$/);
});

test('reconnecting shows on the progress line: in the live TTY bar, as a plain line otherwise', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const tty = fakeTty();
    const bar = createProgress('human', 'receiving', { stream: tty });
    bar.start(1000, 0);
    bar.update(400);
    bar.note?.('reconnecting (attempt 2)…');
    mock.timers.tick(1000);
    assert.match(visible(tty.out), /receiving .* 40% .*\| reconnecting \(attempt 2\)…/);
    bar.update(500); // the next update (a new connection carries on) clears it
    mock.timers.tick(1000);
    assert.doesNotMatch(visible(tty.out).split('receiving').pop()!, /reconnecting/);
    bar.finish();
  } finally {
    mock.timers.reset();
  }
  const out = { ...fakeTty(), isTTY: false };
  const p = createProgress('human', 'sending', { stream: out, plainEveryMs: 0 });
  p.start(100, 0);
  p.note?.('reconnecting (attempt 3)…');
  assert.equal(out.out, 'sending: reconnecting (attempt 3)…\n');
});

/* ------------------------------------------------------------------ */

const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
const procs = new Procs();
const dirs: (() => Promise<void>)[] = [];
after(async () => {
  await procs.cleanup();
  for (const remove of dirs) await remove();
});

test(
  'Ctrl-C on movie-get in a terminal mid-transfer: "Cancelled." starts on its own line, after the bar',
  { skip: !hasScript && 'util-linux script is not installed', timeout: 60_000 },
  async () => {
    const { dir, remove } = await tempDir('movie-share-tty-');
    dirs.push(remove);
    // sparse: no time spent writing it; large enough that the transfer is still running when we stop the sender
    const src = join(dir, 'movie.bin');
    const fh = await open(src, 'w');
    await fh.truncate(512 * 1024 * 1024);
    await fh.close();
    const out = join(dir, 'out.bin');
    const { url } = await procs.signal();
    const share = await shareJson(procs, src, url);

    // movie-get on a pseudo-terminal: its stderr is a TTY, so it draws the live bar; what we type goes to that terminal
    const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    const cmd = ['exec', process.execPath, BIN.get, share.code, '-o', out, '--signal', url, '--bind-address', '127.0.0.1'].map(quote).join(' ');
    const get = procs.spawn('script', ['-q', '-e', '-c', cmd, '/dev/null'], { COLUMNS: '120', LINES: '40' }, { stdin: 'pipe' });

    // the bar is drawn once the key arrived (before the first chunk): freeze the sender so the transfer cannot end first
    await get.waitFor(/receiving .*%/, 30_000);
    share.proc.kill('SIGSTOP');
    get.child.stdin!.write('\x03'); // Ctrl-C, as typed
    const code = await get.exited;

    const screen = visible(get.stdout());
    assert.equal(code, 1, `movie-get exit code; terminal showed:\n${screen}`);
    const at = screen.indexOf('movie-get: Cancelled.');
    assert.ok(at > 0, `the cancel sentence is shown; terminal showed:\n${screen}`);
    assert.equal(screen[at - 1], '\n', `the sentence starts on its own line; terminal showed:\n${JSON.stringify(screen.slice(Math.max(0, at - 120), at + 60))}`);
    assert.match(screen.slice(0, at), /receiving [^\n]*%[^\n]*\n$/, "the bar's last frame stays on the line above");
    assert.doesNotMatch(screen.slice(at), /receiving/, 'no bar is drawn after the sentence');
    assert.ok(get.stdout().includes('\x1b[?25h'), 'the cursor is shown again');
  },
);
