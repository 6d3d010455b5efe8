/**
 * The page's two jobs as straight lines of steps, the same steps as the CLIs
 * (peer/cli/get-command.ts, peer/cli/share-cli.ts) with the browser shell
 * plugged in: WebCrypto (crypto.ts), the browser's RTCPeerConnection
 * (browser-peer.ts), a file handle as the sink (file-sink.ts; opfs-sink.ts
 * for a file the page plays while it arrives) and a picked File as the
 * source (file-source.ts). No DOM here: main.ts renders.
 */
import { makeCode, parseCode } from '../../common/code/code.js';
import { DEFAULT_PATIENCE_MS, DEFAULT_TUNING, LINGER_MS } from '../../common/config.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import type { ReceiverKeyPair } from '../../common/crypto/key-transport.js';
import { rendezvous } from '../rendezvous/rendezvous.js';
import { healingTransfer } from '../rendezvous/heal.js';
import { SignalClient } from '../rendezvous/signal-client.js';
import type { FileSink, IncomingFile, TransferReader } from '../transfer/files.js';
import { sendFile, type SendResult } from '../transfer/host.js';
import { receiveFile, type ReceiveResult } from '../transfer/receiver.js';
import { MemorySink } from '../transfer/memory-sink.js';
import { fromUtf8 } from '../../common/bytes.js';
import type { ProgressSink } from '../transfer/session.js';
import { browserPeerFactory } from './browser-peer.js';
import { browserStaging, WritableFileSink } from './file-sink.js';
import { OpfsSink } from './opfs-sink.js';
import { browserFileSource, hashBlob } from './file-source.js';

/** What a flow tells the page as it goes. */
export interface FlowView {
  /** a step, in words (also the --verbose lines of the CLI) */
  log(line: string): void;
  /** the verification string, once the PAKE is confirmed */
  verified(verification: string): void;
  progress: ProgressSink;
}

export interface ReceiveParams {
  code: string;
  signalUrl: string;
  keyPair: Promise<ReceiverKeyPair>;
  /**
   * Where the file goes, asked once its name and size are known: a file the
   * user picked, or null: the browser's private storage, and a download once
   * it is verified.
   */
  choose: (file: IncomingFile) => Promise<FileSystemFileHandle | null>;
  /** a file to play while it arrives: `wants` says whether to (asked at open), `start` is given the reader */
  play?: {
    wants(file: IncomingFile): Promise<boolean>;
    start(reader: TransferReader, sink: OpfsSink): void;
  };
  view: FlowView & { incoming(file: { name: string; size: number }): void };
  cancel: AbortSignal;
}

export interface ReceivedInPage extends ReceiveResult {
  /** the verified file in the browser's storage, to download (when no file was picked) */
  download?: FileSystemFileHandle;
  /** a text (`movie-share --text`), verified: shown, not saved */
  text?: string;
}

/**
 * The sink, chosen once the file is known: a file to play is staged where it
 * can be read while written (OpfsSink); any other goes, as it streams in,
 * through the target's swap file (WritableFileSink), as does a file to play
 * when the browser will not stage it.
 */
class ChosenSink implements FileSink {
  private inner: FileSink | undefined;
  download: FileSystemFileHandle | undefined;
  playing: OpfsSink | undefined;

  constructor(
    private readonly choose: (file: IncomingFile) => Promise<FileSystemFileHandle | null>,
    private readonly play: ReceiveParams['play'],
    private readonly log: (line: string) => void,
  ) {}

  get failure(): Promise<never> {
    return this.inner!.failure;
  }

  async open(file: IncomingFile, onWritten: (bytes: number) => void): Promise<{ have: number[]; notice?: string }> {
    let chosen: Promise<FileSystemFileHandle | null> | undefined;
    const choice = (f: IncomingFile) => (chosen ??= this.choose(f)); // asked once
    if (this.play && (await this.play.wants(file))) {
      const sink = new OpfsSink(choice);
      try {
        const r = await sink.open(file, onWritten);
        this.inner = this.playing = sink;
        return r;
      } catch (e) {
        if (
          chosen &&
          (await chosen.then(
            () => false,
            () => true,
          ))
        )
          throw e; // the choice itself failed
        this.log(`no playback while receiving: ${(e as Error).message}`);
      }
    }
    this.inner = new WritableFileSink(async (f) => (await choice(f)) ?? (this.download = await browserStaging()));
    return this.inner.open(file, onWritten);
  }

