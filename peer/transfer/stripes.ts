/**
 * One transfer over several connections (docs/PROTOCOL.md §7a): a
 * MessageChannel that stripes the host's frames across N connections, the
 * first being the one the rendezvous made (the primary), and hands the
 * receiver's transfer the same frames in the same order, as one channel would.
 *
 * Why: one SCTP association is one congestion window, one receive window and
 * one native thread; N associations are N of each (like parallel TCP streams).
 *
 * How, in one direction only (host → receiver carries the file; the
 * receiver's few messages all go on the primary):
 *  - The host sends its frames in runs of at least BATCH_BYTES, each run on
 *    one connection: the one with the least queued when the run starts (a
 *    connection whose congestion window shrank after a loss takes less, as
 *    with parallel TCP streams, instead of holding the others to its pace).
 *    A run that moves to another connection ends with a small `to` frame
 *    naming it. The receiver reads one connection until its `to`, then the
 *    named one. Every connection is ordered and reliable, so the receiver
 *    rebuilds the host's exact order without a header or a copy per frame:
 *    control frames and chunks keep their order (`start` before the first
 *    chunk, `end` after the last) and chunks reach the sink and the hash in
 *    file order, as before.
 *  - The extra connections are set up through the primary: the host sends
 *    `offer` (its description, every candidate included), the receiver
 *    answers with `answer` (or `refuse`), both over the authenticated primary,
 *    whose DTLS fingerprints the PAKE-sealed signaling fixed: the new
 *    connections' fingerprints are as authentic as the primary's.
 *  - Once an extra connection is open on its side, the host sends `use`
 *    [ids] in its place in the order: the connections a `to` may name from then on.
 *  - Before any of that, RTT_PINGS `ping`/`pong` pairs measure the round-trip
 *    time (the host chooses N, the SCTP buffers and its credit window from it).
 * Striping changes nothing for integrity or confidentiality: every chunk is
 * AES-256-GCM sealed under the transfer's key with its index in the nonce and
 * the AAD, whichever connection carries it; a connection that drops, reorders
 * or forges frames makes chunks fail authentication, or stalls the transfer,
 * exactly as on one connection. A connection that closes ends the channel (its
 * frames in flight are lost); the transfer then resumes as after any loss.
 */
import type { MessageChannel } from './channel.js';
import { FRAME_STRIPE } from '../../common/protocol/framing.js';
import { fromUtf8, utf8 } from '../../common/bytes.js';

/** the most connections a transfer runs over (the primary included) */
export const MAX_STREAMS = 8;
/** an extra connection that is not open this long after its offer is given up */
export const STRIPE_SETUP_MS = 10_000;
/** the host waits this long for the `pong`s at most, then decides with what it has */
export const RTT_PROBE_MS = 2_000;
/**
 * pings, one after the other; the round-trip time is the smallest (the first
 * may wait for the receiver to start listening, or for its busy event loop)
 */
export const RTT_PINGS = 3;
/** a description in an offer or an answer is at most this long (a few dozen candidates) */
const MAX_SDP_CHARS = 32 * 1024;
/** the host moves to another connection only after this many bytes on one (1 MiB: one send burst, common/config.ts) */
export const BATCH_BYTES = 1024 * 1024;
/** SCTP buffers an offer may ask the receiver for, at most */
export const MAX_SCTP_BUFFER = 16 * 1024 * 1024;

/** What an extra connection is created with (sized from the path by the host). */
export interface StripeParams {
  /** SCTP send and receive buffer, bytes (absent: the library's default) */
  sctpBufferBytes?: number;
}

/** A pending extra connection on the host, offered but not yet open. */
export interface PendingStripe {
  /** the description for the receiver, every candidate included */
  sdp: string;
  /** apply the receiver's answer; resolves with the open channel */
  accept(answer: string): Promise<MessageChannel>;
  /** give it up (it never opened, or is not wanted) */
  close(): void;
}

/** The platform's extra connections (Node: peer/rtc/stripe-connector.ts). */
export interface StripeConnector {
  /** host: a new connection to offer */
  offer(params: StripeParams): Promise<PendingStripe>;
  /** receiver: answer an offer; `channel` resolves once it is open (or rejects) */
  answer(sdp: string, params: StripeParams): Promise<{ sdp: string; channel: Promise<MessageChannel>; close(): void }>;
}

/** The host's choice, from the measured round-trip time (undefined: no pong in time). */
export interface StripePlan {
  /** connections in all, the primary included (1: no striping) */
  streams: number;
  params: StripeParams;
}

type StripeMessage =
  | { t: 'ping' }
  | { t: 'pong' }
  | { t: 'offer'; id: number; sdp: string; buf?: number }
  | { t: 'answer'; id: number; sdp: string }
  | { t: 'refuse'; id: number }
  | { t: 'use'; ids: number[] }
  | { t: 'to'; id: number };

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v < MAX_STREAMS;

