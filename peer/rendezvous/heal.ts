/**
 * A transfer that heals itself: run it over the first connection, and when
 * the connection fails for a reason the two peers can survive (it closed,
 * went silent, or never opened: the error is `recoverable`), meet again
 * (meeting.ts) and run it once more over the new one. The transfer protocol
 * itself resumes: the receiver's confirm says which chunks it has verified,
 * the host sends the rest (docs/PROTOCOL.md §6).
 *
 *   first rendezvous ─▶ transfer ─▶ done
 *        │ recoverable      │ recoverable
 *        ▼                  ▼
 *     reconnecting (attempt n, backoff) ─▶ reconnected ─▶ transfer …
 *        │ patience spent since the connection was lost
 *        ▼
 *     exit 5
 *
 * Anything else (a wrong code, a peer that breaks the protocol or cancels, a
 * file that does not verify) ends the transfer at once, as before.
 */
import { MovieShareError, isMovieShareError, networkError } from '../../common/errors.js';
import type { Role } from '../../common/protocol/signal-protocol.js';
import type { SessionKeys } from '../../common/crypto/session-keys.js';
import { ATTEMPT_TIMEOUT_MS } from '../../common/config.js';
import type { Connected } from './handshake.js';
import { Meeting, STUCK_SENTENCE, type MeetingOptions } from './meeting.js';
import type { PeerFactory, WebRtcPeer } from './peer-factory.js';
import { RendezvousFailure, type Rendezvous } from './rendezvous.js';
import type { SignalClient } from './signal-client.js';

/** Pauses between a receiver's attempts: at once, then 1, 2, 4, 8, 8, … s. */
export function backoffMs(failures: number): number {
  return failures <= 0 ? 0 : Math.min(8000, 1000 * 2 ** (failures - 1));
}

export interface HealOptions<P extends WebRtcPeer, T> {
  role: Role;
  /** the first rendezvous (code, PAKE, first attempt) */
  first: () => Promise<Rendezvous<P>>;
  /** the transfer over one connection; it resumes where the last one stopped */
  run: (c: Connected<P>) => Promise<T>;
  factory: PeerFactory<P>;
  lowWaterMark: number;
  /** a new connection to the signaling server, for the meeting room */
  connectSignal: () => Promise<SignalClient>;
  /** how long to keep trying once the connection is lost (ms) */
  patienceMs: number;
  /** a connection carries the transfer: attempt 1 is the first */
  onConnected?: (c: Connected<P>, attempt: number) => void;
  /** the connection was lost, or an attempt failed: trying attempt `attempt` */
  onReconnecting?: (attempt: number, reason: string) => void;
  log?: (line: string) => void;
  /** per attempt (tests shorten it) */
  attemptTimeoutMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const recoverable = (e: unknown): e is MovieShareError => isMovieShareError(e) && e.recoverable;
/** what went wrong, without the advice for a user who must start again (we are not done trying) */
const cause = (e: MovieShareError): string => e.message.replace(/\s*(Run both commands again to resume|Try again[^.]*)\.$/, '');

function patienceSpent(role: Role, patienceMs: number, reason: string): MovieShareError {
  const other = role === 'host' ? 'receiver' : 'sender';
  const mins = patienceMs >= 60_000 && patienceMs % 60_000 === 0 ? `${patienceMs / 60_000} min` : `${Math.round(patienceMs / 1000)} s`;
  return networkError(`The connection to the ${other} was lost (${reason.replace(/\.$/, '')}) and could not be made again within ${mins}. Run both commands again to resume.`);
}

export async function healingTransfer<P extends WebRtcPeer, T>(opts: HealOptions<P, T>): Promise<T> {
  const { role } = opts;
  const log = opts.log ?? (() => undefined);
  const timeoutMs = opts.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS;
  let conn: Connected<P> | undefined;
  let keys: SessionKeys;
  let reason = '';
  /** the failure that lost the connection: what a side without patience reports as it is */
  let lostBy: MovieShareError | undefined;
  try {
    const rz = await opts.first();
    keys = rz.keys;
    conn = rz;
  } catch (e) {
    if (!(e instanceof RendezvousFailure)) throw e;
    if (e.stuck) throw networkError(STUCK_SENTENCE);
    keys = e.keys;
    reason = cause(e.failure);
    lostBy = e.failure;
  }
  const meetingOpts: MeetingOptions<P> = { role, keys, factory: opts.factory, lowWaterMark: opts.lowWaterMark, connectSignal: opts.connectSignal, log };
  let meeting: Meeting<P> | undefined;
  let attempt = 1;
  try {
    for (;;) {
      if (conn) {
        opts.onConnected?.(conn, attempt);
        try {
          return await opts.run(conn);
        } catch (e) {
          if (!recoverable(e)) throw e;
          reason = cause(e);
          lostBy = e;
          conn.rtc.peer.destroy();
          conn = undefined;
        }
      }
      // the connection is lost (or never came): patience counts from now
      const deadline = Date.now() + opts.patienceMs;
      const lost = reason;
      if (opts.patienceMs <= 0 && lostBy) throw lostBy;
      meeting ??= new Meeting(meetingOpts);
      let failures = 0;
      while (!conn) {
        if (Date.now() >= deadline) throw patienceSpent(role, opts.patienceMs, lost);
        attempt++;
        opts.onReconnecting?.(attempt, reason);
        try {
          conn = role === 'receiver' ? await meeting.attempt(attempt, Math.min(timeoutMs, Math.max(1000, deadline - Date.now()))) : await meeting.answer(deadline, timeoutMs);
        } catch (e) {
          if (!recoverable(e)) throw e;
          log(`attempt ${attempt} failed: ${e.message}`);
          reason = cause(e);
          await sleep(Math.min(backoffMs(++failures), Math.max(0, deadline - Date.now())));
        }
        // the receiver numbers the attempts; the host learns the number from its retry
        attempt = Math.max(attempt, meeting.attemptNumber);
      }
    }
  } finally {
    meeting?.close();
  }
}
