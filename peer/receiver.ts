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
import { timingSafeEqual } from 'node:crypto';
import { rename, open as openDir, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { TransportTuning } from '../common/config.js';
import { PROTOCOL_VERSION, SIDECAR_EVERY_BYTES } from '../common/config.js';
import { ExitCode, MovieShareError, integrityError } from '../common/errors.js';
import { CHUNK_OVERHEAD, chunkCount, decodeChunk } from '../common/framing.js';
import { decryptKeyMessage, type ReceiverKeyPair } from '../common/key-transport.js';
import { parseKeyPayload, parseSenderMessage, type ReceiverMessage, type SenderMessage } from '../common/messages.js';
import { checkMac, receiverMac, senderMac, transcriptBytes } from '../common/transcript.js';
import { FileWriter } from './file-writer.js';
import { Link, type LinkOptions } from './link.js';
import { partPath, prepareResume, removeResumeState, writeSidecar } from './resume.js';
import { silentProgress, type ProgressSink, type SecureSession } from './session.js';

export interface ReceiveOptions {
  outPath: string;
  keyPair: Promise<ReceiverKeyPair>;
  tuning: TransportTuning;
  progress?: ProgressSink;
  link?: LinkOptions;
  /** told once the sender is authenticated and the resume decision is made */
  onStart?: (info: { name: string; size: number; resumeFrom: number; notice?: string }) => void;
}

export interface ReceiveResult {
  name: string;
  size: number;
  sha256: string;
  resumedFrom: number;
}

export async function receiveFile(session: SecureSession, opts: ReceiveOptions): Promise<ReceiveResult> {
  const link = new Link<SenderMessage, ReceiverMessage>(session.channel, parseSenderMessage, opts.link);
  const progress = opts.progress ?? silentProgress;
  const out = opts.outPath;
  let partFh: FileHandle | undefined;
  let verified = 0;
  let keep: { sha256: string; size: number; name: string } | undefined;
  try {
    const kp = await link.guard(opts.keyPair);
    link.sendControl({ t: 'hello', v: PROTOCOL_VERSION, rsaPublicKey: kp.publicKeyDer.toString('base64') });

    const keyMsg = await link.expect('key');
    if (keyMsg.v !== PROTOCOL_VERSION) {
      throw new MovieShareError(ExitCode.Other, `The sender speaks protocol version ${keyMsg.v}, this movie-get speaks ${PROTOCOL_VERSION}; update both.`);
    }
    const encryptedKey = Buffer.from(keyMsg.encryptedKey, 'base64');
    const transcript = transcriptBytes({
      version: PROTOCOL_VERSION,
      hostFingerprint: session.hostFingerprint,
      receiverFingerprint: session.receiverFingerprint,
      rsaPublicKey: kp.publicKeyDer,
      encryptedKey,
    });
    checkMac(senderMac(session.confirmHost, transcript), Buffer.from(keyMsg.mac, 'base64'));
    const payload = parseKeyPayload(decryptKeyMessage(kp.privateKey, encryptedKey));
    if (payload.chunkSize + CHUNK_OVERHEAD > session.channel.maxMessageSize) {
      throw new MovieShareError(ExitCode.Other, 'The sender chose chunks larger than this connection can carry.');
    }

    const resume = await prepareResume(out, payload);
    partFh = resume.fh;
    keep = { sha256: payload.sha256, size: payload.size, name: payload.name };
    verified = resume.offset;
    const from = resume.offset;
    opts.onStart?.({ name: payload.name, size: payload.size, resumeFrom: from, notice: resume.notice });

    const expectedChunks = chunkCount(payload.size - from, payload.chunkSize);
    let index = 0;
    let received = from;
    let lastAck = from;
    let lastSidecar = from;
    let sidecarBusy = false;
    let resolveLast!: () => void;
    const lastSeen = new Promise<void>((r) => (resolveLast = r));

    const writer = new FileWriter(resume.fh, from, (written) => {
      verified = written;
      if (written - lastAck >= opts.tuning.ackBytes || written === payload.size) {
        lastAck = written;
        link.sendControl({ t: 'ack', written });
      }
      if (!sidecarBusy && written - lastSidecar >= SIDECAR_EVERY_BYTES) {
        sidecarBusy = true;
        lastSidecar = written;
        writeSidecar(out, { v: 1, ...keep!, verified: written })
          .catch(() => undefined)
          .finally(() => (sidecarBusy = false));
      }
    });
    writer.failure.catch((e: unknown) => link.fail(e));

    link.onChunk = (frame) => {
      if (index >= expectedChunks) throw integrityError('More data arrived after the end of the file; nothing was saved. Try the transfer again.');
      const { plaintext, last } = decodeChunk(payload.key, payload.transferId, index, frame);
      const isLast = index === expectedChunks - 1;
      const expectedLen = isLast ? payload.size - received : payload.chunkSize;
      if (last !== isLast || plaintext.length !== expectedLen) {
        throw integrityError('The file arrived with the wrong length; nothing was saved. Try the transfer again.');
      }
      resume.hash.update(plaintext);
      writer.write(plaintext);
      received += plaintext.length;
      index++;
      progress.update(received);
      if (isLast) resolveLast();
    };
    link.onEager = (m) => {
      if (m.t !== 'end') return false;
      if (index < expectedChunks) link.fail(integrityError('The file ended early (pieces are missing); nothing was saved. Try the transfer again.'));
      return true;
    };

    progress.start(payload.size, from);
    link.sendControl({
      t: 'confirm',
      mac: receiverMac(session.confirmReceiver, transcript, from).toString('base64'),
      resumeFrom: from,
    });

    await link.guard(lastSeen);
    await link.guard(writer.flush());
    await link.guard(resume.fh.sync());
    await resume.fh.close();
    partFh = undefined;
    const digest = resume.hash.digest();
    const expected = Buffer.from(payload.sha256, 'hex');
    if (!timingSafeEqual(digest, expected)) {
      throw integrityError('The received file does not match the sender\'s SHA-256; nothing was saved. Try the transfer again.');
    }
    await rename(partPath(out), out);
    await removeResumeState(out);
    await syncDir(dirname(out));
    link.sendControl({ t: 'done', sha256: payload.sha256 });
    link.finish();
    progress.finish();
    await session.channel.drained();
    await link.linger(); // the sender closes once it has read `done`; closing first could lose it
    return { name: payload.name, size: payload.size, sha256: payload.sha256, resumedFrom: from };
  } catch (e) {
    const err = link.fail(e);
    const hadPart = partFh !== undefined;
    await partFh?.close().catch(() => undefined);
    if (err.exitCode === ExitCode.Integrity) {
      await removeResumeState(out).catch(() => undefined);
    } else if (keep && hadPart) {
      await writeSidecar(out, { v: 1, ...keep, verified }).catch(() => undefined);
    }
    await link.linger(); // let an abort we sent reach the sender before the CLI closes the channel
    throw err;
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const d = await openDir(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // not all file systems allow fsync on a directory; the rename already happened
  }
}
