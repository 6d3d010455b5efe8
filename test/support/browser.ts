/**
 * Debian's chromium, driven by playwright-core, for the page's tests. One
 * browser per test file (closed in `after`, even on failure); one context
 * per page, so pages share no storage.
 *
 * Chromium gathers only mDNS `.local` host candidates and, by default, never
 * uses loopback for WebRTC; `--allow-loopback-in-peer-connection` lets it
 * reach a CLI bound to 127.0.0.1, so every test stays on loopback. The other
 * flags keep it from calling out (this machine's network is closed).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Download, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

// What the functions below use inside the page, typed here (module scope) so
// that the DOM's types do not leak into the Node code's compilation.
interface PageFile {
  size: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}
interface PageFileHandle {
  getFile(): Promise<PageFile>;
}
interface PageDirectory {
  getFileHandle(name: string, o?: { create: boolean }): Promise<PageFileHandle>;
  keys(): AsyncIterable<string>;
}
declare const document: {
  body: { dataset: Record<string, string | undefined> };
  getElementById(id: string): { dataset: Record<string, string | undefined>; textContent: string | null };
};
declare const navigator: { storage: { getDirectory(): Promise<PageDirectory> } };

export const hasChromium = (): boolean => existsSync(CHROMIUM);

/** What Chromium runs with in the tests and the bench (the first flags keep it from calling out; the last lets WebRTC use loopback). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--allow-loopback-in-peer-connection',
];

export function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/**
 * How the page is to save:
 *  - 'picker': Chromium's save picker, answered without a dialog (headless
 *    has none) by a file handle in the page's private storage named
 *    `picked-NAME`; the page writes through it exactly as through a picked
 *    file (createWritable → close or abort).
 *  - 'download': a browser without the picker: the page stages in its
 *    private storage and starts a download once the file is verified.
 */
export type SaveMode = 'picker' | 'download';

export interface TestPage {
  context: BrowserContext;
  page: Page;
  /** everything the page logged, for failure messages */
  log(): string;
  /** downloads the page started, in order */
  downloads: Download[];
}

export async function openPage(browser: Browser, url: string, save: SaveMode = 'picker'): Promise<TestPage> {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1000, height: 900 } });
  const page = await context.newPage();
  const lines: string[] = [];
  page.on('console', (m) => lines.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`[pageerror] ${e.message}`));
  const downloads: Download[] = [];
  page.on('download', (d) => downloads.push(d));
  await page.addInitScript((mode: SaveMode) => {
    const w = globalThis as unknown as Record<string, unknown>;
    if (mode === 'download') {
      delete w.showSaveFilePicker;
      return;
    }
    w.showSaveFilePicker = async (o: { suggestedName?: string }) => {
      const root = await navigator.storage.getDirectory();
      return root.getFileHandle(`picked-${o.suggestedName ?? 'file'}`, { create: true });
    };
  }, save);
  await page.goto(url);
  return { context, page, log: () => lines.join('\n'), downloads };
}

/** The page's state (`document.body.dataset.state`) once it is one of `states`. */
export async function pageState(page: Page, states: string[], timeoutMs = 60_000): Promise<string> {
  await page.waitForFunction((s) => s.includes(document.body.dataset.state ?? ''), states, { timeout: timeoutMs, polling: 50 });
  return page.evaluate(() => document.body.dataset.state ?? '');
}

/** The failure the page shows: its exit-code class and sentence. */
export async function pageError(page: Page): Promise<{ exitCode: number; text: string }> {
  return page.evaluate(() => {
    const e = document.getElementById('error');
    return { exitCode: Number(e.dataset.exitCode), text: e.textContent ?? '' };
  });
}

/** A file in the page's private storage: its size and SHA-256 (hex), or undefined when there is none. */
export async function privateFile(page: Page, name: string): Promise<{ size: number; sha256: string } | undefined> {
  return page.evaluate(async (n) => {
    const root = await navigator.storage.getDirectory();
    let handle: PageFileHandle;
    try {
      handle = await root.getFileHandle(n);
    } catch {
      return undefined;
    }
    const file = await handle.getFile();
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
    return { size: file.size, sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join('') };
  }, name);
}

/** The names in the page's private storage. */
export async function privateFiles(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const names: string[] = [];
    for await (const n of root.keys()) names.push(n);
    return names.sort();
  });
}
