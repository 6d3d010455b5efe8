/**
 * The Node shell's extra connections for a striped transfer
 * (peer/transfer/stripes.ts): node-datachannel's native PeerConnection and
 * DataChannel directly (no simple-peer, no polyfill: nothing here is shared
 * with a page), set up with the descriptions the striping layer carries over
 * the primary connection. Every candidate travels in the description (we wait
 * for gathering to complete), so one message each way suffices.
 *
 * The SCTP buffers are process-wide settings of libdatachannel that each new
 * association takes when it is created (`setSctpSettings`), so they are set
 * right before each connection is made, from what the host asked for
 * (peer/rtc/path-tuning.ts, peer/rtc/sctp-buffers.ts). A connection keeps strong references to its
 * PeerConnection and DataChannel: a garbage-collected wrapper closes the
 * channel (peer/rtc/node-peer.ts).
 */
import { PeerConnection, type DataChannel, type RtcConfig } from 'node-datachannel';
import { randomBytes } from 'node:crypto';
import type { MessageChannel } from '../transfer/channel.js';
import type { PendingStripe, StripeConnector, StripeParams } from '../transfer/stripes.js';
import { setSctpBuffers } from './sctp-buffers.js';

/** A native data channel as a MessageChannel. */
export class NativeChannel implements MessageChannel {
  readonly maxMessageSize: number;
  private waiters: (() => void)[] = [];
  private closed = false;
  private closeCbs: (() => void)[] = [];

  constructor(
    private readonly pc: PeerConnection,
    private readonly dc: DataChannel,
    private readonly lowWaterMark: number,
  ) {
    this.maxMessageSize = pc.maxMessageSize() || 65536;
    dc.setBufferedAmountLowThreshold(lowWaterMark);
    dc.onBufferedAmountLow(() => this.wake());
    // inside node-datachannel's callbacks nothing may throw (it would end the process)
    const gone = (): void => {
      if (this.closed && this.closeCbs.length === 0) return;
      this.closed = true;
      this.wake();
      const cbs = this.closeCbs.splice(0);
      for (const cb of cbs) {
        try {
          cb();
        } catch {
          // the transfer handles its own failure
        }
      }
    };
    dc.onClosed(gone);
    pc.onStateChange((s) => {
      if (s === 'closed' || s === 'failed') gone(); // 'disconnected' may pass: the liveness timeout decides (peer/transfer/link.ts)
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  send(frame: Uint8Array): void {
    if (this.closed) throw new Error('channel closed');
    this.dc.sendMessageBinary(frame);
  }

  bufferedAmount(): number {
    return this.closed ? 0 : this.dc.bufferedAmount();
  }

  drained(): Promise<void> {
    if (this.closed || this.dc.bufferedAmount() <= this.lowWaterMark) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  onMessage(cb: (frame: Uint8Array) => void): void {
    this.dc.onMessage((m) => {
      if (typeof m === 'string') return;
      try {
        cb(m instanceof ArrayBuffer ? new Uint8Array(m) : m);
      } catch {
        // the receiving side handles its own failure
      }
    });
  }

  onClose(cb: () => void): void {
    this.closeCbs.push(cb);
  }

  close(): void {
    const wasOpen = !this.closed;
    this.closed = true;
    this.wake();
    try {
      if (wasOpen) this.dc.close();
      this.pc.close();
    } catch {
      // already closed
    }
  }
}

/** Resolves with the description once ICE gathering is complete (every candidate in it). */
function gathered(pc: PeerConnection): Promise<string> {
  return new Promise((resolve, reject) => {
    const done = (): boolean => {
      if (pc.gatheringState() !== 'complete') return false;
      const d = pc.localDescription();
      if (d) resolve(d.sdp);
      else reject(new Error('no local description'));
      return true;
    };
    pc.onGatheringStateChange(() => void done());
    setTimeout(() => {
      if (!done()) reject(new Error('ICE gathering did not complete'));
    }, 5_000);
    void done();
  });
}

/**
 * The Node StripeConnector for connections configured as `config` (a direct
 * plan: no relay); `track` keeps each native connection for the CLI's close at exit.
 */
export function nodeStripeConnector(config: RtcConfig, lowWaterMark: number, track: (pc: PeerConnection) => void): StripeConnector {
  const make = (params: StripeParams): PeerConnection => {
    setSctpBuffers(params.sctpBufferBytes);
    const pc = new PeerConnection(`movie-share-stripe-${randomBytes(4).toString('hex')}`, config);
    track(pc);
    return pc;
  };
  const opened = (pc: PeerConnection, dc: DataChannel): Promise<MessageChannel> =>
    new Promise((resolve, reject) => {
      let settled = false;
      const ok = (): void => {
        if (settled) return;
        settled = true;
        resolve(new NativeChannel(pc, dc, lowWaterMark));
      };
      const fail = (why: string): void => {
        if (settled) return;
        settled = true;
        reject(new Error(why));
      };
      dc.onOpen(ok);
      dc.onClosed(() => fail('closed before it opened'));
      dc.onError((e) => fail(e));
      pc.onStateChange((s) => {
        if (s === 'failed' || s === 'closed') fail(`connection ${s}`);
      });
      if (dc.isOpen()) ok();
    });
  return {
    async offer(params: StripeParams): Promise<PendingStripe> {
      const pc = make(params);
      const close = closer(pc);
      try {
        const dc = pc.createDataChannel('movie-share-stripe');
        const channel = opened(pc, dc);
        channel.catch(() => undefined);
        const sdp = await gathered(pc);
        return {
          sdp,
          accept: (answer) => {
            pc.setRemoteDescription(answer, 'answer');
            return channel;
          },
          close,
        };
      } catch (e) {
        close();
        throw e;
      }
    },
    async answer(sdp: string, params: StripeParams) {
      const pc = make(params);
      const close = closer(pc);
      try {
        const channel = new Promise<MessageChannel>((resolve, reject) => {
          pc.onDataChannel((dc) => {
            opened(pc, dc).then(resolve, reject);
          });
          pc.onStateChange((s) => {
            if (s === 'failed' || s === 'closed') reject(new Error(`connection ${s}`));
          });
        });
        channel.catch(() => undefined);
        pc.setRemoteDescription(sdp, 'offer');
        return { sdp: await gathered(pc), channel, close };
      } catch (e) {
        close();
        throw e;
      }
    },
  };
}

/** Closes `pc`, once or again (a connection already closed throws). */
function closer(pc: { close(): void }): () => void {
  return () => {
    try {
      pc.close();
    } catch {
      // already closed
    }
  };
}
