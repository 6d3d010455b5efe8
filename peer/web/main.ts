/**
 * The page: the projector (and sender) in a browser. Entry of the page bundle
 * (`npm run bundle:web`); the signaling server serves it at `/`.
 *
 * On load it refuses to run outside a secure context, before it opens any
 * connection: the browser withholds WebCrypto there, and a join would spend
 * the code's one guess for nothing. Then it installs the WebCrypto backend,
 * starts the RSA key generation (up to ~1 s) and, when the URL's fragment
 * holds a code, takes it (and clears it from the address bar) and receives.
 *
 * A file the browser can play (player.ts) plays while it arrives, in the
 * <video> of the transfer section, with its own status: authenticated chunk
 * by chunk while it plays, whole-file check pending, then verified, or
 * stopped when the transfer fails.
 *
 * Every failure is shown as one sentence under the same four headings as the
 * CLIs' exit codes (docs/PROTOCOL.md): usage, integrity, wrong code, network.
 */
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { parseCode } from '../../common/code/code.js';
import { formatBytes } from '../../common/format.js';
import { useCryptoBackend } from '../../common/crypto/backend.js';
import { generateReceiverKeyPair, type ReceiverKeyPair } from '../../common/crypto/key-transport.js';
import type { IncomingFile, TransferReader } from '../transfer/files.js';
import type { ProgressSink } from '../transfer/session.js';
import { webCrypto } from './crypto.js';
import { STAGING_PREFIX } from './file-sink.js';
import { receiveInPage, sendFromPage, type FlowView } from './flows.js';
import type { OpfsSink } from './opfs-sink.js';
import { playableType, publish, startPlayer } from './player.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

const HEADINGS: Record<number, string> = {
  [ExitCode.Usage]: 'Check the code',
  [ExitCode.Integrity]: 'Integrity check failed',
  [ExitCode.Auth]: 'Wrong code',
  [ExitCode.Network]: 'Network problem',
  [ExitCode.Other]: 'The transfer failed',
};

type State = 'loading' | 'idle' | 'insecure' | 'connecting' | 'waiting' | 'choosing' | 'transferring' | 'verified' | 'failed';
const setState = (s: State): void => void (document.body.dataset.state = s);

