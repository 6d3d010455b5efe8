/**
 * The host's side of the data-channel protocol (docs/PROTOCOL.md §5):
 *
 *   wait-hello → send key (+ MAC) → wait-confirm (check MAC) → send every
 *   chunk the receiver lacks, once, in the schedule's order (file order,
 *   wanted ranges first: schedule.ts), at most at the agreed rate → end →
 *   wait-done → success
 *
 * Nothing of the file leaves before the receiver's key-confirmation MAC has
 * been checked in constant time.
 */
import type { TransportTuning } from '../../common/config.js';
import { PROTOCOL_VERSION } from '../../common/config.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { CHUNK_OVERHEAD, chunkCount, encodeChunk, KEY_BYTES, TRANSFER_ID_BYTES } from '../../common/protocol/framing.js';
import { encryptKeyMessage, importReceiverPublicKey } from '../../common/crypto/key-transport.js';
import {
  MANIFEST_PIECE_BYTES,
  MAX_TEXT_BYTES,
  parseReceiverMessage,
  serializeKeyPayload,
  type ManifestRef,
  type ReceiverMessage,
  type HostMessage,
} from '../../common/protocol/messages.js';
import { serializeManifest } from '../../common/protocol/manifest.js';
import { checkMac, receiverMac, hostMac, transcriptBytes } from '../../common/crypto/transcript.js';
import { cryptoBackend, isPromise } from '../../common/crypto/backend.js';
import { bytesToHex, fromBase64, toBase64 } from '../../common/bytes.js';
import type { FileSource } from './files.js';
import { ChunkSet } from './chunk-set.js';
import { FlowControl } from './flow-control.js';
import { combinedRate, RateLimit } from './rate-limit.js';
import { MAX_WANTS, Schedule } from './schedule.js';
import { Link, type LinkOptions } from './link.js';
import { silentProgress, type ProgressSink, type SecureSession } from './session.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface SendOptions {
  /** the file; its SHA-256 may still be computing: the link is up meanwhile, and its pings keep a waiting receiver from timing out */
  file: FileSource;
  tuning: TransportTuning;
  progress?: ProgressSink;
  link?: LinkOptions;
  /** called once the receiver is authenticated, just before the first chunk */
  onAuthenticated?: (resumeFrom: number) => void;
  /** bytes per second to send at most (0 or absent: no cap; the receiver may ask for a lower one) */
  maxRate?: number;
}

export interface SendResult {
  /** bytes the receiver already had from an earlier run */
  resumedFrom: number;
  /** file bytes put on the wire in this run */
  sentBytes: number;
}

