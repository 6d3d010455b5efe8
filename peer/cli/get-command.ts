/**
 * movie-get CODE [-o OUT]: the receiver. Exits 0 only when OUT holds the
 * verified file. Without -o, OUT is the host's file name made safe
 * (common/file-name.ts) in the current directory, known only once the key
 * message is decrypted; an OUT (or OUT.part of another file) that is there
 * then is never replaced (exit 2). The host's name is never used as a path.
 *
 * A text (`movie-share --text`) is printed on stdout (control characters
 * removed; with --json a `text` event), and no file is written, unless -o
 * is given: then it goes there like a file.
 *
 * A set (`movie-share DIR…`) goes into the folder -o DEST (made if absent;
 * refused if it holds anything else, unless --force), or without -o into the
 * current folder, where none of its top-level names may exist yet. The list
 * (count, size, first names) is shown before anything is written, and on a
 * terminal movie-get asks before accepting it (--yes: do not ask). Each file
 * appears once its own SHA-256 matched (peer/node/folder-sink.ts).
 *
 * `-o -` streams the file to stdout in order as it is authenticated (for a
 * player reading a pipe); the exit code is then the only verdict on the
 * whole-file SHA-256. `--play` also serves OUT while it arrives, at
 * http://127.0.0.1:PORT/NAME (peer/node/play-server.ts), and after the
 * verified file is saved keeps serving it until Ctrl-C.
 *
 * Loaded by peer/cli/get-cli.ts (the executable) once the RSA key generation has
 * started.
 */
