/**
 * movie-get CODE -o OUT: the receiver. Exits 0 only when OUT holds the
 * verified file. Never uses the host's file name as a path.
 *
 * Loaded by peer/cli/get-cli.ts (the executable) once the RSA key generation has
 * started.
 */
import { Command } from 'commander';
import { access, constants, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseCode } from '../../common/code/code.js';
import { usageError } from '../../common/errors.js';
import { LINGER_MS } from '../../common/config.js';
import { addCommonOptions, configureExit, iceOptions, maxRate, onInterrupt, Output, outputMode, runMain, signalUrl, tuning, type CommonFlags } from './cli-common.js';
import { buildRtcConfig } from '../rtc/ice.js';
import { createProgress, printLine } from './progress.js';
import { formatBytes } from '../../common/format.js';
import { rendezvous } from '../rendezvous/rendezvous.js';
import { receiveFile } from '../transfer/receiver.js';
import { SignalClient } from '../rendezvous/signal-client.js';
import { nodePeerFactory } from '../rtc/node-peer.js';
import { NodeFileSink } from '../node/file-sink.js';
import { receiverKeyPair } from './early-keygen.js';

interface GetFlags extends CommonFlags {
  output: string;
  force?: boolean;
}

const program = configureExit(
  addCommonOptions(
    new Command('movie-get')
      .description('Receive a file sent with movie-share, verify it, and write it to OUT.')
      .argument('<code>', 'the code movie-share printed, e.g. 7k2m-apple-river-stone')
      .requiredOption('-o, --output <path>', 'where to write the file')
      .option('--force', 'overwrite OUT if it exists'),
  ),
);
program.parse();
const flags = program.opts<GetFlags>();
const rawCode = program.args[0]!;

let signal: SignalClient | undefined;
let closeChannel: (() => void) | undefined;
const cancel = new AbortController();

async function checkOutput(out: string, force: boolean): Promise<void> {
  const st = await stat(out).catch(() => null);
  if (st?.isDirectory()) throw usageError(`${out} is a directory; give a file path with -o.`);
  if (st && !force) throw usageError(`${out} already exists; choose another -o path or add --force to overwrite it.`);
  const dir = dirname(out);
  const dst = await stat(dir).catch(() => null);
  if (!dst?.isDirectory()) throw usageError(`The folder ${dir} does not exist; create it or choose another -o path.`);
  try {
    await access(dir, constants.W_OK);
  } catch {
    throw usageError(`Cannot write to the folder ${dir} (permission denied or read-only); choose another -o path.`);
  }
}

void runMain(
  'movie-get',
  () => outputMode(flags),
  async () => {
    const mode = outputMode(flags);
    const out = new Output(mode, 'movie-get', Boolean(flags.verbose));
    const code = parseCode(rawCode);
    const outPath = resolve(flags.output);
    await checkOutput(outPath, Boolean(flags.force));
    const ice = iceOptions(flags);
    const tune = tuning(flags);
    const rate = maxRate(flags);
    const keyPair = receiverKeyPair();

    const { url } = signalUrl(flags);
    signal = await SignalClient.connect({ url });
    const joined = await signal.joinRoom(code.room);
    out.verbose(`joined room ${code.room}; checking the code`);
    onInterrupt(() => {
      if (closeChannel) cancel.abort();
      else {
        printLine('movie-get: cancelled.');
        signal?.close();
        process.exit(1);
      }
    });

    const rz = await rendezvous({
      role: 'receiver',
      code,
      signal,
      factory: nodePeerFactory(buildRtcConfig(ice, joined.iceServers), printLine),
      lowWaterMark: tune.lowWaterMark,
      onVerified: (v) => out.verification(v, Boolean(flags.verify), 'sender'),
      log: (l) => out.verbose(l),
    });
    closeChannel = () => rz.session.channel.close();
    out.connected(rz.rtc.pair(), 'sender', rz.mtu);
    signal.close();

    const t0 = Date.now();
    const bar = createProgress(mode, 'receiving');
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
    };
    const res = await receiveFile(rz.session, {
      sink: new NodeFileSink(outPath),
      keyPair,
      tuning: tune,
      maxRate: rate,
      progress,
      link: { cancel: cancel.signal, lingerMs: LINGER_MS },
      onStart: (i) => {
        if (i.notice) out.info(i.notice);
        out.verbose(`receiving "${i.name}" (${formatBytes(i.size)}) into ${outPath}`);
      },
    });
    const secs = (Date.now() - t0) / 1000;
    out.event('done', { path: outPath, name: res.name, size: res.size, sha256: res.sha256, resumedFrom: res.resumedFrom, seconds: secs });
    out.info(`Received ${formatBytes(res.size)} into ${outPath} in ${secs.toFixed(1)} s; SHA-256 verified (${res.sha256.slice(0, 16)}…).`);
  },
  () => {
    closeChannel?.();
    signal?.close();
  },
);