/** A stripe message from the other side, or undefined when it is malformed. */
export function parseStripeMessage(frame: Uint8Array): StripeMessage | undefined {
  let m: unknown;
  try {
    m = JSON.parse(fromUtf8(frame.subarray(1)));
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const d = m as Record<string, unknown>;
  switch (d.t) {
    case 'ping':
    case 'pong':
      return { t: d.t };
    case 'offer':
    case 'answer':
      if (!isId(d.id) || typeof d.sdp !== 'string' || d.sdp.length > MAX_SDP_CHARS) return undefined;
      if (d.t === 'answer') return { t: 'answer', id: d.id, sdp: d.sdp };
      if (d.buf !== undefined && !(typeof d.buf === 'number' && Number.isInteger(d.buf) && d.buf > 0)) return undefined;
      return { t: 'offer', id: d.id, sdp: d.sdp, ...(d.buf === undefined ? {} : { buf: Math.min(d.buf, MAX_SCTP_BUFFER) }) };
    case 'refuse':
      return isId(d.id) ? { t: 'refuse', id: d.id } : undefined;
    case 'to':
      return d.id === 0 || isId(d.id) ? { t: 'to', id: d.id } : undefined;
    case 'use': {
      const ids = d.ids;
      if (!Array.isArray(ids) || ids.length < 1 || ids.length > MAX_STREAMS || ids[0] !== 0) return undefined;
      if (!ids.slice(1).every(isId) || new Set(ids).size !== ids.length) return undefined;
      return { t: 'use', ids: ids as number[] };
    }
    default:
      return undefined;
  }
}

const encode = (m: StripeMessage): Uint8Array => {
  const body = utf8(JSON.stringify(m));
  const f = new Uint8Array(1 + body.length);
  f[0] = FRAME_STRIPE;
  f.set(body, 1);
  return f;
};

export interface StripedOptions {
  role: 'host' | 'receiver';
  connector: StripeConnector;
  /**
   * host: how many connections, from the round-trip time in ms (undefined:
   * not measured in time); the receiver's limit is applied after
   */
  plan?: (rttMs: number | undefined) => StripePlan;
  /** the most connections the other side said it takes (its net hint); host only */
  peerMax?: number;
  /** receiver: the most connections it takes (the primary included) */
  max?: number;
  /** one line for --verbose */
  log?: (line: string) => void;
}

export class StripedChannel implements MessageChannel {
  readonly maxMessageSize: number;
  /** host: the connections in use, by id (the primary is 0); the one this run goes on, and the bytes left in the run */
  private active = new Map<number, MessageChannel>();
  private current = 0;
  private runLeft = 0;
  /** receiver: the ids in use, frames waiting per id, and the connection the next frame comes on */
  private order: number[] = [0];
  private queues = new Map<number, Uint8Array[]>([[0, []]]);
  private reading = 0;
  /** every extra connection: open ones by id, and what closes pending ones */
  private readonly extras = new Map<number, MessageChannel>();
  private readonly pending = new Map<number, () => void>();
  private readonly messageCbs: ((f: Uint8Array) => void)[] = [];
  /** frames for the transfer that came before it listened */
  private early: Uint8Array[] = [];
  private readonly closeCbs: (() => void)[] = [];
  private closed = false;
  private pingAt = 0;
  private rttSamples: number[] = [];
  private resolveRtt!: (ms: number | undefined) => void;
  /** host: the round-trip time the ping measured (undefined: no pong within RTT_PROBE_MS) */
  readonly rtt: Promise<number | undefined>;
  /** host: the plan once made */
  plan: StripePlan | undefined;
  private accepted = 0;

  constructor(
    private readonly primary: MessageChannel,
    private readonly opts: StripedOptions,
  ) {
    this.maxMessageSize = primary.maxMessageSize;
    this.active.set(0, primary);
    this.rtt = new Promise((r) => (this.resolveRtt = r));
    primary.onMessage((f) => this.fromPrimary(f));
    primary.onClose(() => this.lost());
    if (opts.role === 'host') {
      this.pingAt = Date.now();
      this.sendStripe({ t: 'ping' });
      const t = setTimeout(() => this.resolveRtt(this.rttSamples.length > 0 ? Math.min(...this.rttSamples) : undefined), RTT_PROBE_MS);
      void this.rtt.then((rtt) => {
        clearTimeout(t);
        this.startStripes(rtt);
      });
    } else {
      this.resolveRtt(undefined);
    }
  }

  /** connections in use now, the primary included */
  get streams(): number {
    return this.opts.role === 'host' ? this.active.size : this.order.length;
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  // ------------------------------------------------------------ sending

  send(frame: Uint8Array): void {
    if (this.opts.role === 'receiver' || this.active.size === 1) return this.primary.send(frame);
    if (this.runLeft <= 0) {
      // a new run: on the connection with the least queued (the next in turn on a tie)
      const next = this.leastQueued();
      if (next !== this.current) {
        this.active.get(this.current)!.send(encode({ t: 'to', id: next }));
        this.current = next;
      }
      this.runLeft = BATCH_BYTES;
    }
    this.runLeft -= frame.length;
    this.active.get(this.current)!.send(frame);
  }

  /** the connection with the least queued; on a tie the next in turn after the current one (a round robin while all keep up) */
  private leastQueued(): number {
    const ids = [...this.active.keys()];
    const at = ids.indexOf(this.current);
    let best = this.current;
    let least = Infinity;
    for (let k = 1; k <= ids.length; k++) {
      const id = ids[(at + k) % ids.length]!;
      const q = this.active.get(id)!.bufferedAmount();
      if (q < least) [best, least] = [id, q];
    }
    return best;
  }

  private sendStripe(m: StripeMessage): void {
    try {
      this.send(encode(m));
    } catch {
      this.lost();
    }
  }

  /** what is queued where the next frame goes: this run's connection, or the least queued one when a new run starts */
  bufferedAmount(): number {
    if (this.opts.role === 'receiver' || this.active.size === 1) return this.primary.bufferedAmount();
    return this.active.get(this.runLeft > 0 ? this.current : this.leastQueued())!.bufferedAmount();
  }

  /** resolves once the connection the next frame goes to (any, when a new run starts) is at its low-water mark */
  drained(): Promise<void> {
    if (this.opts.role === 'receiver' || this.active.size === 1) return this.primary.drained();
    if (this.runLeft > 0) return this.active.get(this.current)!.drained();
    return Promise.race([...this.active.values()].map((c) => c.drained()));
  }

  // ------------------------------------------------------------ receiving

  onMessage(cb: (frame: Uint8Array) => void): void {
    this.messageCbs.push(cb);
    const early = this.early;
    this.early = [];
    for (const f of early) cb(f);
  }

  private up(frame: Uint8Array): void {
    if (this.messageCbs.length === 0) {
      this.early.push(frame);
      return;
    }
    for (const cb of this.messageCbs) cb(frame);
  }

  private fromPrimary(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.opts.role === 'host') {
      // the receiver sends on the primary only
      if (frame.length > 0 && frame[0] === FRAME_STRIPE) this.hostStripeMessage(frame);
      else this.up(frame);
      return;
    }
    this.queue(0, frame);
  }

  /** receiver: a frame from connection `id`, delivered when its turn in the host's order comes */
  private queue(id: number, frame: Uint8Array): void {
    if (this.closed) return;
    const q = this.queues.get(id);
    if (!q) return; // a connection the host never offered
    // the usual case, one connection: straight through
    if (this.reading === id && q.length === 0) this.deliver(frame);
    else q.push(frame);
    this.pump();
  }

  private pump(): void {
    for (;;) {
      if (this.closed) return;
      const f = this.queues.get(this.reading)?.shift();
      if (!f) return;
      this.deliver(f);
    }
  }

  private deliver(frame: Uint8Array): void {
    if (frame.length > 0 && frame[0] === FRAME_STRIPE) this.receiverStripeMessage(frame);
    else this.up(frame);
  }

  private receiverStripeMessage(frame: Uint8Array): void {
    const m = parseStripeMessage(frame);
    if (!m) return this.violation('a malformed stripe message');
    if (m.t === 'ping') return this.primarySend({ t: 'pong' });
    if (m.t === 'use') {
      for (const id of m.ids) if (!this.queues.has(id)) return this.violation(`connection ${id}, which it never offered`);
      this.order = m.ids;
      this.log(`receiving over ${m.ids.length} connection(s)`);
      return;
    }
    if (m.t === 'to') {
      if (!this.order.includes(m.id)) return this.violation(`frames on connection ${m.id}, which is not in use`);
      this.reading = m.id; // pump() goes on there
      return;
    }
    if (m.t !== 'offer') return this.violation(`"${m.t}"`);
    if (this.queues.has(m.id)) return this.violation(`connection ${m.id} twice`);
    this.queues.set(m.id, []); // known from now on: its frames wait here until their turn
    if (this.accepted + 1 >= Math.min(this.opts.max ?? 1, MAX_STREAMS)) return this.primarySend({ t: 'refuse', id: m.id });
    this.accepted++;
    void this.answerOffer(m.id, m.sdp, m.buf);
  }

  private async answerOffer(id: number, sdp: string, buf: number | undefined): Promise<void> {
    try {
      const a = await this.opts.connector.answer(sdp, buf ? { sctpBufferBytes: buf } : {});
      if (this.closed) return a.close();
      this.pending.set(id, () => a.close());
      this.primarySend({ t: 'answer', id, sdp: a.sdp });
      const ch = await a.channel;
      this.pending.delete(id);
      if (this.closed) return ch.close();
      this.extras.set(id, ch);
      ch.onMessage((f) => this.queue(id, f));
      ch.onClose(() => this.lost());
      this.pump();
    } catch (e) {
      this.pending.delete(id);
      this.log(`connection ${id} did not open: ${e instanceof Error ? e.message : String(e)}`);
      if (!this.closed) this.primarySend({ t: 'refuse', id });
    }
  }

  private primarySend(m: StripeMessage): void {
    try {
      this.primary.send(encode(m));
    } catch {
      this.lost();
    }
  }

  // ------------------------------------------------------------ the host's set-up

  private hostStripeMessage(frame: Uint8Array): void {
    const m = parseStripeMessage(frame);
    if (!m) return this.violation('a malformed stripe message');
    if (m.t === 'pong') {
      if (!this.pingAt) return;
      this.rttSamples.push(Date.now() - this.pingAt);
      this.pingAt = 0;
      if (this.rttSamples.length >= RTT_PINGS) this.resolveRtt(Math.min(...this.rttSamples));
      else {
        this.pingAt = Date.now();
        this.sendStripe({ t: 'ping' });
      }
      return;
    }
    if (m.t !== 'answer' && m.t !== 'refuse') return this.violation(`"${m.t}"`);
    // an answer or refusal for an offer no longer waiting (given up, or the receiver's side failed later): nothing to do
    const done = this.answers.get(m.id);
    this.answers.delete(m.id);
    done?.(m.t === 'answer' ? m.sdp : undefined);
  }

  /** offers waiting for their answer (undefined: refused), by id */
  private readonly answers = new Map<number, (sdp: string | undefined) => void>();

  private startStripes(rtt: number | undefined): void {
    if (this.closed || !this.opts.plan) return;
    const plan = this.opts.plan(rtt);
    const n = Math.max(1, Math.min(plan.streams, this.opts.peerMax ?? 1, MAX_STREAMS));
    this.plan = { streams: n, params: plan.params };
    this.log(`round-trip time ${rtt === undefined ? 'unknown' : `${rtt} ms`}: ${n} connection(s)`);
    for (let id = 1; id < n; id++) void this.offerStripe(id, plan.params);
  }

  private async offerStripe(id: number, params: StripeParams): Promise<void> {
    let p: PendingStripe | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      p = await this.opts.connector.offer(params);
      if (this.closed) return p.close();
      this.pending.set(id, () => p!.close());
      const answer = new Promise<string | undefined>((r) => this.answers.set(id, r));
      this.sendStripe({ t: 'offer', id, sdp: p.sdp, ...(params.sctpBufferBytes ? { buf: params.sctpBufferBytes } : {}) });
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('not open in time')), STRIPE_SETUP_MS)));
      const sdp = await Promise.race([answer, timeout]);
      if (sdp === undefined) throw new Error('the receiver declined it');
      const ch = await Promise.race([p.accept(sdp), timeout]);
      clearTimeout(timer);
      this.pending.delete(id);
      if (this.closed) return ch.close();
      if (ch.maxMessageSize < this.maxMessageSize) {
        ch.close();
        throw new Error('it carries smaller messages');
      }
      this.extras.set(id, ch);
      ch.onClose(() => this.lost());
      // its place in the order: the frames after `use` go round the new list
      const ids = [0, ...[...this.extras.keys()]];
      this.sendStripe({ t: 'use', ids });
      this.active.set(id, ch);
      this.log(`sending over ${ids.length} connection(s)`);
    } catch (e) {
      clearTimeout(timer);
      this.answers.delete(id);
      this.pending.delete(id);
      p?.close();
      this.log(`connection ${id} not used: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  // ------------------------------------------------------------ the end

  /** the other side broke the striping protocol: end the channel (the transfer fails as on a lost connection) */
  private violation(what: string): void {
    this.log(`the other side sent ${what}; closing`);
    this.close();
    this.lost();
  }

  private lost(): void {
    const cbs = this.closeCbs.splice(0);
    if (!this.closed) this.close();
    for (const cb of cbs) cb();
  }

  onClose(cb: () => void): void {
    this.closeCbs.push(cb);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.resolveRtt(undefined);
    for (const close of this.pending.values()) close();
    this.pending.clear();
    for (const r of this.answers.values()) r(undefined);
    this.answers.clear();
    for (const ch of this.extras.values()) ch.close();
    this.primary.close();
  }
}
