/**
 * The page as a person uses it: by keyboard, with a screen reader's
 * landmarks (labels, a live region, an alert), on a phone-sized screen, and
 * with the CLI's typo checks on the code before anything connects.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { Procs } from '../support/procs.js';
import { launchBrowser, openPage, pageError, pageState } from '../support/browser.js';

declare const document: {
  activeElement: { id: string } | null;
  documentElement: { scrollWidth: number; clientWidth: number };
  querySelectorAll(s: string): ArrayLike<{ id: string; labels: ArrayLike<unknown> | null; getAttribute(n: string): string | null }>;
};

const procs = new Procs();
let url: string;
let browser: Browser;

before(async () => {
  ({ url } = await procs.signal());
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await procs.cleanup();
});

test('a mistyped code is caught in place, with the CLI sentence, before any connection', { timeout: 60_000 }, async () => {
  const tp = await openPage(browser, `${url}/`);
  const sockets: string[] = [];
  tp.page.on('websocket', (ws) => sockets.push(ws.url()));
  try {
    await pageState(tp.page, ['idle']);
    await tp.page.getByLabel('Code from the sender').fill('k7pqp-apple-rivr-violin');
    await tp.page.keyboard.press('Enter');
    await tp.page.locator('#code-error').waitFor({ state: 'visible' });
    assert.equal(await tp.page.locator('#code-error').innerText(), 'The second word of the code, "rivr", is not a code word; did you mean "river"?');
    assert.equal(await tp.page.locator('#code-input').getAttribute('aria-invalid'), 'true');
    assert.equal(await tp.page.evaluate(() => document.activeElement?.id), 'code-input');
    assert.deepEqual(sockets, [], 'nothing connected');
    assert.equal(await pageState(tp.page, ['idle']), 'idle');
  } finally {
    await tp.context.close();
  }
});

test('by keyboard alone: Tab reaches the code field, Enter receives; an unknown code ends in the wrong-code sentence', { timeout: 60_000 }, async () => {
  const tp = await openPage(browser, `${url}/`);
  try {
    await pageState(tp.page, ['idle']);
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      await tp.page.keyboard.press('Tab');
      order.push(await tp.page.evaluate(() => document.activeElement?.id ?? ''));
    }
    assert.deepEqual(order, ['code-input', 'receive-button', 'file-input']);
    await tp.page.keyboard.press('Shift+Tab');
    await tp.page.keyboard.press('Shift+Tab');
    await tp.page.keyboard.type('k7pqp-apple-river-violin');
    await tp.page.keyboard.press('Enter');
    assert.equal(await pageState(tp.page, ['failed', 'verified']), 'failed');
    const err = await pageError(tp.page);
    assert.equal(err.exitCode, 4);
    assert.match(err.text, /^Wrong code: No transfer is waiting under that code/);
    // the transfer section took the focus, so a screen reader reads on from there
    assert.equal(await tp.page.evaluate(() => document.activeElement?.id), 'transfer-title');
  } finally {
    await tp.context.close();
  }
});

test('every control has a label; progress has a live region and a label; a phone-sized screen never scrolls sideways', { timeout: 60_000 }, async () => {
  const tp = await openPage(browser, `${url}/`);
  try {
    await pageState(tp.page, ['idle']);
    const unlabelled = await tp.page.evaluate(() =>
      Array.from(document.querySelectorAll('input, progress'))
        .filter((e) => (e.labels?.length ?? 0) === 0 && !e.getAttribute('aria-labelledby') && !e.getAttribute('aria-label'))
        .map((e) => e.id),
    );
    assert.deepEqual(unlabelled, []);
    assert.equal(await tp.page.locator('[role=status][aria-live=polite]').count(), 1);
    assert.equal(await tp.page.locator('#error[role=alert]').count(), 1);
    for (const [width, height] of [
      [360, 740],
      [390, 844],
    ] as const) {
      await tp.page.setViewportSize({ width, height });
      // the widest state: a code, a link and a command line shown to a sender
      await tp.page.evaluate(() => {
        const d = globalThis as unknown as { document: { getElementById(id: string): { hidden: boolean; textContent: string } } };
        d.document.getElementById('transfer').hidden = false;
        d.document.getElementById('share-code').hidden = false;
        d.document.getElementById('send-link').textContent = 'https://movie-share.example.org/#k7pqp-apple-river-violin';
        d.document.getElementById('send-command').textContent = 'movie-get k7pqp-apple-river-violin -o a-rather-long-movie-name-2026.mp4';
      });
      const { scrollWidth, clientWidth } = await tp.page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }));
      assert.ok(scrollWidth <= clientWidth, `${width}px: the page is ${scrollWidth}px wide`);
    }
  } finally {
    await tp.context.close();
  }
});
