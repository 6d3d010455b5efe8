#!/usr/bin/env -S node --initial-old-space-size=64
/**
 * movie-share FILE: the host. Prints the code, waits for one receiver, sends,
 * and exits 0 only after the receiver confirmed a verified write.
 *
 * movie-share PATH… (folders, or several files): a set, sent as one stream
 * with its manifest (peer/node/set-source.ts); the receiver verifies and
 * places each file on its own.
 *
 * `--initial-old-space-size=64` (shebang), as movie-get has it (peer/cli/get-cli.ts):
 * every sent chunk is fresh external memory (the AES-GCM output and the
 * frame), and with our ~8.5 MiB heap V8 ran a full mark-compact every ~10 MB
 * sent (50 per 512 MiB); with the 64 MB floor under the old-generation limit,
 * none. Host CPU 13.6 → 11.0 s/GiB (docs/PERFORMANCE.md).
 *
 * movie-share --text "…" (or --text - to read it from stdin): a short text
 * (at most MAX_TEXT_BYTES) instead of a file, which movie-get prints.
 */
import { Command } from 'commander';
import { makeCode, parseCode } from '../../common/code/code.js';
import { ExitCode, MovieShareError, usageError } from '../../common/errors.js';
import { MAX_TEXT_BYTES } from '../../common/protocol/messages.js';
import { textSource } from '../transfer/text-source.js';
import type { FileSource } from '../transfer/files.js';
import { LINGER_MS } from '../../common/config.js';
import type { RunningSignalServer } from '../../signaling/server/index.js';
import { addCommonOptions, configureExit, iceOptions, maxRate, onInterrupt, Output, outputMode, patienceMs, runMain, signalUrl, tuning, type CommonFlags } from './cli-common.js';
import { streamsFlag } from './cli-common.js';
import { hashFile, inspectFile, nodeFileSource } from '../node/file-source.js';
import { hashSet, inspectSet, setSource } from '../node/set-source.js';
import { setProgress } from './progress.js';
import type { StreamFile } from '../../common/protocol/manifest.js';
import { stat } from 'node:fs/promises';
import { nodeCrypto } from '../node/crypto.js';
import { useCryptoBackend } from '../../common/crypto/backend.js';
import { closeNativeConnections, nodePeerFactory } from '../rtc/node-peer.js';
import { buildRtcConfig } from '../rtc/ice.js';
import { stripeSession, windowFor } from '../rtc/path-tuning.js';
import { createProgress, printLine } from './progress.js';
import { formatBytes } from '../../common/format.js';
import { rendezvous } from '../rendezvous/rendezvous.js';
import { healingTransfer } from '../rendezvous/heal.js';
import { sendFile } from '../transfer/host.js';
import { SignalClient } from '../rendezvous/signal-client.js';
import { browserLink, NO_BROWSER_LINK } from './browser-link.js';
import { readShareTls, startEmbeddedSignal } from './embedded-signal.js';
import type { TlsFiles } from '../../signaling/server/index.js';

const program = configureExit(
  addCommonOptions(
    new Command('movie-share')
      .description('Send a file (or a short text) end-to-end encrypted and peer to peer. Prints a code for the receiver (movie-get).')
      .argument('[paths...]', 'the file to send, or several files and folders (sent as a set, into one folder on the other side)'),
  )
    .option('--text <text>', `send this text instead of a file (at most ${MAX_TEXT_BYTES / 1024} KiB; "-" reads it from stdin); movie-get prints it`)
    .option('--tls-cert <file>', 'run the signaling server (and the browser page) in this process over HTTPS with this certificate (PEM); needs --tls-key')
    .option('--tls-key <file>', 'the private key (PEM) of --tls-cert'),
);
useCryptoBackend(nodeCrypto);
program.parse();
const flags = program.opts<CommonFlags & { tlsCert?: string; tlsKey?: string; text?: string }>();
const paths = program.args;

let signal: SignalClient | undefined;
let embedded: (RunningSignalServer & { connect: () => Promise<SignalClient> }) | undefined;
let closeChannel: (() => void) | undefined;
const cancel = new AbortController();
/** between connections: a Ctrl-C leaves the part received for a later run */
let reconnecting = false;

/** `--text -`: all of stdin, refused past MAX_TEXT_BYTES (read no further than that). */
async function readStdinText(): Promise<string> {
  if (process.stdin.isTTY) printLine('Type the text, then press Ctrl-D on a line of its own.');
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin) {
    const b = chunk as Buffer;
    parts.push(b);
    total += b.length;
    if (total > MAX_TEXT_BYTES) break;
  }
  if (total > MAX_TEXT_BYTES) throw usageError(`stdin holds more than ${MAX_TEXT_BYTES / 1024} KiB, the most a text can be; save it to a file and send that instead.`);
  return Buffer.concat(parts).toString('utf8');
}