export async function sendFile(session: SecureSession, opts: SendOptions): Promise<SendResult> {
  const link = new Link<ReceiverMessage, HostMessage>(session.channel, parseReceiverMessage, opts.link);
  const progress = opts.progress ?? silentProgress;
  const { file, tuning } = opts;
  try {
    if (file.kind === 'text' && file.size > MAX_TEXT_BYTES)
      throw new MovieShareError(ExitCode.Usage, `A text can be at most ${MAX_TEXT_BYTES / 1024} KiB; send a longer one as a file.`);
    const hello = await link.expect('hello');
    if (hello.v !== PROTOCOL_VERSION) {
      throw new MovieShareError(ExitCode.Other, `The receiver speaks protocol version ${hello.v}, this movie-share speaks ${PROTOCOL_VERSION}; update both.`);
    }
    const rsaPublicKey = fromBase64(hello.rsaPublicKey);
    const publicKey = await link.guard(importReceiverPublicKey(rsaPublicKey));
    const sha256 = await link.guard(Promise.resolve(file.sha256));
    const manifest = file.kind === 'set' ? serializeManifest(await link.guard(Promise.resolve(file.manifest!))) : undefined;
    let manifestRef: ManifestRef | undefined;
    if (manifest) {
      const h = cryptoBackend().sha256();
      h.update(manifest);
      manifestRef = { bytes: manifest.length, sha256: bytesToHex(h.digest()) };
    }
    const chunkSize = Math.min(tuning.chunkSize, session.channel.maxMessageSize - CHUNK_OVERHEAD);
    const key = cryptoBackend().randomBytes(KEY_BYTES);
    const transferId = cryptoBackend().randomBytes(TRANSFER_ID_BYTES);
    const encryptedKey = await link.guard(
      encryptKeyMessage(publicKey, serializeKeyPayload({ transferId, key, sha256, size: file.size, name: file.name, chunkSize, kind: file.kind ?? 'file', manifest: manifestRef })),
    );
    const transcript = transcriptBytes({
      version: PROTOCOL_VERSION,
      hostFingerprint: session.hostFingerprint,
      receiverFingerprint: session.receiverFingerprint,
      rsaPublicKey,
      encryptedKey,
    });
    link.sendControl({
      t: 'key',
      v: PROTOCOL_VERSION,
      encryptedKey: toBase64(encryptedKey),
      mac: toBase64(hostMac(session.confirmHost, transcript)),
    });
    // a set's manifest right behind the key, before the receiver confirms: it checks every name before anything is written
    for (let at = 0; manifest && at < manifest.length; at += MANIFEST_PIECE_BYTES) {
      link.sendControl({ t: 'manifest', data: toBase64(manifest.subarray(at, at + MANIFEST_PIECE_BYTES)) });
    }

    // a want may come right behind the confirm, before the code after this await runs: keep
    // it (the newest MAX_WANTS, as the schedule would)
    const early: ReceiverMessage[] = [];
    link.onEager = (m) => {
      if (m.t !== 'want') return false;
      if (early.push(m) > MAX_WANTS) early.shift();
      return true;
    };
    const confirm = await link.expect('confirm');
    checkMac(receiverMac(session.confirmReceiver, transcript, confirm), fromBase64(confirm.mac));
    const count = chunkCount(file.size, chunkSize);
    if (confirm.have.length > 0 && confirm.have[confirm.have.length - 1]! > count)
      throw new MovieShareError(ExitCode.Other, 'The receiver claims pieces past the end of the file.');
    // what the receiver kept must be what this file holds there: bytes an earlier
    // (malicious or broken) sender left would otherwise only fail the final hash
    const resume = confirm.have.length === 0 || (await link.guard(hashRanges(file, chunkSize, confirm.have))) === confirm.kept;
    const have = resume ? confirm.have : [];
    link.sendControl({ t: 'start', resume });
    const schedule = new Schedule(count, ChunkSet.fromRanges(count, have));
    const chunkLength = (i: number): number => (i === count - 1 ? file.size - i * chunkSize : chunkSize);
    let from = 0;
    for (let i = 0; i < count; i++) if (schedule.sent.has(i)) from += chunkLength(i);
    opts.onAuthenticated?.(from);

    // the receiver acks every `ackBytes`: a smaller window would wait forever for an ack
    const flow = new FlowControl(session.channel, { ...tuning, windowBytes: Math.max(tuning.windowBytes, tuning.ackBytes + chunkSize) });
    link.onEager = (m) => {
      if (m.t === 'ack') {
        flow.ack(m.written);
        return true;
      }
      if (m.t === 'want') {
        if (m.offset + m.length > file.size) link.fail(new MovieShareError(ExitCode.Other, 'The receiver asked for bytes past the end of the file.'));
        else schedule.want(Math.floor(m.offset / chunkSize), Math.ceil((m.offset + m.length) / chunkSize));
        return true;
      }
      return false;
    };
    for (const m of early) link.onEager(m);
    const rate = combinedRate(opts.maxRate ?? 0, confirm.maxRate);
    const limit = rate > 0 ? new RateLimit(rate, chunkSize) : undefined;
    progress.start(file.size, from);
    let delivered = from;
    let sent = 0;
    // Sealed frames go to the channel in bursts of `sendBatchBytes`, and
    // before every wait, so the receiver never waits for a frame we hold.
    const batch: Uint8Array[] = [];
    let batchBytes = 0;
    const flush = (): void => {
      for (const f of batch) link.sendFrame(f);
      batch.length = 0;
      batchBytes = 0;
    };
    // the file is read in file order from `readAt`; a want moves the reader
    let reader: AsyncIterator<Uint8Array> | undefined;
    let readAt = -1;
    try {
      while (!schedule.sent.complete) {
        // credit and rate first, the chunk after: a want that arrives while we wait goes next
        if (!flow.canSend(sent + chunkSize)) {
          flush();
          await link.guard(flow.ready(sent + chunkSize));
        }
        const wait = limit?.take(chunkSize) ?? 0;
        if (wait > 0) {
          flush();
          await link.guard(sleep(wait));
        }
        const index = schedule.next();
        if (index !== readAt) {
          await reader?.return?.();
          reader = file.chunks(index * chunkSize, chunkSize)[Symbol.asyncIterator]();
          readAt = index;
        }
        const step = await reader!.next();
        if (step.done) throw new MovieShareError(ExitCode.Other, 'The file got shorter while it was being sent; send it again when nothing is writing to it.');
        readAt++;
        const slice = step.value;
        // a synchronous backend (Node) seals here and now; WebCrypto returns a promise
        const sealed = encodeChunk(key, transferId, index, index === count - 1, slice);
        const frame = isPromise(sealed) ? await sealed : sealed;
        batch.push(frame);
        batchBytes += frame.length;
        if (batchBytes >= tuning.sendBatchBytes) flush();
        sent += slice.length;
        delivered += slice.length;
        progress.update(delivered);
        if (link.failed) throw link.failed;
      }
    } finally {
      await reader?.return?.();
    }
    flush();
    link.sendControl({ t: 'end' });
    const done = await link.expect('done');
    if (done.sha256 !== sha256) {
      throw new MovieShareError(ExitCode.Integrity, 'The receiver reported a different SHA-256 than the file has.');
    }
    link.finish();
    progress.finish();
    return { resumedFrom: from, sentBytes: sent };
  } catch (e) {
    const err = link.fail(e);
    await link.linger(); // let an abort we sent reach the receiver before the CLI closes the channel
    throw err;
  }
}

/** SHA-256 (hex) of the file's bytes in the chunk ranges `ranges` ([s0, e0, …], sorted), concatenated in order. */
export async function hashRanges(file: FileSource, chunkSize: number, ranges: readonly number[]): Promise<string> {
  const hash = cryptoBackend().sha256();
  for (let r = 0; r + 1 < ranges.length; r += 2) {
    const [from, to] = [ranges[r]! * chunkSize, Math.min(ranges[r + 1]! * chunkSize, file.size)];
    let at = from;
    for await (const slice of file.chunks(from, chunkSize)) {
      const take = Math.min(slice.length, to - at);
      hash.update(take === slice.length ? slice : slice.subarray(0, take));
      at += take;
      if (at >= to) break;
    }
  }
  return bytesToHex(hash.digest());
}
