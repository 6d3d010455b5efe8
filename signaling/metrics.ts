/**
 * Prometheus metrics of one movie-signal node, in its own Registry (so several
 * servers in one process, e.g. tests or the embedded server, never collide).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { SignalErrorReason } from '../common/protocol/signal-protocol.js';

export interface SignalMetrics {
  registry: Registry;
  peersConnected: Gauge;
  pairings: Counter;
  rejects: Counter<'reason'>;
  relayed: Counter;
  roomsCreated: Counter;
  roomsEnded: Counter<'why'>;
  reject(reason: SignalErrorReason): void;
}

export function createMetrics(roomsOpen: () => Promise<number>): SignalMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'movie_signal_' });
  new Gauge({
    name: 'movie_signal_rooms_open',
    help: 'Rooms currently open (cluster-wide in Redis mode)',
    registers: [registry],
    async collect() {
      try {
        this.set(await roomsOpen());
      } catch {
        /* store unavailable: keep the last value */
      }
    },
  });
  const peersConnected = new Gauge({
    name: 'movie_signal_peers_connected',
    help: 'socket.io connections open on this node',
    registers: [registry],
  });
  const pairings = new Counter({
    name: 'movie_signal_pairings_total',
    help: 'Receivers that joined a waiting room (on this node)',
    registers: [registry],
  });
  const rejects = new Counter({
    name: 'movie_signal_rejects_total',
    help: 'Requests refused, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const relayed = new Counter({
    name: 'movie_signal_messages_relayed_total',
    help: 'signal messages relayed to the other member of a room (from this node)',
    registers: [registry],
  });
  const roomsCreated = new Counter({
    name: 'movie_signal_rooms_created_total',
    help: 'Rooms created on this node',
    registers: [registry],
  });
  const roomsEnded = new Counter({
    name: 'movie_signal_rooms_ended_total',
    help: 'Rooms ended by the sweeper on this node, by cause',
    labelNames: ['why'] as const,
    registers: [registry],
  });
  return {
    registry,
    peersConnected,
    pairings,
    rejects,
    relayed,
    roomsCreated,
    roomsEnded,
    reject: (reason) => rejects.inc({ reason }),
  };
}
