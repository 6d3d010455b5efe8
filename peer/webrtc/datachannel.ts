/**
 * A WebRTC data channel under simple-peer as a MessageChannel
 * (peer/transfer/channel.ts): simple-peer sends and receives, and the
 * channel's own bufferedAmount and `bufferedamountlow` event drive the
 * backpressure loop (peer/transfer/flow-control.ts). Only W3C API: it serves
 * node-datachannel's polyfill and a browser alike.
 */
import type SimplePeer from 'simple-peer';
import type { MessageChannel } from '../transfer/channel.js';
import { dataChannelOf, peerConnectionOf, type ChannelLike, type PeerConnectionLike } from './simple-peer-adapter.js';

export class DataChannelTransport implements MessageChannel {
  private readonly dc: ChannelLike;
  /** strong reference: a garbage-collected connection or channel wrapper closes the channel */
  private readonly pcRef: PeerConnectionLike;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly peer: SimplePeer.Instance,
    readonly maxMessageSize: number,
    lowWaterMark: number,
  ) {
    this.dc = dataChannelOf(peer);
    this.pcRef = peerConnectionOf(peer);
    this.dc.bufferedAmountLowThreshold = lowWaterMark;
    this.dc.addEventListener('bufferedamountlow', () => this.wake());
    const onGone = () => {
      this.closed = true;
      this.wake();
    };
    peer.on('close', onGone);
    peer.on('error', onGone);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  send(frame: Uint8Array): void {
    this.peer.send(frame);
  }

  bufferedAmount(): number {
    return this.closed ? 0 : this.dc.bufferedAmount;
  }

  drained(): Promise<void> {
    if (this.closed || this.dc.bufferedAmount <= this.dc.bufferedAmountLowThreshold) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  onMessage(cb: (frame: Uint8Array) => void): void {
    this.peer.on('data', cb);
  }

  onClose(cb: () => void): void {
    this.peer.on('close', cb);
    this.peer.on('error', cb);
  }

  close(): void {
    this.closed = true;
    this.wake();
    this.peer.destroy();
    try {
      this.pcRef.close();
    } catch {
      // already closed
    }
  }
}