/** FILE, PATH…, or the text of --text: exactly one of them. */
async function source(out: Output): Promise<{ source: FileSource; files?: StreamFile[]; count?: number }> {
  if (flags.text !== undefined && paths.length > 0) throw usageError('Give either a FILE (or files and folders) or --text, not both; send them one after the other.');
  if (flags.text === undefined) {
    if (paths.length === 0) throw usageError('Give the file to send (movie-share FILE, or several files and folders), or a text with --text "…".');
    if (paths.length > 1 || (await stat(paths[0]!).catch(() => null))?.isDirectory()) {
      const set = await inspectSet(paths);
      if (set.skipped.length > 0) {
        const shown = set.skipped.slice(0, 3).join(', ');
        out.info(`Not sent (links and special files are skipped): ${shown}${set.skipped.length > 3 ? ` and ${set.skipped.length - 3} more` : ''}.`);
      }
      const hashed = hashSet(set);
      hashed.catch(() => undefined);
      const source = setSource(set, hashed);
      return { source, count: set.files };
    }
    const file = paths[0]!;
    const info = await inspectFile(file);
    const hashing = hashFile(info.path);
    hashing.catch(() => undefined);
    // the hash may still be running (a big file): sendFile keeps the link alive meanwhile
    return { source: nodeFileSource(info, hashing) };
  }
  const text = flags.text === '-' ? await readStdinText() : flags.text;
  if (text === '') throw usageError(flags.text === '-' ? 'stdin was empty; there is no text to send.' : '--text needs some text to send.');
  return { source: textSource(text) };
}

