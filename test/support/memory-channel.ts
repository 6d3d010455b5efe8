/**
 * An in-process MessageChannel pair for tests: frames cross asynchronously
 * (like a network would deliver them), with a bounded "buffered amount" and a
 * hook that may drop, duplicate, reorder, rewrite or inject frames in flight.
 */
import type { MessageChannel } from '../../peer/transfer/channel.js';

/** Return the frames to deliver instead of `frame` (empty array = drop). */
export type FrameHook = (frame: Uint8Array, from: 'host' | 'receiver') => Uint8Array[];

class MemoryEnd implements MessageChannel {
  readonly maxMessageSize: number;
  peer!: MemoryEnd;
  private messageCbs: ((f: Uint8Array) => void)[] = [];
  private closeCbs: (() => void)[] = [];
  private buffered = 0;
  private waiters: (() => void)[] = [];
  closed = false;

  constructor(
    readonly name: 'host' | 'receiver',
    maxMessageSize: number,
    private readonly hook: FrameHook | undefined,
    private readonly lowWater: number,
  ) {
    this.maxMessageSize = maxMessageSize;
  }

  send(frame: Uint8Array): void {
    if (this.closed) throw new Error('channel closed');
    if (frame.length > this.maxMessageSize) throw new Error('message too large');
    const copy = Uint8Array.from(frame);
    const frames = this.hook ? this.hook(copy, this.name) : [copy];
    this.buffered += frame.length;
    setImmediate(() => {
      this.buffered -= frame.length;
      if (this.buffered <= this.lowWater) this.wake();
      if (this.peer.closed) return;
      for (const f of frames) for (const cb of this.peer.messageCbs) cb(f);
    });
  }

  bufferedAmount(): number {
    return this.buffered;
  }

  drained(): Promise<void> {
    if (this.buffered <= this.lowWater || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  onMessage(cb: (f: Uint8Array) => void): void {
    this.messageCbs.push(cb);
  }

  onClose(cb: () => void): void {
    this.closeCbs.push(cb);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake();
    setImmediate(() => {
      for (const cb of this.closeCbs) cb();
      this.peer.close();
    });
  }
}

export function memoryChannelPair(opts: { maxMessageSize?: number; hook?: FrameHook; lowWater?: number } = {}): [MessageChannel, MessageChannel] {
  const max = opts.maxMessageSize ?? 256 * 1024;
  const low = opts.lowWater ?? 1024 * 1024;
  const a = new MemoryEnd('host', max, opts.hook, low);
  const b = new MemoryEnd('receiver', max, opts.hook, low);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
