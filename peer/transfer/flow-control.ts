/**
 * The backpressure loop, end to end. The host may put another chunk on the
 * wire only when both hold:
 *  1. the data channel's local buffer is below the high-water mark (when it is
 *     not, wait for `bufferedamountlow`, i.e. the low-water mark), and
 *  2. the bytes sent but not yet acknowledged as *written* by the receiver fit
 *     the credit window.
 * (1) keeps the host's memory flat when the network is slow; (2) does the
 * same when the receiver's disk is slow, since acks follow completed writes.
 * The host checks both for every chunk it seals and hands sealed chunks to
 * the channel in bursts (`sendBatchBytes`, and always before it waits), so the
 * channel holds at most highWaterMark + sendBatchBytes + one chunk.
 */
import type { MessageChannel } from './channel.js';
import type { TransportTuning } from '../../common/config.js';

export class FlowControl {
  private acked: number;
  private ackWaiter: (() => void) | undefined;

  constructor(
    private readonly channel: MessageChannel,
    private readonly tuning: Pick<TransportTuning, 'highWaterMark' | 'windowBytes'>,
  ) {
    this.acked = 0;
  }

  /** The receiver reports that it has written `bytes` of what this run sent. */
  ack(bytes: number): void {
    if (bytes > this.acked) this.acked = bytes;
    const w = this.ackWaiter;
    this.ackWaiter = undefined;
    w?.();
  }

  get ackedBytes(): number {
    return this.acked;
  }

  /**
   * True when a chunk that would bring the bytes sent to `nextEnd` may be sent right now: the
   * host's per-chunk fast path, which allocates no promise (each awaited
   * guard would also leave a reaction on the link's never-settling failure
   * promise, one per chunk).
   */
  canSend(nextEnd: number): boolean {
    return nextEnd - this.acked <= this.tuning.windowBytes && this.channel.bufferedAmount() <= this.tuning.highWaterMark;
  }

  /** Resolves when a chunk that would bring the bytes sent to `nextEnd` may be sent. */
  async ready(nextEnd: number): Promise<void> {
    while (nextEnd - this.acked > this.tuning.windowBytes) {
      await new Promise<void>((resolve) => (this.ackWaiter = resolve));
    }
    if (this.channel.bufferedAmount() > this.tuning.highWaterMark) await this.channel.drained();
  }
}
