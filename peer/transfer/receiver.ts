/**
 * The receiver's side of the data-channel protocol (docs/PROTOCOL.md §5, §6):
 *
 *   send hello (fresh RSA-3072 public key) → wait-key (check MAC, decrypt) →
 *   resume decision → send confirm (+ MAC over the chunks it has and its
 *   rate cap) → receive chunks in any order (authenticate, write, hash in
 *   file order, ack), asking for ranges a player needs (want) → end → every
 *   chunk here → fsync, compare SHA-256 → commit (OUT.part → OUT) → send done
 *
 * OUT appears only after the whole-file hash matched.
 */
import type { TransportTuning } from '../../common/config.js';
import { PROTOCOL_VERSION } from '../../common/config.js';
import { ExitCode, MovieShareError, integrityError } from '../../common/errors.js';
import { cryptoBackend, isPromise } from '../../common/crypto/backend.js';
import { constantTimeEqual } from '../../common/crypto/mac.js';
import { bytesToHex, fromBase64, hexToBytes, toBase64 } from '../../common/bytes.js';
import { CHUNK_OVERHEAD, chunkCount, decodeChunk, MAX_CHUNKS, type OpenedChunk } from '../../common/protocol/framing.js';
import { decryptKeyMessage, type ReceiverKeyPair } from '../../common/crypto/key-transport.js';
import { MAX_HAVE_RANGES, parseKeyPayload, parseHostMessage, type ReceiverMessage, type HostMessage, type TransferKind } from '../../common/protocol/messages.js';
import { checkMac, receiverMac, hostMac, transcriptBytes } from '../../common/crypto/transcript.js';
import { MAX_MANIFEST_BYTES, parseManifest, type Manifest } from '../../common/protocol/manifest.js';
import { ChunkSet } from './chunk-set.js';
import type { FileSink, IncomingFile, TransferReader } from './files.js';
import { Link, type LinkOptions } from './link.js';
import { OrderedHash } from './ordered-hash.js';
import { silentProgress, type ProgressSink, type SecureSession } from './session.js';

export interface ReceiveOptions {
  /**
   * where the file goes (staged until the whole-file hash matched); or the
   * sink for what the authenticated key message announces (its name, size,
   * kind: a text need not go where a file would)
   */
  sink: FileSink | ((file: IncomingFile) => FileSink);
  keyPair: Promise<ReceiverKeyPair>;
  tuning: TransportTuning;
  progress?: ProgressSink;
  link?: LinkOptions;
  /** bytes per second the host may send at most (0 or absent: no cap) */
  maxRate?: number;
  /**
   * A set's manifest, checked, before the sink is made and anything written:
   * the receiver's chance to decline (reject with the error to end with).
   */
  onManifest?: (manifest: Manifest, payload: { name: string; size: number; sha256: string }) => Promise<void>;
  /** told once the host is authenticated and the resume decision is made */
  onStart?: (info: { name: string; size: number; resumeFrom: number; notice?: string }) => void;
  /** given a reader for a player once the file is open (not for a sink that only streams forward) */
  onReader?: (reader: TransferReader) => void;
}

export interface ReceiveResult {
  name: string;
  /** `text`: a short text (movie-share --text), `file` otherwise */
  kind: TransferKind;
  size: number;
  sha256: string;
  /** bytes that were already here from an earlier run */
  resumedFrom: number;
}

/** how much of the kept part hashKept reads at a time */
const READ_BACK_BYTES = 1024 * 1024;

