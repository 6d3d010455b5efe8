/**
 * What the rendezvous (signaling + PAKE + WebRTC) hands to the transfer: an
 * open channel, the key-confirmation keys from the PAKE, and the DTLS
 * fingerprints of the connection actually in use, in host/receiver order.
 */
import type { MessageChannel } from './channel.js';

export interface SecureSession {
  channel: MessageChannel;
  confirmHost: Uint8Array;
  confirmReceiver: Uint8Array;
  hostFingerprint: string;
  receiverFingerprint: string;
}

/** Where the transfer reports progress (peer/cli/progress.ts renders it). */
export interface ProgressSink {
  start(total: number, already: number): void;
  update(done: number): void;
  finish(): void;
  /** a word on the progress line until the next update, e.g. "reconnecting (attempt 2)…" */
  note?(text: string): void;
  /** what is being moved now, kept on the line (a set's current file) */
  label?(text: string): void;
}

export const silentProgress: ProgressSink = { start() {}, update() {}, finish() {} };