import { Command } from 'commander';
import { safeLines, safeText } from '../../common/terminal.js';
import { safeFileName } from '../../common/file-name.js';
import { fromUtf8 } from '../../common/bytes.js';
import { MemorySink } from '../transfer/memory-sink.js';
import type { IncomingFile } from '../transfer/files.js';
import { access, constants, lstat, readdir, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import type { Manifest } from '../../common/protocol/manifest.js';
import { FolderSink, isStagingName, stagingName } from '../node/folder-sink.js';
import { basename, dirname, resolve } from 'node:path';
import { EXAMPLE_CODE, parseCode } from '../../common/code/code.js';
import { ExitCode, isMovieShareError, MovieShareError, usageError } from '../../common/errors.js';
import { LINGER_MS } from '../../common/config.js';
import { addCommonOptions, configureExit, iceOptions, maxRate, onInterrupt, Output, outputMode, patienceMs, runMain, signalUrl, tuning, type CommonFlags } from './cli-common.js';
import { streamsFlag } from './cli-common.js';
import { buildRtcConfig } from '../rtc/ice.js';
import { stripeSession } from '../rtc/path-tuning.js';
import { createProgress, endProgressLine, printLine, setProgress } from './progress.js';
import { formatBytes } from '../../common/format.js';
import { rendezvous } from '../rendezvous/rendezvous.js';
import { healingTransfer } from '../rendezvous/heal.js';
import { receiveFile } from '../transfer/receiver.js';
import { SignalClient } from '../rendezvous/signal-client.js';
import { closeNativeConnections, nodePeerFactory } from '../rtc/node-peer.js';
import { NodeFileSink } from '../node/file-sink.js';
import { checkResumeFiles, partPath, readSidecar, sidecarPath } from '../node/resume.js';
import { StdoutSink } from '../node/stdout-sink.js';
import { PlayServer } from '../node/play-server.js';
import { receiverKeyPair } from './early-keygen.js';

interface GetFlags extends CommonFlags {
  output?: string;
  force?: boolean;
  yes?: boolean;
  play?: boolean;
  playPort?: string;
}

/** `-o -`: the file goes to stdout */
const STDOUT = '-';

const program = configureExit(
  addCommonOptions(
    new Command('movie-get')
      .description("Receive a file sent with movie-share, verify it, and write it to OUT (default: the sender's file name in the current folder); a text is printed.")
      .argument('<code>', `the code movie-share printed, e.g. ${EXAMPLE_CODE}`)
      .option(
        '-o, --output <path>',
        'where to write the file (default: the sender\'s file name, made safe, in the current folder; never replacing a file there); "-" writes it to stdout as it arrives (e.g. | mpv -): stdout cannot be taken back, so if the final SHA-256 check fails the exit code (3) is the only verdict; not with --json or --play',
      )
      .option(
        '--force',
        'overwrite OUT if it exists (or appears meanwhile), and an OUT.part left without its OUT.part.json; for a set, write into a folder OUT that is not empty; needs -o',
      )
      .option('-y, --yes', 'accept a set of files without asking (on a terminal movie-get shows the list and asks first)')
      .option(
        '--play',
        'also serve OUT while it arrives at http://127.0.0.1:PORT/NAME for a player (seeking fetches that part first); after it is verified, keep serving until Ctrl-C',
      )
      .option('--play-port <port>', 'the port for --play (default: any free port)'),
  ),
);
program.parse();
const flags = program.opts<GetFlags>();
const rawCode = program.args[0]!;

const toStdout = flags.output === STDOUT;
/** -o given, else the sender's name in the current folder */
const explicitOut = flags.output !== undefined;

let signal: SignalClient | undefined;
let closeChannel: (() => void) | undefined;
let play: PlayServer | undefined;
/** set once the verified file is being served (--play): Ctrl-C then ends with exit 0 */
let stopServing: (() => void) | undefined;
const cancel = new AbortController();
/** between connections: a Ctrl-C leaves the part received for a later run */
let reconnecting = false;

/** Without -o: the folder the file will land in must be writable (checked before joining, so a refusal does not use up the code). */
async function checkHere(): Promise<void> {
  try {
    await access('.', constants.W_OK);
  } catch {
    throw usageError('Cannot write to the current folder (permission denied or read-only); cd to another folder or choose where to save with -o OUT.');
  }
}

/**
 * Without -o, once the key message named the file: ./NAME (made safe), which
 * must not exist, and whose NAME.part may only be the kept part of this very
 * file (same SHA-256 and size: resume).
 */
async function defaultOutput(file: IncomingFile, dir = '.'): Promise<string> {
  const name = safeFileName(file.name);
  const out = resolve(dir, name);
  const taken = (what: string) =>
    usageError(`${what} already exists in ${dir === '.' ? 'this folder' : dir} and was not replaced; run both commands again, with -o OTHER-NAME for movie-get.`);
  if (await lstat(out).catch(() => null)) throw taken(name);
  const sidecar = await readSidecar(out);
  const ours = sidecar !== null && sidecar.sha256 === file.sha256 && sidecar.size === file.size;
  if (!ours) {
    for (const p of [partPath(out), sidecarPath(out)]) if (await lstat(p).catch(() => null)) throw taken(basename(p));
  }
  await checkResumeFiles(out, false); // ours: no link where the resume state is kept
  return out;
}

async function checkOutput(out: string, force: boolean): Promise<void> {
  const st = await stat(out).catch(() => null);
  // a folder: a file goes into it under the sender's name, a set into it (checked once the list arrived)
  if (st?.isDirectory()) return;
  // lstat: a link there (even a dangling one) is something that exists
  if ((st || (await lstat(out).catch(() => null))) && !force) throw usageError(`${out} already exists; choose another -o path or add --force to overwrite it.`);
  const dir = dirname(out);
  const dst = await stat(dir).catch(() => null);
  if (!dst?.isDirectory()) throw usageError(`The folder ${dir} does not exist; create it or choose another -o path.`);
  try {
    await access(dir, constants.W_OK);
  } catch {
    throw usageError(`Cannot write to the folder ${dir} (permission denied or read-only); choose another -o path.`);
  }
  await checkResumeFiles(out, force);
}

/**
 * A set is about to be received into `root` (-o DEST, or the current folder):
 * DEST must be absent, empty, or hold this very set's interrupted download,
 * unless --force. Returns the sentence listing what comes.
 */
async function checkSetRoot(root: string, sha256: string): Promise<void> {
  if (!explicitOut || flags.force) return;
  const st = await lstat(root).catch(() => null);
  if (!st) return;
  if (!st.isDirectory()) throw usageError(`${root} is a file, and the sender sent a set of files; run both commands again with -o NEW-FOLDER.`);
  const names = await readdir(root);
  if (names.includes(stagingName(sha256))) return; // resuming this set
  if (names.some((n) => !isStagingName(n)))
    throw usageError(`${root} is a folder that is not empty; a set of files goes into a new or empty folder. Choose another -o folder, or add --force to write into it.`);
}

/** "12 files, 2 folders, 4.2 GB: a, b, c and 9 more" */
function describeSet(m: Manifest, size: number): string {
  const files = m.entries.filter((e) => e.kind === 'file').length;
  const dirs = m.entries.length - files;
  const tops = [...new Set(m.entries.map((e) => e.path.split('/')[0]!))];
  const shown = tops.slice(0, 3).map((t) => safeText(t));
  const more = tops.length > 3 ? ` and ${tops.length - 3} more` : '';
  return `${files} file${files === 1 ? '' : 's'}${dirs > 0 ? `, ${dirs} folder${dirs === 1 ? '' : 's'}` : ''}, ${formatBytes(size)}: ${shown.join(', ')}${more}`;
}

/** On a terminal: ask before a set is written (no answer, or anything but yes, declines). */
async function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}

