/**
 * The rendezvous' one queue. Signaling delivers the other side's messages
 * whenever they come, often before the handshake is ready for them (a share
 * before we joined, a confirmation before its share, sealed signals before
 * the PAKE is done); each waits here until a step of the handshake asks for
 * its kind with `take(kind)`. Messages of other kinds stay queued, in order,
 * for the step that wants them. Bounded: a peer or server that floods us
 * before confirmation fails the rendezvous instead of growing memory.
 *
 * `fail(e)` ends it: every pending and future `take` rejects with `e`.
 */
export class Inbox<K extends string, M extends { kind: K }> {
  private queue: M[] = [];
  /** at most one waiting step per kind */
  private waiters = new Map<K, { resolve: (m: M) => void; reject: (e: unknown) => void }>();
  private failure: unknown;
  private failed = false;

  constructor(
    private readonly max: number,
    private readonly overflow: () => Error,
  ) {}

  push(m: M): void {
    if (this.failed) return;
    const w = this.waiters.get(m.kind);
    if (w) {
      this.waiters.delete(m.kind);
      w.resolve(m);
      return;
    }
    if (this.queue.length >= this.max) return this.fail(this.overflow());
    this.queue.push(m);
  }

  /** The first queued message of `kind`, or the next one to arrive. */
  take(kind: K): Promise<M> {
    if (this.failed) return Promise.reject(this.failure);
    const i = this.queue.findIndex((m) => m.kind === kind);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]!);
    if (this.waiters.has(kind)) return Promise.reject(new Error(`inbox: two steps wait for ${kind}`));
    return new Promise<M>((resolve, reject) => this.waiters.set(kind, { resolve, reject }));
  }

  fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = e;
    this.queue = [];
    for (const w of this.waiters.values()) w.reject(e);
    this.waiters.clear();
  }
}
