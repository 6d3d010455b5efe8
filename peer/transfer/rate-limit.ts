/**
 * `--max-rate`: a token bucket in front of the host's sends. Bytes may go at
 * `rate` per second on average, in bursts of at most BURST_SECONDS' worth (at
 * least one chunk), so the link stays smooth for whoever shares the uplink.
 */
const BURST_SECONDS = 0.05;

export class RateLimit {
  private tokens: number;
  private last: number;
  private readonly burst: number;

  constructor(
    private readonly rate: number,
    minBurst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.burst = Math.max(minBurst, rate * BURST_SECONDS);
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** Milliseconds to wait before `bytes` may be sent (0: now); takes them. */
  take(bytes: number): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }
}

/** The rate both sides asked for: the lower of the two caps (0 = no cap). */
export function combinedRate(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}
