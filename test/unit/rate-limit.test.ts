/** The host's token bucket (`--max-rate`), on an injected clock: average rate, burst bound, and the agreed cap. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combinedRate, RateLimit } from '../../peer/transfer/rate-limit.js';

/** A clock that only moves when told. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** A sender that sleeps exactly as long as the limit says, sending `chunks` chunks; returns the elapsed ms. */
function sendAll(limit: RateLimit, clock: ReturnType<typeof fakeClock>, chunk: number, chunks: number): number {
  const start = clock.now();
  for (let k = 0; k < chunks; k++) {
    const wait = limit.take(chunk);
    assert.ok(wait >= 0 && Number.isFinite(wait));
    clock.advance(wait);
  }
  return clock.now() - start;
}

test('the average rate is the cap: 10 MiB at 1 MiB/s takes 10 s less one burst', () => {
  const clock = fakeClock();
  const rate = 1024 * 1024;
  const chunk = 16 * 1024;
  const limit = new RateLimit(rate, chunk, clock.now);
  const burst = rate * 0.05; // 52 KiB > one chunk
  const ms = sendAll(limit, clock, chunk, 640);
  const expected = ((640 * chunk - burst) / rate) * 1000;
  assert.ok(Math.abs(ms - expected) < 1, `${ms} ms, expected ${expected} ms`);
});

test('the first burst goes at once, then the sender waits; never more than a burst ahead of the rate', () => {
  const clock = fakeClock();
  const rate = 100_000;
  const chunk = 1000;
  const limit = new RateLimit(rate, chunk, clock.now);
  const burst = rate * 0.05; // 5000 bytes: five chunks
  let sentFree = 0;
  while (limit.take(chunk) === 0) sentFree += chunk;
  assert.equal(sentFree, burst, 'exactly one burst without waiting');
  // The bucket never holds more than a burst: after a long idle spell, again one burst only.
  clock.advance(60_000);
  let afterIdle = 0;
  while (limit.take(chunk) === 0) afterIdle += chunk;
  assert.equal(afterIdle, burst, 'a long pause earns no more than one burst');
  // Over any span, bytes sent <= burst + rate * span (checked at every send of a steady sender).
  const start = clock.now();
  let bytes = 0;
  for (let k = 0; k < 500; k++) {
    clock.advance(limit.take(chunk));
    bytes += chunk;
    const span = (clock.now() - start) / 1000;
    assert.ok(bytes <= burst + rate * span + chunk + 1e-6, `${bytes} bytes in ${span} s`);
  }
});

test('the burst is at least one chunk: a chunk larger than rate × 50 ms still goes, at the average rate', () => {
  const clock = fakeClock();
  const rate = 10_000; // 500 bytes of burst, far below a chunk
  const chunk = 64 * 1024;
  const limit = new RateLimit(rate, chunk, clock.now);
  assert.equal(limit.take(chunk), 0, 'the first chunk goes at once');
  const wait = limit.take(chunk);
  assert.ok(Math.abs(wait - (chunk / rate) * 1000) < 1e-6, `the second waits one chunk's time: ${wait} ms`);
  clock.advance(wait);
  const ms = sendAll(limit, clock, chunk, 10);
  assert.ok(Math.abs(ms - ((10 * chunk) / rate) * 1000) < 1e-6, `${ms} ms`);
});

test('a sender slower than the cap is never delayed', () => {
  const clock = fakeClock();
  const limit = new RateLimit(1_000_000, 10_000, clock.now);
  for (let k = 0; k < 100; k++) {
    assert.equal(limit.take(10_000), 0);
    clock.advance(20); // 10 kB every 20 ms = 500 kB/s
  }
});

test('combinedRate: the lower of the two caps, 0 meaning none', () => {
  assert.equal(combinedRate(0, 0), 0);
  assert.equal(combinedRate(0, 500), 500);
  assert.equal(combinedRate(500, 0), 500);
  assert.equal(combinedRate(300, 500), 300);
  assert.equal(combinedRate(500, 300), 300);
  assert.equal(combinedRate(1, 1), 1);
});