  write(offset: number, bytes: Uint8Array): void {
    this.inner!.write(offset, bytes);
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.inner!.read(offset, length);
  }
  finish(): Promise<void> {
    return this.inner!.finish();
  }
  async commit(): Promise<void> {
    await this.inner!.commit();
    if (this.playing) this.download = this.playing.download;
  }
  async abort(keepForResume: boolean): Promise<void> {
    this.download = undefined;
    await this.inner?.abort(keepForResume);
  }
}

/** code → signaling → PAKE → data channel → file, verified before it is committed. */
export async function receiveInPage(p: ReceiveParams): Promise<ReceivedInPage> {
  const code = parseCode(p.code);
  const signal = await SignalClient.connect({ url: p.signalUrl });
  try {
    const joined = await signal.joinRoom(code.room);
    p.view.log('joined the room; checking the code');
    const rz = await rendezvous({
      role: 'receiver',
      code,
      signal,
      factory: browserPeerFactory(joined.iceServers),
      lowWaterMark: DEFAULT_TUNING.lowWaterMark,
      onVerified: (v) => p.view.verified(v),
      log: (l) => p.view.log(l),
    });
    signal.close();
    const sink = new ChosenSink(p.choose, p.play, (l) => p.view.log(l));
    let text: MemorySink | undefined;
    try {
      const res = await receiveFile(rz.session, {
        sink: (file) => (file.kind === 'text' ? (text = new MemorySink()) : sink),
        keyPair: p.keyPair,
        tuning: DEFAULT_TUNING,
        progress: p.view.progress,
        link: { cancel: p.cancel, lingerMs: LINGER_MS },
        // a set (folders, several files) would need a folder to write into, which this page does not ask for
        onManifest: (m) =>
          Promise.reject(
            new MovieShareError(
              ExitCode.Usage,
              `The sender is sending ${m.entries.length} files and folders; this page receives one file at a time. Receive them with movie-get instead.`,
            ),
          ),
        onStart: (i) => p.view.incoming({ name: i.name, size: i.size }),
        onReader: (reader) => sink.playing && p.play?.start(reader, sink.playing),
      });
      return text ? { ...res, text: fromUtf8(text.bytes()) } : { ...res, download: sink.download };
    } finally {
      rz.session.channel.close();
    }
  } finally {
    signal.close();
  }
}

export interface SendParams {
  file: File;
  signalUrl: string;
  view: FlowView & {
    /** the code to give the receiver (the room exists; the page waits for the receiver) */
    code(code: string): void;
    hashed(bytes: number): void;
  };
  cancel: AbortSignal;
}

/**
 * file → hash (meanwhile: room, code, waiting) → PAKE → data channel → chunks,
 * until the receiver verified. A connection that fails on the way is made
 * again (peer/rendezvous/heal.ts): the receiver resumes from what it has.
 */
export async function sendFromPage(p: SendParams): Promise<SendResult> {
  const sha256 = hashBlob(p.file, (n) => p.view.hashed(n));
  sha256.catch(() => undefined); // reported by sendFile, which awaits it
  const signal = await SignalClient.connect({ url: p.signalUrl });
  let channel: { close(): void } | undefined;
  try {
    const room = await signal.createRoom();
    const code = makeCode(room.room);
    p.view.code(code);
    const factory = browserPeerFactory(room.iceServers);
    return await healingTransfer({
      role: 'host',
      first: () =>
        rendezvous({
          role: 'host',
          code: parseCode(code),
          signal,
          factory,
          lowWaterMark: DEFAULT_TUNING.lowWaterMark,
          onVerified: (v) => p.view.verified(v),
          log: (l) => p.view.log(l),
        }),
      run: (c) => {
        channel = c.session.channel;
        return sendFile(c.session, {
          file: browserFileSource(p.file, sha256),
          tuning: DEFAULT_TUNING,
          progress: p.view.progress,
          link: { cancel: p.cancel, lingerMs: LINGER_MS },
        });
      },
      factory,
      lowWaterMark: DEFAULT_TUNING.lowWaterMark,
      connectSignal: () => SignalClient.connect({ url: p.signalUrl }),
      patienceMs: DEFAULT_PATIENCE_MS,
      onConnected: () => signal.close(),
      onReconnecting: (attempt, why) => {
        p.view.log(`reconnecting (attempt ${attempt}): ${why}`);
        p.view.progress.note?.(`reconnecting (attempt ${attempt})…`);
      },
      log: (l) => p.view.log(l),
    });
  } finally {
    channel?.close();
    signal.close();
  }
}