function playPort(v: string | undefined): number {
  if (v === undefined) return 0;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n > 65535) throw usageError(`--play-port must be a port number (0 to 65535), not "${v}".`);
  return n;
}

/** The options that `-o -` rules out, and the ones `--play` needs. */
function checkModes(): void {
  if (toStdout) {
    if (flags.json) throw usageError('--json prints events on stdout, which -o - fills with the file; leave out one of them.');
    if (flags.play) throw usageError('--play serves a file on disk; give -o a file path, or leave out --play and pipe -o - into the player.');
    if (process.stdout.isTTY)
      throw usageError('-o - writes the file to stdout, which is a terminal here; pipe it into a player (movie-get CODE -o - | mpv -) or give -o a file path.');
  }
  if (flags.playPort !== undefined && !flags.play) throw usageError('--play-port needs --play.');
  if (flags.force && !explicitOut) throw usageError('--force replaces OUT, so it needs -o OUT (without -o, movie-get never replaces a file).');
}

/** With -o -, the core's "nothing was saved" is not true: the bytes are already out. */
function stdoutSentence(e: unknown): unknown {
  if (!toStdout || !isMovieShareError(e) || e.exitCode !== ExitCode.Integrity) return e;
  if (/SHA-256/.test(e.message)) {
    return new MovieShareError(ExitCode.Integrity, "The file written to stdout does not match the sender's SHA-256; discard what the player got and try the transfer again.");
  }
  return new MovieShareError(ExitCode.Integrity, e.message.replace('nothing was saved', 'stdout got only part of the file'));
}

