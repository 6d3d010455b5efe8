/**
 * The page's two jobs as straight lines of steps, the same steps as the CLIs
 * (peer/cli/get-command.ts, peer/cli/share-cli.ts) with the browser shell
 * plugged in: WebCrypto (crypto.ts), the browser's RTCPeerConnection
 * (browser-peer.ts), a file handle as the sink (file-sink.ts) and a picked
 * File as the source (file-source.ts). No DOM here: main.ts renders.
 */
import { makeCode, parseCode } from '../../common/code/code.js';
import { DEFAULT_TUNING, LINGER_MS } from '../../common/config.js';
import type { ReceiverKeyPair } from '../../common/crypto/key-transport.js';
import { rendezvous } from '../rendezvous/rendezvous.js';
import { SignalClient } from '../rendezvous/signal-client.js';
import type { IncomingFile } from '../transfer/files.js';
import { sendFile, type SendResult } from '../transfer/host.js';
import { receiveFile, type ReceiveResult } from '../transfer/receiver.js';
import type { ProgressSink } from '../transfer/session.js';
import { browserPeerFactory } from './browser-peer.js';
import { WritableFileSink } from './file-sink.js';
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
  /** where to write the file, asked once its name and size are known */
  target: (file: IncomingFile) => Promise<FileSystemFileHandle>;
  view: FlowView & { incoming(file: { name: string; size: number }): void };
  cancel: AbortSignal;
}

/** code → signaling → PAKE → data channel → file, verified before it is committed. */
export async function receiveInPage(p: ReceiveParams): Promise<ReceiveResult> {
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
    try {
      return await receiveFile(rz.session, {
        sink: new WritableFileSink(p.target),
        keyPair: p.keyPair,
        tuning: DEFAULT_TUNING,
        progress: p.view.progress,
        link: { cancel: p.cancel, lingerMs: LINGER_MS },
        onStart: (i) => p.view.incoming({ name: i.name, size: i.size }),
      });
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

/** file → hash (meanwhile: room, code, waiting) → PAKE → data channel → chunks, until the receiver verified. */
export async function sendFromPage(p: SendParams): Promise<SendResult> {
  const sha256 = hashBlob(p.file, (n) => p.view.hashed(n));
  sha256.catch(() => undefined); // reported by sendFile, which awaits it
  const signal = await SignalClient.connect({ url: p.signalUrl });
  try {
    const room = await signal.createRoom();
    const code = makeCode(room.room);
    p.view.code(code);
    const rz = await rendezvous({
      role: 'host',
      code: parseCode(code),
      signal,
      factory: browserPeerFactory(room.iceServers),
      lowWaterMark: DEFAULT_TUNING.lowWaterMark,
      onVerified: (v) => p.view.verified(v),
      log: (l) => p.view.log(l),
    });
    signal.close();
    try {
      return await sendFile(rz.session, {
        file: browserFileSource(p.file, sha256),
        tuning: DEFAULT_TUNING,
        progress: p.view.progress,
        link: { cancel: p.cancel, lingerMs: LINGER_MS },
      });
    } finally {
      rz.session.channel.close();
    }
  } finally {
    signal.close();
  }
}
