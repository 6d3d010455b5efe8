/**
 * What both peer CLIs share: options, their environment fallbacks, output
 * (human / --json / --quiet) and the one place that turns errors into a
 * sentence on stderr and an exit code.
 */
import { Command, Option } from 'commander';
import { DEFAULT_PATIENCE_MS, DEFAULT_SIGNAL_URL, DEFAULT_TUNING, SIGNAL_URL_ENV, type TransportTuning } from '../../common/config.js';
import { ExitCode, isMovieShareError, usageError } from '../../common/errors.js';
import { parseRate } from '../../common/format.js';
import { defaultIceOptions, validateIceOptions, type IceOptions } from '../rtc/ice.js';
import { jsonEvent, printLine, type OutputMode } from './progress.js';
import type { PairInfo } from '../rtc/candidate-pair.js';
import type { MtuChoice } from '../rendezvous/peer-factory.js';
import type { ProgressSink } from '../transfer/session.js';
import { MAX_STREAMS } from '../transfer/stripes.js';

export interface CommonFlags {
  signal?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  verify?: boolean;
  stun: string[];
  turn?: string;
  turnUser?: string;
  turnPass?: string;
  relayOnly?: boolean;
  bindAddress?: string;
  mtu?: string;
  chunkSize?: string;
  window?: string;
  streams?: string;
  maxRate?: string;
  patience?: string;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('--signal <url>', `signaling server (env ${SIGNAL_URL_ENV}, default ${DEFAULT_SIGNAL_URL}; self-signed https: NODE_EXTRA_CA_CERTS=cert.pem)`)
    .option('--json', 'print one JSON event per line on stdout (code, connected, progress, play, text, done, error)')
    .option('--quiet', 'no progress output')
    .option('--verbose', 'say what is happening, step by step, on stderr')
    .option('--verify', 'print a verification string to compare with the other side out of band')
    .option('--stun <url>', 'STUN server, stun:HOST[:PORT] (repeatable; env MOVIE_STUN, comma-separated)', collect, [])
    .option('--turn <url>', 'TURN server, turn:HOST[:PORT][?transport=tcp] (env MOVIE_TURN_URL)')
    .option('--turn-user <user>', 'TURN user name (env MOVIE_TURN_USER)')
    .option('--turn-pass <pass>', 'TURN password (env MOVIE_TURN_PASS)')
    .option('--relay-only', 'only use the TURN relay (env MOVIE_RELAY_ONLY=1)')
    .option('--bind-address <addr>', 'bind ICE to this local address (env MOVIE_BIND_ADDRESS)')
    .option('--max-rate <rate>', 'send or receive at most this many bytes per second, e.g. 500K, 5M, 1.5MiB (K, M, G: powers of 1000; Ki, Mi, Gi: of 1024)')
    .option(
      '--patience <seconds>',
      `when the connection to the other side is lost, keep trying to reconnect this long (default ${DEFAULT_PATIENCE_MS / 1000}; 0: end at once, as before)`,
    )
    .option('--mtu <bytes>', 'SCTP/DTLS MTU, 576-4096 (env MOVIE_MTU); default: 1280, or the MTU of the one link both sides prove they share')
    .option(
      '--streams <n>',
      `connections to stripe the file over, 1-${MAX_STREAMS} (env MOVIE_STREAMS; the sender's choice, at most the receiver's); default: chosen from the round-trip time and the cores`,
    )
    .addOption(new Option('--chunk-size <bytes>', 'plaintext bytes per chunk').hideHelp())
    .addOption(new Option('--window <bytes>', 'credit window in bytes').hideHelp());
}

/**
 * Commander's own usage errors (an unknown option, a missing argument or
 * value, too many arguments) as one sentence like every other error,
 * `PROG: …` on stderr (and an `error` event with --json), exit 2; --help and
 * --version exit 0.
 */
export function configureExit(cmd: Command): Command {
  const prog = cmd.name();
  return cmd.configureOutput({ outputError: () => undefined }).exitOverride((err) => {
    if (err.exitCode === 0) process.exit(0);
    const message = commanderSentence(prog, err);
    printLine(`${prog}: ${message}`);
    if (process.argv.includes('--json')) jsonEvent('error', { code: ExitCode.Usage, message });
    process.exit(ExitCode.Usage);
  });
}

