/** Run a sender and a receiver in one process over an in-memory channel. */
import { randomBytes } from 'node:crypto';
import { DEFAULT_TUNING, type TransportTuning } from '../../common/config.js';
import { generateReceiverKeyPair, type ReceiverKeyPair } from '../../common/crypto/key-transport.js';
import { MovieShareError } from '../../common/errors.js';
import { memoryChannelPair, type FrameHook } from './memory-channel.js';
import { receiveFile, type ReceiveOptions, type ReceiveResult } from '../../peer/transfer/receiver.js';
import { sendFile, type SendResult } from '../../peer/transfer/host.js';
import { inspectFile, hashFile, nodeFileSource } from '../../peer/node/file-source.js';
import { NodeFileSink } from '../../peer/node/file-sink.js';
import './node-crypto.js';
import type { SecureSession } from '../../peer/transfer/session.js';
import type { TransferReader } from '../../peer/transfer/files.js';

let cachedKeyPair: Promise<ReceiverKeyPair> | undefined;
/** One RSA key pair for the whole test file keeps unit tests fast. */
export const sharedKeyPair = (): Promise<ReceiverKeyPair> => (cachedKeyPair ??= generateReceiverKeyPair());

export interface MemoryRun {
  send: SendResult | MovieShareError;
  receive: ReceiveResult | MovieShareError;
  chunkFramesSent: number;
}

/** The message for `assert.ok(!(x instanceof Error), errorText(x))`: the error as String() shows it (a result has none to show). */
export function errorText(x: MemoryRun['send'] | MemoryRun['receive']): string {
  return x instanceof Error ? String(x) : '';
}

export interface MemoryRunOptions {
  hook?: FrameHook;
  tuning?: Partial<TransportTuning>;
  /** what each side believes the fingerprints are (default: both see the same) */
  hostView?: { host: string; receiver: string };
  receiverView?: { host: string; receiver: string };
  hostKeys?: { confirmHost: Uint8Array; confirmReceiver: Uint8Array };
  peerTimeoutMs?: number;
  /** announce this SHA-256 instead of the file's real one */
  senderSha256?: string;
  /** receiveFile's onStart */
  onStart?: ReceiveOptions['onStart'];
  /** the receiver's reader for a player (receiveFile's onReader) */
  onReader?: (reader: TransferReader) => void;
  /** rate caps in bytes/s (0 or absent: none) of the host (--max-rate) and of the receiver (sent in its confirm) */
  hostMaxRate?: number;
  receiverMaxRate?: number;
}

export async function runMemoryTransfer(src: string, out: string, opts: MemoryRunOptions = {}): Promise<MemoryRun> {
  let chunkFramesSent = 0;
  const hook: FrameHook = (frame, from) => {
    if (from === 'host' && frame[0] === 0x02) chunkFramesSent++;
    return opts.hook ? opts.hook(frame, from) : [frame];
  };
  const [a, b] = memoryChannelPair({ hook });
  const keys = { confirmHost: randomBytes(32), confirmReceiver: randomBytes(32) };
  const fp = { host: 'sha-256 AA:BB', receiver: 'sha-256 CC:DD' };
  const sv = opts.hostView ?? fp;
  const rv = opts.receiverView ?? fp;
  const sk = opts.hostKeys ?? keys;
  const hostSession: SecureSession = { channel: a, ...sk, hostFingerprint: sv.host, receiverFingerprint: sv.receiver };
  const receiverSession: SecureSession = { channel: b, ...keys, hostFingerprint: rv.host, receiverFingerprint: rv.receiver };
  const tuning = { ...DEFAULT_TUNING, chunkSize: 16 * 1024, ackBytes: 64 * 1024, windowBytes: 256 * 1024, ...opts.tuning };
  const info = await inspectFile(src);
  const sha256 = opts.senderSha256 ?? (await hashFile(src));
  const link = { peerTimeoutMs: opts.peerTimeoutMs ?? 3000, pingIntervalMs: 500 };
  const asErr = (e: unknown): MovieShareError => {
    if (e instanceof MovieShareError) return e;
    throw e;
  };
  const sink = new NodeFileSink(out);
  const [send, receive] = await Promise.all([
    sendFile(hostSession, { file: nodeFileSource(info, sha256), tuning, link, maxRate: opts.hostMaxRate }).catch(asErr),
    receiveFile(receiverSession, {
      sink,
      keyPair: sharedKeyPair(),
      tuning,
      link,
      maxRate: opts.receiverMaxRate,
      onReader: opts.onReader,
      onStart: opts.onStart,
    }).catch(asErr),
  ]);
  a.close();
  await sink.close(); // the read-back handle a finished sink keeps open for a player
  return { send, receive, chunkFramesSent };
}