const formatDuration = (s: number): string => (s < 90 ? `${Math.ceil(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

/** The name as a label and a suggested file name: no control characters, no path. */
const displayName = (name: string): string => name.replace(/[\p{Cc}\p{Cf}]/gu, '').replace(/[/\\]/g, '_') || 'received-file';

// ── the parts of the page ───────────────────────────────────────────────
const ui = {
  insecure: $('insecure'),
  receiveForm: $<HTMLFormElement>('receive-form'),
  codeInput: $<HTMLInputElement>('code-input'),
  codeError: $('code-error'),
  receiveButton: $<HTMLButtonElement>('receive-button'),
  fileInput: $<HTMLInputElement>('file-input'),
  dropZone: $('drop-zone'),
  transfer: $('transfer'),
  transferTitle: $('transfer-title'),
  shareCode: $('share-code'),
  sendCode: $<HTMLOutputElement>('send-code'),
  sendLink: $<HTMLAnchorElement>('send-link'),
  copyLink: $<HTMLButtonElement>('copy-link'),
  sendCommand: $('send-command'),
  fileName: $('file-name'),
  fileSize: $('file-size'),
  verification: $('verification'),
  saveChoice: $('save-choice'),
  savePrompt: $('save-prompt'),
  saveAs: $<HTMLButtonElement>('save-as'),
  keepInBrowser: $<HTMLButtonElement>('keep-in-browser'),
  progress: $<HTMLProgressElement>('progress'),
  progressLabel: $('progress-label'),
  status: $('status'),
  error: $('error'),
  result: $('result'),
  receivedText: $('received-text'),
  download: $<HTMLAnchorElement>('download'),
  again: $<HTMLButtonElement>('again'),
  player: $('player'),
  video: $<HTMLVideoElement>('video'),
  playStatus: $('play-status'),
};

function say(line: string): void {
  ui.status.textContent = line;
}

function showError(e: unknown): void {
  const err = e instanceof MovieShareError ? e : new MovieShareError(ExitCode.Other, `Something went wrong in this page: ${(e as Error)?.message ?? String(e)}.`);
  ui.error.hidden = false;
  ui.error.dataset.exitCode = String(err.exitCode);
  ui.error.textContent = `${HEADINGS[err.exitCode] ?? HEADINGS[ExitCode.Other]}: ${err.message}`;
  setState('failed');
  console.error(`movie-share: ${err.message}`);
}

/** A progress bar with speed and ETA; the live region announces every tenth. */
function progressView(verb: string): ProgressSink {
  let total = 0;
  let t0 = 0;
  let base = 0;
  let lastDraw = 0;
  let lastTenth = -1;
  const draw = (done: number, force = false): void => {
    const now = performance.now();
    if (!force && now - lastDraw < 200) return;
    lastDraw = now;
    ui.progress.max = Math.max(total, 1);
    ui.progress.value = done;
    const secs = (now - t0) / 1000;
    const rate = secs > 0.5 ? (done - base) / secs : 0;
    const eta = rate > 0 ? ` · ${formatDuration((total - done) / rate)} left` : '';
    ui.progressLabel.textContent = `${verb} ${formatBytes(done)} of ${formatBytes(total)}${rate > 0 ? ` · ${formatBytes(rate)}/s${done < total ? eta : ''}` : ''}`;
    const tenth = total > 0 ? Math.floor((10 * done) / total) : 10;
    if (tenth !== lastTenth) {
      lastTenth = tenth;
      say(`${verb} ${tenth * 10} %`);
    }
  };
  return {
    start(t, already) {
      total = t;
      base = already;
      t0 = performance.now();
      setState('transferring');
      draw(already, true);
    },
    update: (done) => draw(done),
    finish: () => draw(total, true),
    note(text) {
      ui.progressLabel.textContent = `${verb} so far: ${formatBytes(Number(ui.progress.value))} · ${text}`;
      say(text);
    },
  };
}

function flowView(): FlowView {
  return {
    log: (line) => console.debug(`movie-share: ${line}`),
    verified: (v) => (ui.verification.textContent = v),
    progress: progressView('Received'),
  };
}

/** The transfer section replaces the form of the other job. */
function openTransfer(job: 'receive' | 'send'): void {
  $(job === 'receive' ? 'send' : 'receive').hidden = true;
  ui.transfer.hidden = false;
  ui.error.hidden = true;
  ui.result.hidden = true;
  ui.receivedText.hidden = true;
  ui.receiveButton.disabled = true;
  ui.fileInput.disabled = true;
  ui.transferTitle.focus();
}

function offerAgain(): void {
  ui.again.hidden = false;
}

// ── receiving ───────────────────────────────────────────────────────────
/**
 * The code's typo checks (the CLI's own: common/code/code.ts) before anything
 * connects: a mistyped code is fixed in place and never reaches the server.
 */
function checkCode(code: string): boolean {
  try {
    parseCode(code);
    ui.codeError.hidden = true;
    ui.codeInput.removeAttribute('aria-invalid');
    return true;
  } catch (e) {
    if (!(e instanceof MovieShareError)) throw e;
    ui.codeError.hidden = false;
    ui.codeError.textContent = e.message;
    ui.codeInput.setAttribute('aria-invalid', 'true');
    ui.codeInput.focus();
    return false;
  }
}

let keyPair: Promise<ReceiverKeyPair> | undefined;
const freshKeyPair = (): Promise<ReceiverKeyPair> => {
  const kp = generateReceiverKeyPair();
  kp.catch(() => undefined); // reported where it is awaited
  return kp;
};

/** Files staged by an earlier visit (downloaded, or abandoned) are removed at start. */
async function clearStaging(): Promise<void> {
  try {
    const root = await navigator.storage.getDirectory();
    // TypeScript's DOM types lack the handle's async iterators
    for await (const name of (root as unknown as { keys(): AsyncIterable<string> }).keys())
      if (name.startsWith(STAGING_PREFIX)) await root.removeEntry(name).catch(() => undefined);
  } catch {
    // no OPFS: nothing staged
  }
}

type SavePicker = (o: { suggestedName?: string }) => Promise<FileSystemFileHandle>;
const savePicker = (): SavePicker | undefined => (window as unknown as { showSaveFilePicker?: SavePicker }).showSaveFilePicker;

/**
 * Where the file goes. With a save picker (Chromium), the user chooses once
 * the name is known: the picker needs a click. Otherwise (or on "Download
 * when verified": null) the file is staged in the browser's private storage.
 */
function chooseTarget(): (file: IncomingFile) => Promise<FileSystemFileHandle | null> {
  return async (file) => {
    const name = displayName(file.name);
    const picker = savePicker();
    if (!picker) return null;
    setState('choosing');
    ui.saveChoice.hidden = false;
    ui.savePrompt.textContent = `Where should ${name} (${formatBytes(file.size)}) go? It is written there, and kept only if it arrives intact.`;
    ui.saveAs.focus();
    try {
      for (;;) {
        const choice = await new Promise<'pick' | 'browser'>((resolve) => {
          ui.saveAs.onclick = () => resolve('pick');
          ui.keepInBrowser.onclick = () => resolve('browser');
        });
        if (choice === 'browser') return null;
        try {
          return await picker({ suggestedName: name });
        } catch (e) {
          if ((e as DOMException).name !== 'AbortError') throw e;
          say('No place was chosen; choose one to go on.');
        }
      }
    } finally {
      ui.saveChoice.hidden = true;
      ui.saveAs.onclick = ui.keepInBrowser.onclick = null;
      setState('transferring');
    }
  };
}

// ── playing while receiving ─────────────────────────────────────────────
/** the service worker controls the page: a file can play while it arrives */
let playerReady: Promise<boolean> = Promise.resolve(false);

interface Playback {
  verified(): void;
  failed(): void;
}

function setPlay(state: 'loading' | 'playing' | 'verified' | 'failed' | 'unplayable', line: string): void {
  ui.player.dataset.play = state;
  ui.playStatus.textContent = line;
}

/** The video plays `reader` (bytes authenticated chunk by chunk) while the rest arrives. */
function startPlayback(reader: TransferReader, sink: OpfsSink, type: string): Playback {
  const stream = publish({ reader, type, available: (o, m) => sink.available(o, m) }, displayName(reader.name));
  const video = ui.video;
  ui.player.hidden = false;
  setPlay('loading', 'Waiting for enough of the file to play…');
  video.onplaying = () => {
    if (ui.player.dataset.play === 'loading') setPlay('playing', 'Playing authenticated chunks; whole-file check pending.');
  };
  video.onerror = () => {
    if (ui.player.dataset.play === 'failed' || !video.getAttribute('src')) return;
    stream.stop();
    setPlay('unplayable', 'This browser cannot play this file; it is still being received and checked.');
  };
  video.src = stream.url;
  video.play().catch(async (e: unknown) => {
    if ((e as DOMException).name !== 'NotAllowedError') return;
    // the browser wants a gesture for sound: play muted (its controls unmute)
    video.muted = true;
    await video.play().catch(() => undefined);
  });
  let over = false;
  return {
    verified() {
      if (over) return;
      over = true;
      if (ui.player.dataset.play !== 'unplayable') setPlay('verified', "Verified: the whole file matches the sender's SHA-256.");
    },
    failed() {
      if (over) return;
      over = true;
      stream.stop();
      video.pause();
      video.removeAttribute('src');
      video.load();
      setPlay('failed', 'Failed: playback stopped, nothing saved.');
    },
  };
}

async function receive(code: string): Promise<void> {
  openTransfer('receive');
  ui.shareCode.hidden = true;
  setState('connecting');
  say('Connecting to the sender…');
  let playback: Playback | undefined;
  const kp = keyPair ?? freshKeyPair();
  keyPair = undefined; // one key pair per transfer
  const cancel = new AbortController();
  window.addEventListener('pagehide', () => cancel.abort(), { once: true });
  try {
    const view = flowView();
    const res = await receiveInPage({
      code,
      signalUrl: location.origin,
      keyPair: kp,
      choose: chooseTarget(),
      play: {
        wants: async (f) => (await playerReady) && playableType(f.name, ui.video) !== undefined,
        start: (reader, sink) => void (playback = startPlayback(reader, sink, playableType(reader.name, ui.video)!)),
      },
      cancel: cancel.signal,
      view: {
        ...view,
        incoming: (f) => {
          ui.fileName.textContent = displayName(f.name);
          ui.fileSize.textContent = formatBytes(f.size);
        },
      },
    });
    ui.progressLabel.textContent = `Received ${formatBytes(res.size)}; SHA-256 verified.`;
    if (res.text !== undefined) {
      // text, never markup: the sender chose every character
      ui.receivedText.textContent = res.text;
      ui.receivedText.hidden = false;
      say('Verified: the text below arrived intact.');
      setState('verified');
      return;
    }
    say(`Verified: ${displayName(res.name)} arrived intact (SHA-256 ${res.sha256.slice(0, 16)}…).`);
    playback?.verified();
    if (res.download) {
      const file = await res.download.getFile();
      ui.download.href = URL.createObjectURL(file);
      ui.download.download = displayName(res.name);
      ui.download.textContent = `Save ${displayName(res.name)}`;
      ui.result.hidden = false;
      ui.download.click();
    }
    setState('verified');
  } catch (e) {
    playback?.failed();
    showError(e);
  } finally {
    keyPair ??= freshKeyPair();
    offerAgain();
  }
}

// ── sending ─────────────────────────────────────────────────────────────
async function send(file: File): Promise<void> {
  openTransfer('send');
  setState('connecting');
  ui.fileName.textContent = displayName(file.name);
  ui.fileSize.textContent = formatBytes(file.size);
  say('Preparing a code…');
  const cancel = new AbortController();
  window.addEventListener('pagehide', () => cancel.abort(), { once: true });
  try {
    const view = flowView();
    const res = await sendFromPage({
      file,
      signalUrl: location.origin,
      cancel: cancel.signal,
      view: {
        ...view,
        progress: progressView('Sent'),
        code: (code) => {
          const link = `${location.origin}${location.pathname}#${code}`;
          ui.shareCode.hidden = false;
          ui.sendCode.value = code;
          ui.sendLink.href = link;
          ui.sendLink.textContent = link;
          ui.sendCommand.textContent = `movie-get ${code} -o ${displayName(file.name).replace(/[^\w.,+@%=:-]/g, '_')}`;
          setState('waiting');
          say('Waiting for the receiver…');
        },
        hashed: (n) => {
          if (document.body.dataset.state === 'waiting') ui.progressLabel.textContent = `Computing the file's SHA-256: ${Math.floor((100 * n) / Math.max(file.size, 1))} %`;
        },
      },
    });
    say(`Sent ${formatBytes(res.sentBytes)}; the receiver verified the SHA-256.`);
    setState('verified');
  } catch (e) {
    showError(e);
  } finally {
    offerAgain();
  }
}

