/**
 * A Link wraps a MessageChannel for one side of the protocol: it parses the
 * peer's control messages into typed values, keeps the connection alive with
 * pings, notices a silent or vanished peer, turns a peer's `abort` into our
 * error, and offers `next()` to the state machines in sender.ts/receiver.ts.
 * Every failure ends in exactly one MovieShareError, available as `failure`.
 */
import type { MessageChannel } from './channel.js';
import { safeText } from '../../common/terminal.js';
import { classifyFrame, encodeControl } from '../../common/protocol/framing.js';
import { ExitCode, MovieShareError, connectionError, isMovieShareError, networkError } from '../../common/errors.js';
import { PEER_TIMEOUT_MS, PING_INTERVAL_MS } from '../../common/config.js';

type Abort = { t: 'abort'; code: ExitCode; message: string };
/** The channel closed or refused a send before the transfer ended: resuming is the way on. */
const CONNECTION_LOST = 'The connection to the other side was lost. Run both commands again to resume.';
/**
 * Control messages waiting for next() at most: the protocol never has more
 * than a few in flight, so a peer that queues more is flooding (bounded memory).
 */
export const MAX_QUEUED_MESSAGES = 256;
/** The flood's sentence (exit 5), as the rendezvous says it. */
export const FLOOD_SENTENCE = 'The other side sent more messages than the transfer needs; start again with a new code.';
/** linger(): how long our last message gets on the wire, once our send queue is empty */
const LINGER_GRACE_MS = 300;
/** after the channel closed, how long a message queued before the close may still arrive */
const CLOSE_SETTLE_MS = 100;
type Base = { t: string };

export interface LinkOptions {
  peerTimeoutMs?: number;
  pingIntervalMs?: number;
  /** aborting (Ctrl-C) tells the peer and ends the link */
  cancel?: AbortSignal;
  /**
   * How long `linger()` waits for the peer to close the channel after our last
   * message (`done`, `abort`); 0 (default): not at all. Closing right after
   * sending can lose the message: node-datachannel may deliver the close to the
   * peer before data still in flight, and a Ctrl-C abort queues behind up to
   * the high-water mark of chunks.
   */
  lingerMs?: number;
}

export class Link<In extends Base, Out extends Base> {
  /** rejects once with the error that ended the link */
  readonly failure: Promise<never>;
  private rejectFailure!: (e: MovieShareError) => void;
  private error: MovieShareError | undefined;
  private queue: In[] = [];
  private waiting: ((m: In) => void) | undefined;
  private lastHeard = Date.now();
  private lastSent = 0;
  private timer: ReturnType<typeof setInterval>;
  private finished = false;
  /** the peer closed the channel, aborted, or went silent: nobody is left to read what we send */
  private peerGone = false;
  private goneWaiters: (() => void)[] = [];
  private readonly lingerMs: number;
  /** chunk frames go here, synchronously, in arrival order */
  onChunk: (frame: Uint8Array) => void = () => {
    this.fail(new MovieShareError(ExitCode.Other, 'The other side sent file data out of turn; it may be running an incompatible version.'));
  };
  /** messages handled on arrival instead of being queued for next() (e.g. acks) */
  onEager: (m: In) => boolean = () => false;

  constructor(
    readonly channel: MessageChannel,
    private readonly parse: (json: string) => In,
    opts: LinkOptions = {},
  ) {
    this.failure = new Promise<never>((_, reject) => {
      this.rejectFailure = reject;
    });
    this.failure.catch(() => undefined);
    const timeout = opts.peerTimeoutMs ?? PEER_TIMEOUT_MS;
    const ping = opts.pingIntervalMs ?? PING_INTERVAL_MS;
    this.lingerMs = opts.lingerMs ?? 0;
    channel.onMessage((frame) => this.receive(frame));
    channel.onClose(() => {
      this.markGone();
      // node-datachannel calls back messages and the close through separate queues, so a
      // message the peer sent right before closing (its abort) can reach us after the close:
      // its cause, not "connection lost", is what both sides should report
      setTimeout(() => {
        if (!this.finished) this.fail(connectionError(CONNECTION_LOST), false);
      }, CLOSE_SETTLE_MS);
    });
    this.timer = setInterval(
      () => {
        const now = Date.now();
        if (now - this.lastHeard > timeout) {
          this.markGone();
          this.fail(connectionError(`The other side stopped responding for ${Math.round(timeout / 1000)} s. Run both commands again to resume.`), false);
          return;
        }
        if (now - this.lastSent >= ping) this.sendControl({ t: 'ping' } as unknown as Out);
      },
      Math.min(ping, 1000),
    );
    opts.cancel?.addEventListener('abort', () => this.cancel(), { once: true });
  }

