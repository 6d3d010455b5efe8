/**
 * The receiver's side of the data-channel protocol (docs/PROTOCOL.md §5):
 *
 *   send hello (fresh RSA-3072 public key) → wait-key (check MAC, decrypt) →
 *   resume decision → send confirm (+ MAC, resume offset) → receive chunks
 *   (authenticate, hash, write OUT.part, ack) → end → fsync, compare SHA-256
 *   → rename OUT.part to OUT → send done
 *
 * OUT appears only after the whole-file hash matched.
 */
import type { TransportTuning } from '../../common/config.js';
import { PROTOCOL_VERSION } from '../../common/config.js';
import { ExitCode, MovieShareError, integrityError } from '../../common/errors.js';
import { cryptoBackend, isPromise } from '../../common/crypto/backend.js';
import { constantTimeEqual } from '../../common/crypto/mac.js';
import { fromBase64, hexToBytes, toBase64 } from '../../common/bytes.js';
import { CHUNK_OVERHEAD, chunkCount, decodeChunk, type OpenedChunk } from '../../common/protocol/framing.js';
import { decryptKeyMessage, type ReceiverKeyPair } from '../../common/crypto/key-transport.js';
import { parseKeyPayload, parseHostMessage, type ReceiverMessage, type HostMessage } from '../../common/protocol/messages.js';
import { checkMac, receiverMac, hostMac, transcriptBytes } from '../../common/crypto/transcript.js';
import type { FileSink } from './files.js';
import { Link, type LinkOptions } from './link.js';
import { silentProgress, type ProgressSink, type SecureSession } from './session.js';

export interface ReceiveOptions {
  /** where the file goes (staged until the whole-file hash matched) */
  sink: FileSink;
  keyPair: Promise<ReceiverKeyPair>;
  tuning: TransportTuning;
  progress?: ProgressSink;
  link?: LinkOptions;
  /** told once the host is authenticated and the resume decision is made */
  onStart?: (info: { name: string; size: number; resumeFrom: number; notice?: string }) => void;
}

export interface ReceiveResult {
  name: string;
  size: number;
  sha256: string;
  resumedFrom: number;
}

export async function receiveFile(session: SecureSession, opts: ReceiveOptions): Promise<ReceiveResult> {
  const link = new Link<HostMessage, ReceiverMessage>(session.channel, parseHostMessage, opts.link);
  const progress = opts.progress ?? silentProgress;
  const { sink } = opts;
  let opened = false;
  try {
    const kp = await link.guard(opts.keyPair);
    link.sendControl({ t: 'hello', v: PROTOCOL_VERSION, rsaPublicKey: toBase64(kp.publicKeyDer) });

    const keyMsg = await link.expect('key');
    if (keyMsg.v !== PROTOCOL_VERSION) {
      throw new MovieShareError(ExitCode.Other, `The sender speaks protocol version ${keyMsg.v}, this movie-get speaks ${PROTOCOL_VERSION}; update both.`);
    }
    const encryptedKey = fromBase64(keyMsg.encryptedKey);
    const transcript = transcriptBytes({
      version: PROTOCOL_VERSION,
      hostFingerprint: session.hostFingerprint,
      receiverFingerprint: session.receiverFingerprint,
      rsaPublicKey: kp.publicKeyDer,
      encryptedKey,
    });
    checkMac(hostMac(session.confirmHost, transcript), fromBase64(keyMsg.mac));
    const payload = parseKeyPayload(await link.guard(decryptKeyMessage(kp.privateKey, encryptedKey)));
    if (payload.chunkSize + CHUNK_OVERHEAD > session.channel.maxMessageSize) {
      throw new MovieShareError(ExitCode.Other, 'The sender chose chunks larger than this connection can carry.');
    }

    const hash = cryptoBackend().sha256();
    let lastAck = 0;
    const onWritten = (written: number): void => {
      if (written - lastAck >= opts.tuning.ackBytes || written === payload.size) {
        lastAck = written;
        link.sendControl({ t: 'ack', written });
      }
    };
    const resume = await link.guard(sink.open(payload, hash, onWritten));
    opened = true;
    const from = resume.offset;
    lastAck = from;
    sink.failure.catch((e: unknown) => link.fail(e));
    opts.onStart?.({ name: payload.name, size: payload.size, resumeFrom: from, notice: resume.notice });

    const expectedChunks = chunkCount(payload.size - from, payload.chunkSize);
    /** chunk frames that arrived (their indexes are given in arrival order) */
    let arrived = 0;
    let received = from;
    let resolveLast!: () => void;
    const lastSeen = new Promise<void>((r) => (resolveLast = r));

    /** an authenticated chunk, in order: length checks, hash, disk */
    const accept = (index: number, { plaintext, last }: OpenedChunk): void => {
      const isLast = index === expectedChunks - 1;
      const expectedLen = isLast ? payload.size - received : payload.chunkSize;
      if (last !== isLast || plaintext.length !== expectedLen) {
        throw integrityError('The file arrived with the wrong length; nothing was saved. Try the transfer again.');
      }
      hash.update(plaintext);
      sink.write(plaintext);
      received += plaintext.length;
      progress.update(received);
      if (isLast) resolveLast();
    };
    /** chunks still being opened by an asynchronous backend, in order */
    let opening: Promise<void> | undefined;
    link.onChunk = (frame) => {
      if (arrived >= expectedChunks) throw integrityError('More data arrived after the end of the file; nothing was saved. Try the transfer again.');
      const index = arrived++;
      const chunk = decodeChunk(payload.key, payload.transferId, index, frame);
      if (!opening && !isPromise(chunk)) return accept(index, chunk);
      if (isPromise(chunk)) chunk.catch(() => undefined); // handled in order below
      opening = (opening ?? Promise.resolve())
        .then(async () => accept(index, await chunk))
        .catch((e: unknown) => {
          link.fail(e);
        });
    };
    link.onEager = (m) => {
      if (m.t !== 'end') return false;
      if (arrived < expectedChunks) link.fail(integrityError('The file ended early (pieces are missing); nothing was saved. Try the transfer again.'));
      return true;
    };

    progress.start(payload.size, from);
    link.sendControl({
      t: 'confirm',
      mac: toBase64(receiverMac(session.confirmReceiver, transcript, from)),
      resumeFrom: from,
    });

    await link.guard(lastSeen);
    await link.guard(sink.finish());
    if (!constantTimeEqual(hash.digest(), hexToBytes(payload.sha256))) {
      throw integrityError("The received file does not match the sender's SHA-256; nothing was saved. Try the transfer again.");
    }
    await sink.commit();
    opened = false;
    link.sendControl({ t: 'done', sha256: payload.sha256 });
    link.finish();
    progress.finish();
    await session.channel.drained();
    await link.linger(); // the host closes once it has read `done`; closing first could lose it
    return { name: payload.name, size: payload.size, sha256: payload.sha256, resumedFrom: from };
  } catch (e) {
    const err = link.fail(e);
    if (opened) await sink.abort(err.exitCode !== ExitCode.Integrity);
    await link.linger(); // let an abort we sent reach the host before the CLI closes the channel
    throw err;
  }
}
