/**
 * Which chunks of a transfer are somewhere: sent (host) or written (receiver).
 * A bitmap, one bit per chunk (8 KiB for a 4 GiB file of 64 KiB chunks),
 * with the few range operations the schedule and the resume need.
 */
export class ChunkSet {
  private readonly bits: Uint8Array;
  private n = 0;

  constructor(readonly count: number) {
    this.bits = new Uint8Array(Math.ceil(count / 8));
  }

  /** A set holding the flattened ranges [s0, e0, s1, e1, ...] (clipped to the set). */
  static fromRanges(count: number, ranges: readonly number[]): ChunkSet {
    const s = new ChunkSet(count);
    for (let r = 0; r + 1 < ranges.length; r += 2) {
      for (let i = ranges[r]!; i < Math.min(ranges[r + 1]!, count); i++) s.add(i);
    }
    return s;
  }

  has(i: number): boolean {
    return (this.bits[i >> 3]! & (1 << (i & 7))) !== 0;
  }

  /** Adds chunk i; false if it was already there. */
  add(i: number): boolean {
    if (this.has(i)) return false;
    this.bits[i >> 3]! |= 1 << (i & 7);
    this.n++;
    return true;
  }

  get size(): number {
    return this.n;
  }

  get complete(): boolean {
    return this.n === this.count;
  }

  /** The first chunk in [from, end) not in the set, or -1. */
  firstMissing(from: number, end = this.count): number {
    let i = from;
    while (i < end) {
      if ((i & 7) === 0 && this.bits[i >> 3] === 0xff) {
        i += 8;
        continue;
      }
      if (!this.has(i)) return i;
      i++;
    }
    return -1;
  }

  /** True when every chunk in [from, end) is in the set. */
  covers(from: number, end: number): boolean {
    return this.firstMissing(from, end) === -1;
  }

  /** The set as flattened half-open ranges [s0, e0, ...], at most `max` of them (the first ones). */
  ranges(max = Infinity): number[] {
    const out: number[] = [];
    let i = 0;
    while (i < this.count && out.length / 2 < max) {
      while (i < this.count && !this.has(i)) i++;
      if (i >= this.count) break;
      const start = i;
      while (i < this.count && this.has(i)) i++;
      out.push(start, i);
    }
    return out;
  }
}
