/**
 * The WebRTC data channel as a MessageChannel (peer/channel.ts).
 */
import type { MessageChannel } from '../transfer/channel.js';
import type { WebRtcPeer, PolyfillDataChannel, PolyfillPeerConnection } from './webrtc.js';

export class DataChannelTransport implements MessageChannel {
  readonly maxMessageSize: number;
  private readonly dc: PolyfillDataChannel;
  /** strong reference: see webrtc.ts */
  private readonly pcRef: PolyfillPeerConnection;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly rtc: WebRtcPeer,
    lowWaterMark: number,
  ) {
    this.dc = rtc.channel();
    this.pcRef = rtc.pc();
    this.maxMessageSize = this.pcRef.ext_maxMessageSize || 65536;
    this.dc.bufferedAmountLowThreshold = lowWaterMark;
    this.dc.addEventListener('bufferedamountlow', () => this.wake());
    const onGone = () => {
      this.closed = true;
      this.wake();
    };
    rtc.peer.on('close', onGone);
    rtc.peer.on('error', onGone);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  send(frame: Uint8Array): void {
    this.rtc.peer.send(frame);
  }

  bufferedAmount(): number {
    return this.closed ? 0 : this.dc.bufferedAmount;
  }

  drained(): Promise<void> {
    if (this.closed || this.dc.bufferedAmount <= this.dc.bufferedAmountLowThreshold) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  onMessage(cb: (frame: Uint8Array) => void): void {
    this.rtc.peer.on('data', cb);
  }

  onClose(cb: () => void): void {
    this.rtc.peer.on('close', cb);
    this.rtc.peer.on('error', cb);
  }

  close(): void {
    this.closed = true;
    this.wake();
    this.rtc.peer.destroy();
    try {
      this.pcRef.close();
    } catch {
      // already closed
    }
  }
}
