/**
 * What the page must never do: run its crypto on a non-secure origin (where
 * the browser withholds WebCrypto) and spend the code's one guess doing so;
 * or let the code reach the server. The code travels in the URL's fragment,
 * which browsers do not send; the server's own debug log is the witness.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { Procs } from '../support/procs.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';
import { launchBrowser, openPage, pageError, pageState } from '../support/browser.js';
import { parseCode } from '../../common/code/code.js';

const procs = new Procs();
let dir: string;
let removeDir: () => Promise<void>;
let browser: Browser;
/** a name that is not loopback to the browser (so not a secure context) yet resolves to 127.0.0.1 */
const INSECURE_HOST = 'movie-share.test';

before(async () => {
  ({ dir, remove: removeDir } = await tempDir());
  browser = await launchBrowser([`--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`]);
});
after(async () => {
  await browser?.close();
  await procs.cleanup();
  await removeDir();
});

test('on a non-secure origin the page refuses before it connects: no socket opened, and the code still works afterwards', { timeout: 120_000 }, async () => {
  const { url } = await procs.signal();
  const src = join(dir, 'insecure.bin');
  await randomFile(src, 100_000);
  const share = await procs.share(src, url, ['--verbose']);
  const insecureUrl = url.replace('127.0.0.1', INSECURE_HOST);
  const tp = await openPage(browser, `${insecureUrl}/#${share.code}`);
  const sockets: string[] = [];
  tp.page.on('websocket', (ws) => sockets.push(ws.url()));
  try {
    assert.equal(await pageState(tp.page, ['insecure', 'connecting', 'failed', 'verified']), 'insecure', tp.log());
    assert.match(await tp.page.locator('#insecure').innerText(), /not loaded over a secure connection.*code is still unused/);
    assert.equal(await tp.page.evaluate(() => (globalThis as unknown as { isSecureContext: boolean }).isSecureContext), false);
    assert.equal(await tp.page.locator('#receive-button').isDisabled(), true);
    // the page has finished starting (state set last); a socket would have been opened by now
    assert.deepEqual(sockets, []);
    assert.doesNotMatch(share.proc.stderr(), /receiver joined/);
    // the code's one guess was not spent: the CLI receives with it
    const out = join(dir, 'insecure.out');
    const get = procs.get(share.code, out, url);
    assert.equal(await get.exited, 0, get.stderr());
    assert.equal(await share.proc.exited, 0, share.proc.stderr());
    assert.ok(await sameBytes(src, out));
  } finally {
    await tp.context.close();
  }
});

/**
 * Words of the code's list that the server's debug log contains whatever the
 * code is: in the debug messages of socket.io, engine.io and their parser and
 * adapter (`debug("…")` strings in node_modules), and in our own event names
 * and payload fields (common/protocol/signal-protocol.ts).
 */
const LOG_VOCABULARY = new Set(
  'before chunk client data during empty engine error event extra handle index join message orderly origin parent path probe type signal token peer member'.split(' '),
);

test("the signaling server's socket.io debug log holds neither the code's words nor the fragment", { timeout: 120_000 }, async () => {
  const signal = await procs.signal([], { DEBUG: 'socket.io*,engine*' });
  const { url } = signal;
  const src = join(dir, 'debug.bin');
  await randomFile(src, 1_000_000);
  const share = await procs.share(src, url);
  const tp = await openPage(browser, `${url}/#${share.code}`);
  try {
    let state = await pageState(tp.page, ['choosing', 'verified', 'failed']);
    if (state === 'choosing') {
      await tp.page.click('#save-as');
      state = await pageState(tp.page, ['verified', 'failed']);
    }
    assert.equal(state, 'verified', JSON.stringify(await pageError(tp.page)));
    assert.equal(await share.proc.exited, 0);
    const log = signal.proc.stderr() + signal.proc.stdout();
    // the witness is real: the debug log shows the room being joined
    const { room, words } = parseCode(share.code);
    assert.match(log, /socket\.io/);
    assert.ok(log.includes(room), 'the debug log shows the room id (it is not secret)');
    // a word the log uses on its own (socket.io's and engine.io's debug messages, our event names and fields) proves nothing
    for (const w of words.filter((x) => !LOG_VOCABULARY.has(x))) assert.ok(!new RegExp(`\\b${w}\\b`, 'i').test(log), `the word "${w}" is in the server's log`);
    assert.ok(!log.includes(share.code), 'the whole code is in the server log');
    assert.ok(!log.includes(`#${room}`), 'the fragment reached the server');
  } finally {
    await tp.context.close();
  }
});