function shellQuote(s: string): string {
  return /^[\w.,+@%=:/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The signaling server: --signal, else one at the default URL, else our own (always our own with --tls-cert/--tls-key). */
async function connectSignal(out: Output, tls: TlsFiles | undefined): Promise<{ client: SignalClient; publicUrl?: string; servesPage?: boolean }> {
  const { url, explicit } = signalUrl(flags);
  if (explicit) return { client: await SignalClient.connect({ url }) };
  if (!tls) {
    try {
      return { client: await SignalClient.connect({ url, connectTimeoutMs: 1500 }) };
    } catch (e) {
      if (!(e instanceof MovieShareError) || e.exitCode !== ExitCode.Network) throw e;
    }
    out.verbose(`no signaling server at ${url}; starting one in this process`);
  } else out.verbose('starting a signaling server with HTTPS in this process');
  const started = await startEmbeddedSignal(tls, process.env.MOVIE_PAGE_DIR || undefined);
  embedded = Object.assign(started.server, { connect: started.connect });
  if (tls?.leaf.checkIssued(tls.leaf)) out.verbose(`the certificate is self-signed: movie-get needs NODE_EXTRA_CA_CERTS=${flags.tlsCert}, and a browser asks to accept it`);
  return { client: started.client, publicUrl: started.publicUrl, servesPage: started.servesPage };
}

void runMain(
  'movie-share',
  () => outputMode(flags),
  async () => {
    const mode = outputMode(flags);
    const out = new Output(mode, 'movie-share', Boolean(flags.verbose));
    const ice = iceOptions(flags);
    const tune = tuning(flags);
    const rate = maxRate(flags);
    const patience = patienceMs(flags);
    const tls = await readShareTls(flags.tlsCert, flags.tlsKey, signalUrl(flags).explicit);
    const { source: info, count } = await source(out);
    const isText = info.kind === 'text';
    const isSet = info.kind === 'set';

    const { client, publicUrl, servesPage } = await connectSignal(out, tls);
    signal = client;
    const room = await client.createRoom();
    const code = makeCode(room.room);
    const getLine = `movie-get ${code}${isText || isSet ? '' : ` -o ${shellQuote(info.name)}`}${publicUrl ? ` --signal ${publicUrl}` : ''}`;
    // the code only in the fragment: a browser never sends it to a server
    const browserUrl = servesPage === false ? undefined : browserLink(publicUrl ?? signalUrl(flags).url, code);
    if (servesPage === false) out.verbose('no browser link: the web page is not built into this movie-share');
    else if (!browserUrl) out.verbose(NO_BROWSER_LINK);
    if (mode === 'json') {
      out.event('code', {
        code,
        room: room.room,
        name: info.name,
        size: info.size,
        ...(isText ? { kind: 'text' } : {}),
        ...(isSet ? { kind: 'set', files: count } : {}),
        ...(publicUrl ? { signal: publicUrl } : {}),
        ...(browserUrl ? { browserUrl } : {}),
      });
    } else {
      process.stdout.write(`Code: ${code}\n`);
      // beside the movie-get line: on stdout when the receiver needs our server's address, else on stderr
      const say = publicUrl ? (line: string) => process.stdout.write(`${line}\n`) : (line: string) => out.info(line);
      say(`On the other machine run: ${getLine}`);
      if (browserUrl) say(`Or open in a browser: ${browserUrl}`);
    }
    onInterrupt(() => {
      if (closeChannel) cancel.abort();
      else if (reconnecting) {
        printLine('movie-share: cancelled while reconnecting. Run both commands again to resume.');
        process.exit(ExitCode.Other);
      } else {
        printLine('movie-share: cancelled before anyone connected; the code is no longer valid.');
        signal?.close();
        void embedded?.close();
        process.exit(ExitCode.Other);
      }
    });

    const rtcConfig = buildRtcConfig(ice, room.iceServers);
    const streams = streamsFlag(flags);
    const factory = nodePeerFactory(rtcConfig, printLine, streams);
    const progress = isSet
      ? setProgress(createProgress(mode, 'sending'), info.manifest!, (f) => out.event('file-start', { path: f.path, size: f.size }))
      : createProgress(mode, 'sending');
    let t0 = Date.now();
    const res = await healingTransfer({
      role: 'host',
      first: () =>
        rendezvous({
          role: 'host',
          code: parseCode(code),
          signal: client,
          factory,
          lowWaterMark: tune.lowWaterMark,
          onVerified: (v) => out.verification(v, Boolean(flags.verify), 'receiver'),
          log: (l) => out.verbose(l),
        }),
      run: async (c) => {
        const striped = stripeSession(c, { host: true, config: rtcConfig, lowWaterMark: tune.lowWaterMark, streams, log: (l) => out.verbose(l) });
        closeChannel = () => striped.session.channel.close();
        // the credit window from the round-trip time (one ping; --window overrides)
        const windowBytes = flags.window ? tune.windowBytes : windowFor(await striped.rtt);
        return sendFile(striped.session, {
          file: info,
          tuning: { ...tune, windowBytes },
          maxRate: rate,
          progress,
          link: { cancel: cancel.signal, lingerMs: LINGER_MS },
          onAuthenticated: (from) => {
            if (from > 0) out.info(`Resuming at ${formatBytes(from)} of ${formatBytes(info.size)}.`);
          },
        });
      },
      factory,
      lowWaterMark: tune.lowWaterMark,
      connectSignal: () => (embedded ? embedded.connect() : SignalClient.connect({ url: signalUrl(flags).url })),
      patienceMs: patience,
      onConnected: (c, attempt) => {
        reconnecting = false;
        if (attempt === 1) {
          out.connected(c.rtc.pair(), 'receiver', c.mtu);
          t0 = Date.now();
        } else out.reconnected(c.rtc.pair(), 'receiver', attempt, c.mtu);
        if (!publicUrl) signal?.close();
      },
      onReconnecting: (attempt, why) => {
        closeChannel = undefined;
        reconnecting = true;
        out.reconnecting(attempt, why, progress);
      },
      log: (l) => out.verbose(l),
    });
    const secs = (Date.now() - t0) / 1000;
    const sha256 = await info.sha256;
    out.event('done', {
      ...(isText ? { kind: 'text' } : {}),
      ...(isSet ? { kind: 'set', files: count } : {}),
      name: info.name,
      size: info.size,
      sha256,
      sentBytes: res.sentBytes,
      resumedFrom: res.resumedFrom,
      seconds: secs,
    });
    if (isText) out.info(`Sent a text of ${formatBytes(info.size)}. The receiver verified its SHA-256.`);
    else if (isSet)
      out.info(
        `Sent ${info.name} (${count} files, ${formatBytes(info.size)}) in ${secs.toFixed(1)} s, ${formatBytes(res.sentBytes / Math.max(secs, 0.001))}/s. The receiver verified every file's SHA-256.`,
      );
    else
      out.info(
        `Sent ${info.name} (${formatBytes(info.size)}) in ${secs.toFixed(1)} s, ${formatBytes(res.sentBytes / Math.max(secs, 0.001))}/s. The receiver verified its SHA-256.`,
      );
  },
  async () => {
    closeChannel?.();
    signal?.close();
    await embedded?.close();
    await closeNativeConnections(1500);
  },
);
