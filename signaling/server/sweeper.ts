/**
 * The sweeper: what happens to rooms by itself, with no client event — idle
 * TTL expiry and the end of grace periods (`RoomManager.sweepOne` in
 * `signaling/rooms.ts` decides; this only asks the store what is due and
 * sends the resulting events). Every node sweeps; the compare-and-set in the
 * store makes two nodes sweeping one room harmless.
 */
import { emitEffects, type IO } from './context.js';
import type { RoomManager, RoomStore } from '../rooms.js';
import type { SignalMetrics } from '../metrics.js';

export interface SweeperDeps {
  io: IO;
  store: RoomStore;
  rooms: RoomManager;
  metrics: SignalMetrics;
  log: (line: string) => void;
  isClosing(): boolean;
  ttlMs: number;
  graceMs: number;
}

/** Rooms swept per pass, so one pass never holds the event loop for long. */
const BATCH = 500;

/** Start sweeping; returns the function that stops it. The timer never keeps the process alive. */
export function startSweeper(deps: SweeperDeps): () => void {
  const { store, rooms, metrics } = deps;
  let sweeping = false;
  // often enough that a TTL or grace period ends within a quarter of itself, between 50 ms and 1 s
  const sweepEvery = Math.max(50, Math.min(1000, Math.floor(deps.ttlMs / 4), Math.floor(Math.max(deps.graceMs, 200) / 4)));
  const timer = setInterval(() => {
    if (sweeping || deps.isClosing()) return;
    sweeping = true;
    (async () => {
      const now = Date.now();
      const due = await store.due(now, BATCH);
      for (const id of due) {
        const { effects, ended } = await rooms.sweepOne(id, now);
        if (ended) metrics.roomsEnded.inc({ why: ended });
        emitEffects(deps.io, effects);
      }
    })()
      .catch((e) => deps.log(`sweeper: ${(e as Error)?.message ?? e}`))
      .finally(() => {
        sweeping = false;
      });
  }, sweepEvery);
  timer.unref();
  return () => clearInterval(timer);
}
