#!/usr/bin/env node
/**
 * movie-share FILE: the host. Prints the code, waits for one receiver, sends,
 * and exits 0 only after the receiver confirmed a verified write.
 */
import { Command } from 'commander';
import { networkInterfaces } from 'node:os';
import { makeCode, parseCode } from '../../common/code/code.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { LINGER_MS } from '../../common/config.js';
import type { RunningSignalServer } from '../../signaling/server/index.js';
import { addCommonOptions, configureExit, iceOptions, onInterrupt, Output, outputMode, runMain, signalUrl, tuning, type CommonFlags } from './cli-common.js';
import { hashFile, inspectFile, nodeFileSource } from '../node/file-source.js';
import { nodeCrypto } from '../node/crypto.js';
import { useCryptoBackend } from '../../common/crypto/backend.js';
import { nodePeerFactory } from '../rtc/node-peer.js';
import { buildRtcConfig } from '../rtc/ice.js';
import { createProgress, formatBytes, printLine } from './progress.js';
import { rendezvous } from '../rendezvous/rendezvous.js';
import { sendFile } from '../transfer/host.js';
import { SignalClient } from '../rendezvous/signal-client.js';

const program = configureExit(
  addCommonOptions(
    new Command('movie-share').description('Send a file end-to-end encrypted and peer to peer. Prints a code for the receiver (movie-get).').argument('<file>', 'the file to send'),
  ),
);
useCryptoBackend(nodeCrypto);
program.parse();
const flags = program.opts<CommonFlags>();
const file = program.args[0]!;

let signal: SignalClient | undefined;
let embedded: RunningSignalServer | undefined;
let closeChannel: (() => void) | undefined;
const cancel = new AbortController();

function shellQuote(s: string): string {
  return /^[\w.,+@%=:/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function lanAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

async function connectSignal(out: Output): Promise<{ client: SignalClient; publicUrl?: string }> {
  const { url, explicit } = signalUrl(flags);
  if (explicit) return { client: await SignalClient.connect({ url }) };
  try {
    return { client: await SignalClient.connect({ url, connectTimeoutMs: 1500 }) };
  } catch (e) {
    if (!(e instanceof MovieShareError) || e.exitCode !== ExitCode.Network) throw e;
  }
  out.verbose(`no signaling server at ${url}; starting one in this process`);
  // loaded only here: the server (socket.io, prom-client) takes ~100 ms to load
  const { startSignalServer } = await import('../../signaling/server/index.js');
  try {
    embedded = await startSignalServer({ host: '0.0.0.0', port: 8080 });
  } catch {
    embedded = await startSignalServer({ host: '0.0.0.0', port: 0 });
  }
  const client = await SignalClient.connect({ url: `http://127.0.0.1:${embedded.port}` });
  return { client, publicUrl: `http://${lanAddress()}:${embedded.port}` };
}

void runMain(
  'movie-share',
  () => outputMode(flags),
  async () => {
    const mode = outputMode(flags);
    const out = new Output(mode, 'movie-share', Boolean(flags.verbose));
    const ice = iceOptions(flags);
    const tune = tuning(flags);
    const info = await inspectFile(file);
    const hashing = hashFile(info.path);
    hashing.catch(() => undefined);

    const { client, publicUrl } = await connectSignal(out);
    signal = client;
    const room = await client.createRoom();
    const code = makeCode(room.room);
    const getLine = `movie-get ${code} -o ${shellQuote(info.name)}${publicUrl ? ` --signal ${publicUrl}` : ''}`;
    if (mode === 'json') out.event('code', { code, room: room.room, name: info.name, size: info.size, ...(publicUrl ? { signal: publicUrl } : {}) });
    else {
      process.stdout.write(`Code: ${code}\n`);
      if (publicUrl) process.stdout.write(`On the other machine run: ${getLine}\n`);
      else out.info(`On the other machine run: ${getLine}`);
    }
    onInterrupt(() => {
      if (closeChannel) cancel.abort();
      else {
        printLine('movie-share: cancelled before anyone connected; the code is no longer valid.');
        signal?.close();
        void embedded?.close();
        process.exit(ExitCode.Other);
      }
    });

    const rz = await rendezvous({
      role: 'host',
      code: parseCode(code),
      signal: client,
      factory: nodePeerFactory(buildRtcConfig(ice, room.iceServers), printLine),
      lowWaterMark: tune.lowWaterMark,
      onVerified: (v) => out.verification(v, Boolean(flags.verify), 'receiver'),
      log: (l) => out.verbose(l),
    });
    closeChannel = () => rz.session.channel.close();
    out.connected(rz.rtc.pair(), 'receiver', rz.mtu);
    if (!publicUrl) signal.close();

    const t0 = Date.now();
    const progress = createProgress(mode, 'sending');
    const res = await sendFile(rz.session, {
      file: nodeFileSource(info, hashing), // the hash may still be running (a big file): sendFile keeps the link alive meanwhile
      tuning: tune,
      progress,
      link: { cancel: cancel.signal, lingerMs: LINGER_MS },
      onAuthenticated: (from) => {
        if (from > 0) out.info(`Resuming at ${formatBytes(from)} of ${formatBytes(info.size)}.`);
      },
    });
    const secs = (Date.now() - t0) / 1000;
    const sha256 = await hashing;
    out.event('done', { name: info.name, size: info.size, sha256, sentBytes: res.sentBytes, resumedFrom: res.resumedFrom, seconds: secs });
    out.info(`Sent ${info.name} (${formatBytes(info.size)}) in ${secs.toFixed(1)} s, ${formatBytes(res.sentBytes / Math.max(secs, 0.001))}/s. The receiver verified its SHA-256.`);
  },
  async () => {
    closeChannel?.();
    signal?.close();
    await embedded?.close();
  },
);
