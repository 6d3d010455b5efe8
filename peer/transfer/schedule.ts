/**
 * The order in which the host sends chunks. Every chunk the receiver lacks is
 * sent exactly once; `want` only changes the order:
 *
 *   - with no wants, chunks go in file order from the start (or from the
 *     first chunk the receiver lacks when it resumes);
 *   - a want (a range the receiver's player needs now) puts its missing
 *     chunks first, and the stream then goes on from there, since a player
 *     that seeked reads on from where it seeked;
 *   - past the end of the file the stream wraps around to the first chunk
 *     still missing, so holes left before a seek are filled last.
 *
 * Wants are bounded: the newest MAX_WANTS are kept, older ones dropped, which
 * is harmless because every chunk is sent anyway. So a receiver can reorder
 * the host's reads but never make it read or send more than the file once.
 */
import { ChunkSet } from './chunk-set.js';

export const MAX_WANTS = 16;

export class Schedule {
  readonly sent: ChunkSet;
  private cursor: number;
  /** chunk ranges [start, end), oldest first */
  private wants: [number, number][] = [];

  /** `have`: what the receiver already holds (never sent again) */
  constructor(
    readonly count: number,
    have: ChunkSet,
  ) {
    this.sent = have;
    this.cursor = Math.max(0, have.firstMissing(0));
  }

  /** The receiver needs chunks [start, end) soon. */
  want(start: number, end: number): void {
    this.wants.push([start, Math.min(end, this.count)]);
    if (this.wants.length > MAX_WANTS) this.wants.shift();
  }

  /** The next chunk to send (marked as sent), or -1 when every chunk is. */
  next(): number {
    while (this.wants.length > 0) {
      const [start, end] = this.wants[0]!;
      const i = this.sent.firstMissing(start, end);
      if (i >= 0) return this.take(i);
      this.wants.shift();
    }
    let i = this.sent.firstMissing(this.cursor);
    if (i < 0) i = this.sent.firstMissing(0);
    return i < 0 ? -1 : this.take(i);
  }

  private take(i: number): number {
    this.sent.add(i);
    this.cursor = i + 1;
    return i;
  }
}
