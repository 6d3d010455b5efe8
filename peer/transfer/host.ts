/**
 * The host's side of the data-channel protocol (docs/PROTOCOL.md §5):
 *
 *   wait-hello → send key (+ MAC) → wait-confirm (check MAC) → stream chunks
 *   from the receiver's resume offset → end → wait-done → success
 *
 * Nothing of the file leaves before the receiver's key-confirmation MAC has
 * been checked in constant time.
 */
import type { TransportTuning } from '../../common/config.js';
import { PROTOCOL_VERSION } from '../../common/config.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { CHUNK_OVERHEAD, chunkCount, encodeChunk, KEY_BYTES, TRANSFER_ID_BYTES } from '../../common/protocol/framing.js';
import { encryptKeyMessage, importReceiverPublicKey } from '../../common/crypto/key-transport.js';
import { parseReceiverMessage, serializeKeyPayload, type ReceiverMessage, type HostMessage } from '../../common/protocol/messages.js';
import { checkMac, receiverMac, hostMac, transcriptBytes } from '../../common/crypto/transcript.js';
import { cryptoBackend, isPromise } from '../../common/crypto/backend.js';
import { fromBase64, toBase64 } from '../../common/bytes.js';
import type { FileSource } from './files.js';
import { FlowControl } from './flow-control.js';
import { Link, type LinkOptions } from './link.js';
import { silentProgress, type ProgressSink, type SecureSession } from './session.js';

export interface SendOptions {
  /** the file; its SHA-256 may still be computing: the link is up meanwhile, and its pings keep a waiting receiver from timing out */
  file: FileSource;
  tuning: TransportTuning;
  progress?: ProgressSink;
  link?: LinkOptions;
  /** called once the receiver is authenticated, just before the first chunk */
  onAuthenticated?: (resumeFrom: number) => void;
}

export interface SendResult {
  resumedFrom: number;
  /** file bytes put on the wire in this run */
  sentBytes: number;
}

export async function sendFile(session: SecureSession, opts: SendOptions): Promise<SendResult> {
  const link = new Link<ReceiverMessage, HostMessage>(session.channel, parseReceiverMessage, opts.link);
  const progress = opts.progress ?? silentProgress;
  const { file, tuning } = opts;
  try {
    const hello = await link.expect('hello');
    if (hello.v !== PROTOCOL_VERSION) {
      throw new MovieShareError(ExitCode.Other, `The receiver speaks protocol version ${hello.v}, this movie-share speaks ${PROTOCOL_VERSION}; update both.`);
    }
    const rsaPublicKey = fromBase64(hello.rsaPublicKey);
    const publicKey = await link.guard(importReceiverPublicKey(rsaPublicKey));
    const sha256 = await link.guard(Promise.resolve(file.sha256));
    const chunkSize = Math.min(tuning.chunkSize, session.channel.maxMessageSize - CHUNK_OVERHEAD);
    const key = cryptoBackend().randomBytes(KEY_BYTES);
    const transferId = cryptoBackend().randomBytes(TRANSFER_ID_BYTES);
    const encryptedKey = await link.guard(encryptKeyMessage(publicKey, serializeKeyPayload({ transferId, key, sha256, size: file.size, name: file.name, chunkSize })));
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

    const confirm = await link.expect('confirm');
    checkMac(receiverMac(session.confirmReceiver, transcript, confirm.resumeFrom), fromBase64(confirm.mac));
    const from = confirm.resumeFrom;
    if (from > file.size) throw new MovieShareError(ExitCode.Other, 'The receiver asked to resume past the end of the file.');
    opts.onAuthenticated?.(from);

    // the receiver acks every `ackBytes`: a smaller window would wait forever for an ack
    const flow = new FlowControl(session.channel, { ...tuning, windowBytes: Math.max(tuning.windowBytes, tuning.ackBytes + chunkSize) }, from);
    link.onEager = (m) => {
      if (m.t !== 'ack') return false;
      flow.ack(m.written);
      return true;
    };
    progress.start(file.size, from);
    const total = chunkCount(file.size - from, chunkSize);
    let index = 0;
    let offset = from;
    // Sealed frames go to the channel in bursts of `sendBatchBytes`, and
    // before every wait, so the receiver never waits for a frame we hold.
    const batch: Uint8Array[] = [];
    let batchBytes = 0;
    const flush = (): void => {
      for (const f of batch) link.sendFrame(f);
      batch.length = 0;
      batchBytes = 0;
    };
    for await (const slice of file.chunks(from, chunkSize)) {
      const end = offset + slice.length;
      if (!flow.canSend(end)) {
        flush();
        await link.guard(flow.ready(end));
      }
      // a synchronous backend (Node) seals here and now; WebCrypto returns a promise
      const sealed = encodeChunk(key, transferId, index, index === total - 1, slice);
      const frame = isPromise(sealed) ? await sealed : sealed;
      batch.push(frame);
      batchBytes += frame.length;
      if (batchBytes >= tuning.sendBatchBytes) flush();
      index++;
      offset = end;
      progress.update(offset);
      if (link.failed) throw link.failed;
    }
    flush();
    link.sendControl({ t: 'end' });
    const done = await link.expect('done');
    if (done.sha256 !== sha256) {
      throw new MovieShareError(ExitCode.Integrity, 'The receiver reported a different SHA-256 than the file has.');
    }
    link.finish();
    progress.finish();
    return { resumedFrom: from, sentBytes: file.size - from };
  } catch (e) {
    const err = link.fail(e);
    await link.linger(); // let an abort we sent reach the receiver before the CLI closes the channel
    throw err;
  }
}