void runMain(
  'movie-get',
  // with -o -, stdout carries only the file: never a JSON event, not even an error
  () => outputMode({ ...flags, json: flags.json && !toStdout }),
  async () => {
    checkModes();
    const mode = outputMode(flags);
    const out = new Output(mode, 'movie-get', Boolean(flags.verbose));
    const code = parseCode(rawCode);
    /** OUT: known now with -o, else once the key message named the file (the same on every reconnection) */
    let outPath = flags.output === undefined ? undefined : toStdout ? STDOUT : resolve(flags.output);
    let chosen: Promise<string> | undefined;
    /** -o names a folder: a file goes into it under the sender's name */
    const outIsDir = outPath !== undefined && !toStdout && Boolean((await stat(outPath).catch(() => null))?.isDirectory());
    const outputFor = (file: IncomingFile): Promise<string> =>
      (chosen ??= defaultOutput(file, outIsDir ? outPath : '.').then((p) => {
        outPath = p;
        return p;
      }));
    if (outPath === undefined) await checkHere();
    else if (!toStdout) await checkOutput(outPath, Boolean(flags.force));
    /** the text of a text transfer without -o */
    let text: MemorySink | undefined;
    /** a set: the folder its entries go into, and what it holds */
    let setRoot: string | undefined;
    let setSummary = '';
    let resolveManifest!: (m: Manifest) => void;
    const manifestKnown = new Promise<Manifest>((r) => (resolveManifest = r));
    const onManifest = async (m: Manifest, p: { name: string; size: number; sha256: string }): Promise<void> => {
      if (toStdout) throw usageError('The sender sent a set of files, which cannot go to stdout; run both commands again with -o FOLDER.');
      if (flags.play) throw usageError('The sender sent a set of files; --play serves one file. Run both commands again without --play.');
      const root = explicitOut ? resolve(flags.output!) : resolve('.');
      await checkSetRoot(root, p.sha256);
      setSummary = describeSet(m, p.size);
      if (setRoot === undefined) {
        // asked once: a reconnection goes on with what was accepted
        out.event('manifest', { name: p.name, size: p.size, entries: m.entries.length, first: m.entries.slice(0, 20).map((e) => e.path) });
        const into = explicitOut ? root : 'the current folder';
        if (mode !== 'json' && !flags.yes && process.stdin.isTTY && process.stderr.isTTY) {
          endProgressLine();
          if (!(await ask(`movie-get: the sender offers ${safeText(p.name)} (${setSummary}). Receive it into ${into}? [y/N] `)))
            throw new MovieShareError(ExitCode.Other, 'Declined; nothing was written.');
        } else out.info(`Receiving ${safeText(p.name)} (${setSummary}) into ${into}.`);
      }
      setRoot = root;
      resolveManifest(m);
    };
    const ice = iceOptions(flags);
    const tune = tuning(flags);
    const rate = maxRate(flags);
    const patience = patienceMs(flags);
    const port = playPort(flags.playPort);
    if (flags.play) play = await PlayServer.listen(port);
    const keyPair = receiverKeyPair();

    const { url } = signalUrl(flags);
    signal = await SignalClient.connect({ url });
    const joined = await signal.joinRoom(code.room);
    out.verbose(`joined room ${code.room}; checking the code`);
    onInterrupt(() => {
      if (stopServing) stopServing();
      else if (closeChannel) cancel.abort();
      else if (reconnecting) {
        printLine('movie-get: cancelled while reconnecting. Run both commands again to resume.');
        process.exit(1);
      } else {
        printLine('movie-get: cancelled.');
        signal?.close();
        process.exit(1);
      }
    });

    const rtcConfig = buildRtcConfig(ice, joined.iceServers);
    const streams = streamsFlag(flags);
    const factory = nodePeerFactory(rtcConfig, printLine, streams);
    let t0 = Date.now();
    const bar = setProgress(createProgress(mode, 'receiving'), manifestKnown, () => undefined);
    let firstByte = false;
    const progress: typeof bar = {
      start: (total, already) => bar.start(total, already),
      update: (done) => {
        if (!firstByte) {
          firstByte = true;
          out.event('first-byte', { bytes: done, at: Date.now() });
        }
        bar.update(done);
      },
      finish: () => bar.finish(),
      note: (text) => bar.note?.(text),
    };
    const where = (): string => (toStdout ? 'stdout' : (setRoot ?? outPath ?? 'the current folder'));
    let playing = false;
    const res = await healingTransfer({
      role: 'receiver',
      first: () =>
        rendezvous({
          role: 'receiver',
          code,
          signal: signal!,
          factory,
          lowWaterMark: tune.lowWaterMark,
          onVerified: (v) => out.verification(v, Boolean(flags.verify), 'sender'),
          log: (l) => out.verbose(l),
        }),
      run: (c) => {
        const striped = stripeSession(c, { host: false, config: rtcConfig, lowWaterMark: tune.lowWaterMark, streams, log: (l) => out.verbose(l) });
        closeChannel = () => striped.session.channel.close();
        return receiveFile(striped.session, {
          onManifest,
          sink: (file) => {
            if (file.kind === 'set')
              return new FolderSink(setRoot!, {
                force: Boolean(flags.force),
                onFile: (f) => {
                  out.event('file-verified', { path: f.path, size: f.size, sha256: f.sha256 });
                  out.verbose(`verified ${safeText(f.path)}`);
                },
              });
            if (file.kind === 'text' && !explicitOut) {
              if (flags.play) throw usageError('The sender sent a text, not a file to play; run both commands again without --play.');
              return (text = new MemorySink());
            }
            if (toStdout) return new StdoutSink();
            return new NodeFileSink(outPath !== undefined && !outIsDir ? outPath : outputFor, Boolean(flags.force));
          },
          keyPair,
          tuning: tune,
          maxRate: rate,
          progress,
          link: { cancel: cancel.signal, lingerMs: LINGER_MS },
          onStart: (i) => {
            if (i.notice) out.info(i.notice);
            out.verbose(text ? `receiving a text (${formatBytes(i.size)})` : `receiving "${safeText(i.name)}" (${formatBytes(i.size)}) into ${where()}`);
          },
          onReader: play
            ? (reader) => {
                const url = play!.serve(reader.name, reader);
                if (playing) return; // a reconnection: the player goes on at the same address
                playing = true;
                if (mode !== 'json') printLine(`Playing: ${url}`); // also with --quiet: it is what --play is for
                out.event('play', { url });
              }
            : undefined,
        });
      },
      factory,
      lowWaterMark: tune.lowWaterMark,
      connectSignal: () => SignalClient.connect({ url }),
      // stdout cannot take back what it wrote, so a new connection could not resume there
      patienceMs: toStdout ? 0 : patience,
      onConnected: (c, attempt) => {
        reconnecting = false;
        if (attempt === 1) {
          out.connected(c.rtc.pair(), 'sender', c.mtu);
          t0 = Date.now();
        } else out.reconnected(c.rtc.pair(), 'sender', attempt, c.mtu);
        signal?.close();
      },
      onReconnecting: (attempt, why) => {
        closeChannel = undefined;
        reconnecting = true;
        out.reconnecting(attempt, why, progress);
      },
      log: (l) => out.verbose(l),
    }).catch((e: unknown) => {
      throw stdoutSentence(e);
    });
    const secs = (Date.now() - t0) / 1000;
    if (text) {
      const received = fromUtf8(text.bytes());
      if (mode === 'json') out.event('text', { text: received });
      else {
        const shown = safeLines(received);
        process.stdout.write(shown.endsWith('\n') || shown === '' ? shown : `${shown}\n`);
      }
      out.event('done', { kind: 'text', size: res.size, sha256: res.sha256, seconds: secs });
      out.info(`Received a text of ${formatBytes(res.size)}; SHA-256 verified (${res.sha256.slice(0, 16)}…).`);
      return;
    }
    if (res.kind === 'set') {
      out.event('done', { kind: 'set', path: where(), name: res.name, size: res.size, sha256: res.sha256, resumedFrom: res.resumedFrom, seconds: secs });
      out.info(`Received ${safeText(res.name)} (${setSummary}) into ${where()} in ${secs.toFixed(1)} s; every file's SHA-256 verified.`);
      return;
    }
    out.event('done', { path: where(), name: res.name, size: res.size, sha256: res.sha256, resumedFrom: res.resumedFrom, seconds: secs, ...(play ? { url: play.url } : {}) });
    out.info(`Received ${formatBytes(res.size)} into ${where()} in ${secs.toFixed(1)} s; SHA-256 verified (${res.sha256.slice(0, 16)}…).`);
    if (play) {
      closeChannel?.();
      closeChannel = undefined;
      await play.useFile(outPath!);
      if (mode !== 'json') printLine(`Verified and saved; the player can go on at ${play.url} until you press Ctrl-C.`);
      await new Promise<void>((resolve) => (stopServing = resolve));
    }
  },
  async () => {
    closeChannel?.();
    signal?.close();
    await play?.close();
    await closeNativeConnections(1500);
  },
);