/** One sentence saying what to do, for a CommanderError. */
export function commanderSentence(prog: string, err: { code: string; message: string }): string {
  const [first = '', ...rest] = err.message.replace(/^error: /, '').split('\n');
  const quoted = /'([^']+)'/.exec(first)?.[1];
  const help = `run ${prog} --help to see how to use it`;
  switch (err.code) {
    case 'commander.unknownOption': {
      const guess = /\(Did you mean (.+)\?\)/.exec(rest.join(' '))?.[1];
      return `Unknown option ${quoted ?? first}${guess ? ` (did you mean ${guess}?)` : ''}; ${help}.`;
    }
    case 'commander.missingArgument':
      return `The ${(quoted ?? 'argument').toUpperCase()} argument is missing; ${help}.`;
    case 'commander.optionMissingArgument':
      return `The option ${quoted ?? ''} needs a value; ${help}.`;
    case 'commander.excessArguments': {
      const m = /Expected (\d+) arguments? but got (\d+)/.exec(first);
      return `Too many arguments${m ? ` (${m[2]}, where ${prog} takes ${m[1]})` : ''}; ${help}.`;
    }
    default: {
      const text = first.replace(/[.\s]+$/, '');
      return `${text.charAt(0).toUpperCase()}${text.slice(1)}; ${help}.`;
    }
  }
}

export function outputMode(f: CommonFlags): OutputMode {
  return f.json ? 'json' : f.quiet ? 'quiet' : 'human';
}

export function signalUrl(f: CommonFlags): { url: string; explicit: boolean } {
  if (f.signal) return { url: f.signal, explicit: true };
  const env = process.env[SIGNAL_URL_ENV];
  if (env) return { url: env, explicit: true };
  return { url: DEFAULT_SIGNAL_URL, explicit: false };
}

/** --streams (MOVIE_STREAMS): 1 to MAX_STREAMS, or undefined (chosen per connection: peer/rtc/path-tuning.ts). */
export function streamsFlag(f: CommonFlags): number | undefined {
  const n = positiveInt(f.streams ?? process.env.MOVIE_STREAMS, '--streams');
  if (n !== undefined && n > MAX_STREAMS) throw usageError(`--streams must be between 1 and ${MAX_STREAMS}, not ${n}.`);
  return n;
}

function positiveInt(v: string | undefined, what: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw usageError(`${what} must be a positive whole number, not "${v}".`);
  return n;
}

export function iceOptions(f: CommonFlags): IceOptions {
  const env = process.env;
  const ice = defaultIceOptions();
  ice.stun = [
    ...f.stun,
    ...(env.MOVIE_STUN
      ? env.MOVIE_STUN.split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : []),
  ];
  const turnUrl = f.turn ?? env.MOVIE_TURN_URL;
  if (turnUrl) {
    const username = f.turnUser ?? env.MOVIE_TURN_USER;
    const password = f.turnPass ?? env.MOVIE_TURN_PASS;
    if (!username || !password) throw usageError('--turn needs --turn-user and --turn-pass (or MOVIE_TURN_USER / MOVIE_TURN_PASS).');
    ice.turn.push({ url: turnUrl, username, password });
  }
  ice.relayOnly = Boolean(f.relayOnly) || /^(1|true|yes|on)$/i.test(env.MOVIE_RELAY_ONLY ?? '');
  ice.bindAddress = f.bindAddress ?? env.MOVIE_BIND_ADDRESS ?? undefined;
  ice.mtu = positiveInt(f.mtu ?? env.MOVIE_MTU, '--mtu') ?? DEFAULT_TUNING.mtu;
  if (ice.mtu !== undefined && (ice.mtu < 576 || ice.mtu > 4096)) {
    throw usageError(`--mtu must be between 576 and 4096 (larger datagrams are dropped by the ICE layer), not ${ice.mtu}.`);
  }
  validateIceOptions(ice); // bad --stun/--turn URLs: a usage error now, not after the code is printed
  return ice;
}

/** `--patience`: milliseconds. */
export function patienceMs(f: CommonFlags): number {
  const v = f.patience;
  if (v === undefined) return DEFAULT_PATIENCE_MS;
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v.trim()) || !Number.isFinite(n) || n > 86_400) throw usageError(`--patience must be a number of seconds (0 to 86400), not "${v}".`);
  return Math.round(n * 1000);
}

/** `--max-rate`: bytes per second, 0 when not given. */
export function maxRate(f: CommonFlags): number {
  const v = f.maxRate;
  if (v === undefined) return 0;
  const rate = parseRate(v);
  if (!Number.isSafeInteger(rate) || rate < 1024) throw usageError(`--max-rate must be a rate of at least 1K (bytes per second), like 500K or 5M, not "${v}".`);
  return rate;
}