  /** Local cancel (Ctrl-C): the peer sees a network-class failure, we exit 1. */
  private cancel(): void {
    if (this.error) return;
    try {
      this.channel.send(encodeControl(JSON.stringify({ t: 'abort', code: ExitCode.Network, message: 'it was cancelled (Ctrl-C). Run both commands again to resume.' })));
    } catch {
      // channel already gone
    }
    this.fail(new MovieShareError(ExitCode.Other, 'Cancelled. Run both commands again to resume.'), false);
  }

  private receive(frame: Uint8Array): void {
    if (this.error) return;
    this.lastHeard = Date.now();
    try {
      const f = classifyFrame(frame);
      if (f.kind === 'chunk') {
        this.onChunk(f.frame);
        return;
      }
      const msg = this.parse(f.json);
      if (msg.t === 'ping') return;
      if (msg.t === 'abort') {
        const a = msg as unknown as Abort;
        this.markGone();
        this.fail(new MovieShareError(a.code, `The other side stopped: ${safeText(a.message)}`), false);
        return;
      }
      if (this.onEager(msg)) return;
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(msg);
      } else if (this.queue.length >= MAX_QUEUED_MESSAGES) {
        this.fail(networkError(FLOOD_SENTENCE));
      } else {
        this.queue.push(msg);
      }
    } catch (e) {
      this.fail(e);
    }
  }

  /** The next queued control message. */
  next(): Promise<In> {
    if (this.error) return Promise.reject(this.error);
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return Promise.race([new Promise<In>((resolve) => (this.waiting = resolve)), this.failure]);
  }

  /** The next control message, which must be of type `t`. */
  async expect<T extends In['t']>(t: T): Promise<Extract<In, { t: T }>> {
    const m = await this.next();
    if (m.t !== t) {
      throw new MovieShareError(ExitCode.Other, `The other side sent "${m.t}" where "${t}" was expected; it may be running an incompatible version.`);
    }
    return m as Extract<In, { t: T }>;
  }

  sendControl(msg: Out): void {
    if (this.error && msg.t !== 'abort') return;
    this.sendFrame(encodeControl(JSON.stringify(msg)));
  }

  sendFrame(frame: Uint8Array): void {
    this.lastSent = Date.now();
    try {
      this.channel.send(frame);
    } catch {
      this.fail(connectionError(CONNECTION_LOST), false);
    }
  }

  /** Waits for `p` unless the link fails first. */
  guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.failure]);
  }

  /**
   * End the link with an error. `tellPeer` sends an abort first so the other
   * side can report the same cause.
   */
  fail(e: unknown, tellPeer = true): MovieShareError {
    if (this.error) return this.error;
    const err = isMovieShareError(e) ? e : new MovieShareError(ExitCode.Other, `Unexpected error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    this.error = err;
    clearInterval(this.timer);
    if (tellPeer) {
      try {
        this.channel.send(encodeControl(JSON.stringify({ t: 'abort', code: err.exitCode, message: err.message })));
      } catch {
        // the channel is already gone; nothing to tell
      }
    }
    this.rejectFailure(err);
    return err;
  }

  private markGone(): void {
    this.peerGone = true;
    const w = this.goneWaiters;
    this.goneWaiters = [];
    for (const r of w) r();
  }

  /**
   * After our last message: resolves once the peer has closed the channel (it
   * read everything before that), or once our send queue has drained and
   * LINGER_GRACE_MS more have passed (a peer that exits with data still queued
   * towards us may never get its close through), and after `lingerMs` at most;
   * at once if the peer is already gone. The caller closes the channel afterwards.
   */
  linger(): Promise<void> {
    if (this.peerGone || this.lingerMs <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const deadline = Date.now() + this.lingerMs;
      let drainedAt = 0;
      let t: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        clearTimeout(t);
        resolve();
      };
      const tick = (): void => {
        const now = Date.now();
        if (!drainedAt && this.channel.bufferedAmount() === 0) drainedAt = now;
        if (now >= deadline || (drainedAt && now - drainedAt >= LINGER_GRACE_MS)) done();
        else t = setTimeout(tick, 20);
      };
      this.goneWaiters.push(done);
      tick();
    });
  }

  get failed(): MovieShareError | undefined {
    return this.error;
  }

  /** Normal end: stop timers; the caller closes the channel when appropriate. */
  finish(): void {
    this.finished = true;
    clearInterval(this.timer);
  }
}