interface Waiter {
  start: number;
  end: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export async function receiveFile(session: SecureSession, opts: ReceiveOptions): Promise<ReceiveResult> {
  const link = new Link<HostMessage, ReceiverMessage>(session.channel, parseHostMessage, opts.link);
  const progress = opts.progress ?? silentProgress;
  /** the sink once opened, until committed: aborted if the transfer fails */
  let opened: FileSink | undefined;
  const waiters = new Set<Waiter>();
  try {
    const kp = await link.guard(opts.keyPair);
    // a set's manifest pieces follow the key at once: gathered as they come (bounded), read once the key says how many bytes
    const pieces: Uint8Array[] = [];
    let pieceBytes = 0;
    let piecesArrived: (() => void) | undefined;
    link.onEager = (m) => {
      if (m.t !== 'manifest') return false;
      const piece = fromBase64(m.data);
      pieceBytes += piece.length;
      if (pieceBytes > MAX_MANIFEST_BYTES) throw integrityError(`The sender's list of files is larger than ${MAX_MANIFEST_BYTES / 1024 / 1024} MiB; nothing was written.`);
      pieces.push(piece);
      piecesArrived?.();
      return true;
    };
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
    const { chunkSize, size } = payload;
    const count = chunkCount(size, chunkSize);
    if (count > MAX_CHUNKS) throw new MovieShareError(ExitCode.Other, 'The sender chose chunks too small for a file this large.');
    const chunkLength = (i: number): number => (i === count - 1 ? size - i * chunkSize : chunkSize);

    let written = 0;
    let lastAck = 0;
    let needBytes = 0;
    const onWritten = (bytes: number): void => {
      written += bytes;
      if (written - lastAck >= opts.tuning.ackBytes || written === needBytes) {
        lastAck = written;
        link.sendControl({ t: 'ack', written });
      }
    };
    let incoming: IncomingFile = { sha256: payload.sha256, size: payload.size, name: payload.name, kind: payload.kind };
    if (payload.kind === 'set') {
      const ref = payload.manifest!;
      if (ref.bytes > MAX_MANIFEST_BYTES) throw integrityError(`The sender's list of files is larger than ${MAX_MANIFEST_BYTES / 1024 / 1024} MiB; nothing was written.`);
      while (pieceBytes < ref.bytes) await link.guard(new Promise<void>((r) => (piecesArrived = r)));
      piecesArrived = undefined;
      if (pieceBytes !== ref.bytes) throw integrityError("The sender's list of files is longer than it said; nothing was written.");
      const bytes = new Uint8Array(ref.bytes);
      let at = 0;
      for (const p of pieces) {
        bytes.set(p, at);
        at += p.length;
      }
      const h = cryptoBackend().sha256();
      h.update(bytes);
      if (!constantTimeEqual(h.digest(), hexToBytes(ref.sha256))) throw integrityError("The sender's list of files does not match its SHA-256; nothing was written.");
      const manifest = parseManifest(bytes, size);
      await link.guard(opts.onManifest?.(manifest, { name: payload.name, size, sha256: payload.sha256 }) ?? Promise.resolve());
      incoming = { ...payload, manifest };
    } else if (pieces.length > 0) throw new MovieShareError(ExitCode.Other, 'The other side sent a list of files for a single file; it may be running an incompatible version.');
    link.onEager = (m) => {
      if (m.t === 'manifest') throw new MovieShareError(ExitCode.Other, 'The other side sent more of a list of files than it said; it may be running an incompatible version.');
      return false;
    };
    const sink = typeof opts.sink === 'function' ? opts.sink(incoming) : opts.sink;
    const resume = await link.guard(sink.open(incoming, onWritten));
    opened = sink;
    sink.failure.catch((e: unknown) => link.fail(e));
    const kept = haveChunks(count, chunkSize, size, resume.have);
    // the confirm carries the SHA-256 of the kept bytes: the host resumes only if its file holds the same there
    const keptHash = await link.guard(hashKept(kept, chunkSize, size, (o, l) => sink.read(o, l)));

    let present = kept;
    let received = 0;
    let resumedFrom = 0;
    let hash: OrderedHash | undefined;
    let resolveAll!: () => void;
    const allHere = new Promise<void>((r) => (resolveAll = r));
    let resolveStarted!: () => void;
    const started = new Promise<void>((r) => (resolveStarted = r));

    /** an authenticated chunk: length check, disk, hash, waiting readers */
    const accept = ({ index, plaintext }: OpenedChunk): void => {
      if (!present.add(index)) throw integrityError(`Piece ${index} of the file arrived twice; nothing was saved. Try the transfer again.`);
      if (plaintext.length !== chunkLength(index)) {
        throw integrityError('The file arrived with the wrong length; nothing was saved. Try the transfer again.');
      }
      sink.write(index * chunkSize, plaintext);
      hash!.arrived(index, plaintext);
      received += plaintext.length;
      progress.update(received);
      for (const w of waiters) {
        if (index >= w.start && index < w.end && present.covers(w.start, w.end)) {
          waiters.delete(w);
          w.resolve();
        }
      }
      if (present.complete) resolveAll();
    };
    /** chunks still being opened by an asynchronous backend, in arrival order */
    let opening: Promise<void> | undefined;
    /**
     * The host's `start`: it vouches for the kept chunks (resume), or not, and
     * then every chunk comes and what was kept is dropped (overwritten, and
     * never read into the hash). Synchronous: chunks may follow at once.
     */
    const begin = (resumeKept: boolean): void => {
      if (!resumeKept) {
        if (kept.size > 0) sink.discardKept?.();
        present = new ChunkSet(count);
      }
      needBytes = 0;
      for (let i = 0; i < count; i++) {
        if (present.has(i)) received += chunkLength(i);
        else needBytes += chunkLength(i);
      }
      resumedFrom = received;
      hash = new OrderedHash(cryptoBackend().sha256(), present, chunkSize, size, (o, l) => sink.read(o, l));
      hash.catchUp();
      const notice = resumeKept || kept.size === 0 ? resume.notice : 'The part already here does not match the sender’s file; receiving it all again.';
      opts.onStart?.({ name: payload.name, size, resumeFrom: resumedFrom, notice });
      progress.start(size, resumedFrom);
      if (present.complete) resolveAll();
      link.onChunk = (frame) => {
        const chunk = decodeChunk(payload.key, payload.transferId, count, frame);
        if (!opening && !isPromise(chunk)) return accept(chunk);
        if (isPromise(chunk)) chunk.catch(() => undefined); // handled in order below
        opening = (opening ?? Promise.resolve())
          .then(async () => accept(await chunk))
          .catch((e: unknown) => {
            link.fail(e);
          });
      };
      resolveStarted();
    };
    let hostStarted = false;
    link.onEager = (m) => {
      if (m.t === 'start') {
        if (hostStarted) throw new MovieShareError(ExitCode.Other, 'The other side sent "start" twice; it may be running an incompatible version.');
        hostStarted = true;
        begin(m.resume);
        return true;
      }
      if (m.t !== 'end') return false;
      if (!hostStarted) throw new MovieShareError(ExitCode.Other, 'The other side sent "end" before "start"; it may be running an incompatible version.');
      // chunks still being decrypted are counted once they are opened
      void (opening ?? Promise.resolve()).then(() => {
        if (!present.complete) link.fail(integrityError('The file ended early (pieces are missing); nothing was saved. Try the transfer again.'));
      });
      return true;
    };

    const terms = { have: kept.ranges(MAX_HAVE_RANGES), maxRate: opts.maxRate ?? 0, kept: keptHash };
    link.sendControl({ t: 'confirm', mac: toBase64(receiverMac(session.confirmReceiver, transcript, terms)), ...terms });
    // the reader is given once the host has started: a want sent before would reach a host still waiting for the confirm
    await link.guard(started);

    if (opts.onReader) {
      const readerFailed = link.failure.catch((e: unknown) => {
        for (const w of waiters) w.reject(e);
        waiters.clear();
      });
      void readerFailed;
      opts.onReader({
        name: payload.name,
        size,
        get received() {
          return received;
        },
        read: async (offset, length) => {
          if (offset < 0 || length < 0 || offset + length > size) throw new RangeError('outside the file');
          if (length === 0) return new Uint8Array(0);
          if (link.failed) throw link.failed;
          const start = Math.floor(offset / chunkSize);
          const end = Math.ceil((offset + length) / chunkSize);
          const first = present.firstMissing(start, end);
          if (first >= 0) {
            link.sendControl({ t: 'want', offset: first * chunkSize, length: offset + length - first * chunkSize });
            await new Promise<void>((resolve, reject) => waiters.add({ start, end, resolve, reject }));
          }
          return sink.read(offset, length);
        },
      });
    }

    await link.guard(allHere);
    await link.guard(opening ?? Promise.resolve());
    await link.guard(sink.finish());
    const digest = await link.guard(hash!.digest());
    if (!constantTimeEqual(digest, hexToBytes(payload.sha256))) {
      throw integrityError("The received file does not match the sender's SHA-256; nothing was saved. Try the transfer again.");
    }
    await sink.commit();
    opened = undefined;
    link.sendControl({ t: 'done', sha256: payload.sha256 });
    link.finish();
    progress.finish();
    await session.channel.drained();
    await link.linger(); // the host closes once it has read `done`; closing first could lose it
    return { name: payload.name, kind: payload.kind, size, sha256: payload.sha256, resumedFrom };
  } catch (e) {
    const err = link.fail(e);
    for (const w of waiters) w.reject(err);
    waiters.clear();
    if (opened) await opened.abort(err.exitCode !== ExitCode.Integrity);
    await link.linger(); // let an abort we sent reach the host before the CLI closes the channel
    throw err;
  }
}

/**
 * The chunks wholly inside the byte ranges a sink kept from an earlier run,
 * at most MAX_HAVE_RANGES runs of them (a confirm carries no more; the rest
 * is simply received again).
 */
function haveChunks(count: number, chunkSize: number, size: number, byteRanges: readonly number[]): ChunkSet {
  const all = new ChunkSet(count);
  for (let r = 0; r + 1 < byteRanges.length; r += 2) {
    const from = Math.ceil(byteRanges[r]! / chunkSize);
    const to = byteRanges[r + 1]! >= size ? count : Math.floor(byteRanges[r + 1]! / chunkSize);
    for (let i = from; i < to; i++) all.add(i);
  }
  if (size === 0) return new ChunkSet(count); // nothing to keep: the one empty chunk is sent
  return ChunkSet.fromRanges(count, all.ranges(MAX_HAVE_RANGES));
}

/** SHA-256 (hex) of the kept chunks' bytes, concatenated in file order, read back from the sink. */
async function hashKept(kept: ChunkSet, chunkSize: number, size: number, read: (offset: number, length: number) => Promise<Uint8Array>): Promise<string> {
  const hash = cryptoBackend().sha256();
  const ranges = kept.ranges(MAX_HAVE_RANGES);
  for (let r = 0; r + 1 < ranges.length; r += 2) {
    const to = Math.min(ranges[r + 1]! * chunkSize, size);
    for (let at = ranges[r]! * chunkSize; at < to;) {
      const n = Math.min(to - at, READ_BACK_BYTES);
      const bytes = await read(at, n);
      if (bytes.length !== n) throw new MovieShareError(ExitCode.Other, 'The part of the file kept from an earlier run could not be read back.');
      hash.update(bytes);
      at += n;
    }
  }
  return bytesToHex(hash.digest());
}