// ── start-up ────────────────────────────────────────────────────────────
function start(): void {
  // the code travels in the fragment, which browsers never send to a server; clear it once read
  const fromFragment = decodeURIComponent(location.hash.slice(1)).trim();
  if (fromFragment) {
    history.replaceState(null, '', location.pathname + location.search);
    ui.codeInput.value = fromFragment;
  }
  if (!window.isSecureContext || !globalThis.crypto?.subtle) {
    ui.insecure.hidden = false;
    ui.insecure.textContent =
      'This page was not loaded over a secure connection, so the browser withholds the cryptography it needs. Nothing was sent and the code is still unused: open the page over https:// (or on this machine at http://127.0.0.1), or use movie-get.';
    ui.receiveButton.disabled = true;
    ui.fileInput.disabled = true;
    setState('insecure');
    return;
  }
  useCryptoBackend(webCrypto);
  keyPair = freshKeyPair(); // the RSA prime search runs while the user types (or while we connect)
  void clearStaging();
  playerReady = startPlayer();

  ui.receiveForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!ui.receiveButton.disabled && checkCode(ui.codeInput.value)) void receive(ui.codeInput.value);
  });
  ui.fileInput.addEventListener('change', () => {
    const f = ui.fileInput.files?.[0];
    if (f) void send(f);
  });
  ui.dropZone.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    ui.dropZone.classList.add('over');
  });
  ui.dropZone.addEventListener('dragleave', () => ui.dropZone.classList.remove('over'));
  ui.dropZone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    ui.dropZone.classList.remove('over');
    const f = ev.dataTransfer?.files[0];
    if (f && !ui.fileInput.disabled) void send(f);
  });
  ui.copyLink.addEventListener('click', () => void navigator.clipboard?.writeText(ui.sendLink.href).then(() => say('Link copied.')));
  ui.again.addEventListener('click', () => location.reload());
  setState('idle');
  if (fromFragment && checkCode(fromFragment)) void receive(fromFragment);
}

start();
