/**
 * The abstract message channel the transfer runs over. The WebRTC data channel
 * (peer/webrtc/datachannel.ts) implements it for real; tests use the in-memory pair
 * (test/support/memory-channel.ts) with hooks that tamper with frames.
 */
export interface MessageChannel {
  /** largest frame this channel can carry in one message */
  readonly maxMessageSize: number;
  send(frame: Uint8Array): void;
  /** bytes queued locally, not yet handed to the network */
  bufferedAmount(): number;
  /** resolves once bufferedAmount has fallen to the low-water mark (at once if it already has) */
  drained(): Promise<void>;
  onMessage(cb: (frame: Uint8Array) => void): void;
  /** the channel closed (remote close, connection lost, or local close) */
  onClose(cb: () => void): void;
  close(): void;
}