export function tuning(f: CommonFlags): TransportTuning {
  return {
    ...DEFAULT_TUNING,
    chunkSize: positiveInt(f.chunkSize ?? process.env.MOVIE_CHUNK_SIZE, '--chunk-size') ?? DEFAULT_TUNING.chunkSize,
    windowBytes: positiveInt(f.window, '--window') ?? DEFAULT_TUNING.windowBytes,
  };
}

/** Human lines go to stderr (through printLine: never glued to a progress bar); in --json mode they are suppressed (events carry the facts). */
export class Output {
  constructor(
    readonly mode: OutputMode,
    private readonly prog: string,
    private readonly verboseOn: boolean,
  ) {}
  info(line: string): void {
    if (this.mode === 'human') printLine(line);
  }
  verbose(line: string): void {
    if (this.verboseOn) printLine(`${this.prog}: ${line}`); // on stderr: beside --json's events on stdout too
  }
  event(name: string, fields: Record<string, unknown> = {}): void {
    if (this.mode === 'json') jsonEvent(name, fields);
  }
  /** The PAKE's verification string, when the user asked for it (--verify). */
  verification(v: string, asked: boolean, other: string): void {
    if (!asked) return;
    if (this.mode === 'json') this.event('verify', { verification: v });
    else printLine(`Verification: ${v} (the ${other} sees the same if nobody is in the middle)`);
  }
  /** Once connected: which path the data takes (direct, or through a TURN relay). */
  connected(pair: PairInfo, other: string, mtu: MtuChoice): void {
    this.info(`Connected to the ${other} (${pair.type === 'relay' ? 'through a TURN relay' : `direct, ${pair.type} candidate`}).`);
    this.verbose(`connected (${pair.summary}; MTU ${mtu.mtu}: ${mtu.reason})`);
    this.event('connected', { candidateType: pair.type, local: pair.local, remote: pair.remote, mtu: mtu.mtu, mtuReason: mtu.reason });
  }
  /** The connection was lost (or an attempt failed): trying again. */
  reconnecting(attempt: number, reason: string, progress: ProgressSink): void {
    this.verbose(`reconnecting (attempt ${attempt}): ${reason}`);
    this.event('reconnecting', { attempt, reason });
    if (this.mode === 'human') progress.note?.(`reconnecting (attempt ${attempt})…`);
  }
  /** A new connection carries the transfer on. */
  reconnected(pair: PairInfo, other: string, attempt: number, mtu: MtuChoice): void {
    this.info(`Reconnected to the ${other} (attempt ${attempt}, ${pair.type === 'relay' ? 'through a TURN relay' : `direct, ${pair.type} candidate`}).`);
    this.verbose(`reconnected (${pair.summary}; MTU ${mtu.mtu}: ${mtu.reason})`);
    this.event('reconnected', { attempt, candidateType: pair.type, local: pair.local, remote: pair.remote, mtu: mtu.mtu, mtuReason: mtu.reason });
  }
}

/**
 * Run a CLI's main function: the only place that prints errors and exits.
 * `cleanup` runs on every exit path. The error's sentence goes through
 * printLine, so it is the last line, on its own, even after a live progress bar.
 */
export async function runMain(prog: string, mode: () => OutputMode, main: () => Promise<void>, cleanup: () => Promise<void> | void): Promise<never> {
  let code: number = ExitCode.Ok;
  try {
    await main();
  } catch (e) {
    if (isMovieShareError(e)) {
      code = e.exitCode;
      printLine(`${prog}: ${e.message}`);
      if (process.env.MOVIE_DEBUG) printLine(e.stack ?? '');
      if (mode() === 'json') jsonEvent('error', { code, message: e.message });
    } else {
      code = ExitCode.Other;
      const msg = e instanceof Error ? e.message : String(e);
      printLine(`${prog}: unexpected error: ${msg}. Please report this.`);
      if (process.env.MOVIE_DEBUG) printLine(e instanceof Error ? (e.stack ?? '') : '');
      if (mode() === 'json') jsonEvent('error', { code, message: msg });
    }
  }
  try {
    await cleanup();
  } catch {
    // exiting anyway
  }
  process.exit(code);
}

/** Ctrl-C / SIGTERM: run `onSignal` (tell the peer, keep .part) and exit. */
export function onInterrupt(handler: () => void): void {
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(ExitCode.Other); // a second Ctrl-C: now
    interrupted = true;
    // the orderly path tells the peer and keeps .part; whatever state we are in, end within 5 s
    setTimeout(() => process.exit(ExitCode.Other), 5000).unref();
    handler();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
