/**
 * The peer side of signaling: a typed wrapper over socket.io-client that the
 * CLIs use to create or join a room and to exchange opaque `signal` payloads
 * with the other peer through `movie-signal`.
 *
 * - WebSocket transport only (no long-polling: no sticky sessions needed
 *   behind a load balancer).
 * - `connect` retries with backoff for a bounded time, then fails with one
 *   clear sentence (exit code 5).
 * - After a dropped connection (network blip, a node restarting) it
 *   reconnects and `rejoin`s its room with the room token, transparently.
 *   Messages sent meanwhile, or while the other peer is itself reconnecting,
 *   are held in order and sent once both are back. Only when that fails for
 *   `reconnectTimeoutMs` does `onDisconnect` fire.
 * - `onPeerJoined` fires once per room, when the other peer first appears;
 *   `onPeerLeft` when it left for good (explicit leave, or it did not come
 *   back within the server's grace period). A host whose receiver left
 *   before relaying any PAKE message hears `onReopened` instead: the room
 *   waits for a receiver again, messages held for the old one are dropped,
 *   and `onPeerJoined` fires again for the next one.
 * - `meet` (two peers reconnecting with the id they derived from their PAKE
 *   key, see signaling/rooms.ts): the other peer may come and go any number
 *   of times; `onPeerLeft` fires each time it leaves, `onPeerJoined` each
 *   time it appears again (and what we sent meanwhile is held and delivered
 *   then). A newer `meet` with our role (our own peer, reconnecting through
 *   another network) replaces us: `onDisconnect` fires.
 * - A `signal` the server refuses (too large, rate-limited, no longer in a
 *   room, …) is never relayed, and the rendezvous cannot complete without
 *   it: the client leaves the room (the other peer hears `peer-left` at once)
 *   and `onDisconnect` fires with one sentence, instead of both sides waiting
 *   for their connect timeout.
 */
import { io, type Socket } from 'socket.io-client';
import { safeText } from '../../common/terminal.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import {
  SIGNAL_PROTOCOL_VERSION,
  type ClientToServerEvents,
  type CreateOk,
  type CreateReply,
  type JoinOk,
  type JoinReply,
  type MeetOk,
  type MeetReply,
  type PeerLeftInfo,
  type RejoinReply,
  type Role,
  type ServerToClientEvents,
  type SignalError,
  type SignalPayload,
  type SignalReply,
} from '../../common/protocol/signal-protocol.js';

export interface SignalClientOptions {
  url: string;
  /** total bounded time for the first connection, retries with backoff included; default 8000 */
  connectTimeoutMs?: number;
  /** after a drop, how long to keep trying to reconnect and rejoin before `onDisconnect`; default 20000 */
  reconnectTimeoutMs?: number;
  /** how long to wait for the server to answer a request; default 10000 */
  requestTimeoutMs?: number;
  /**
   * Node only, for an https server (a browser uses its own trust store and ignores this): the
   * certificates to trust instead of the default ones (PEM), and the check of the server's
   * certificate that replaces the host-name check (return an Error to refuse it). `movie-share`
   * uses both to trust exactly the certificate of the server it runs itself.
   */
  tls?: { ca?: string | string[]; checkServerIdentity?: (host: string, cert: { fingerprint256?: string }) => Error | undefined };
}

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type Held = { seq: number; msg: SignalPayload };

/** At most this many messages are held while the other peer (or we) reconnect. */
const MAX_OUTBOX = 512;

function describeReason(reply: SignalError, url: string): MovieShareError {
  switch (reply.reason) {
    case 'not-found':
      return new MovieShareError(ExitCode.Auth, 'No transfer is waiting under that code; check it, or ask the sender for a new one (a code works once and expires when unused).');
    case 'busy':
      return new MovieShareError(ExitCode.Auth, 'That code is already in use by another receiver; ask the sender for a new code.');
    case 'expired':
      return new MovieShareError(ExitCode.Auth, 'That code has expired; ask the sender for a new one.');
    case 'rate-limited':
      return new MovieShareError(ExitCode.Network, `The signaling server at ${url} is refusing more requests from your address for now (rate limit); wait a minute and try again.`);
    case 'too-many-rooms':
      return new MovieShareError(ExitCode.Network, `The signaling server at ${url} is full right now; try again in a few minutes.`);
    case 'shutting-down':
      return new MovieShareError(ExitCode.Network, `The signaling server at ${url} is restarting; try again in a moment.`);
    case 'version':
      return new MovieShareError(
        ExitCode.Other,
        `The signaling server at ${url} speaks a different protocol version (${safeText(reply.message)}); update movie-share or the server.`,
      );
    default:
      return new MovieShareError(ExitCode.Other, `The signaling server at ${url} refused the request: ${safeText(reply.message)}`);
  }
}

/** The server's own words, kept to one line of bounded length (they end up inside our sentence). */
function serverWords(err: SignalError): string {
  const words = String(err.message ?? '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/\.$/, '')
    .slice(0, 200);
  return words ? words[0]!.toLowerCase() + words.slice(1) : String(err.reason);
}

export class SignalClient {
  readonly url: string;
  private readonly socket: ClientSocket;
  private readonly reconnectTimeoutMs: number;
  private readonly requestTimeoutMs: number;

  private room: string | null = null;
  private role: Role | null = null;
  private token: string | null = null;
  /** in a meeting room (`meet`): the other peer may leave and come back any number of times */
  private meeting = false;
  /** a `meet` is waiting for its reply, and whether the other peer appeared meanwhile */
  private meetingPending = false;
  private joinedMeanwhile = false;
  private peerPresent = false;
  /** signals that arrived before any onSignal handler */
  private earlySignals: SignalPayload[] = [];
  private peerEverJoined = false;
  private rejoining = false;
  private closed = false;
  private seq = 0;
  private outbox: Held[] = [];
  private lostTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private serverShutdown = false;

  private readonly signalCbs: ((msg: SignalPayload) => void)[] = [];
  private readonly joinedCbs: (() => void)[] = [];
  private readonly leftCbs: (() => void)[] = [];
  private readonly reopenedCbs: (() => void)[] = [];
  private readonly disconnectCbs: ((reason: string) => void)[] = [];
  private readonly rejoinedCbs: (() => void)[] = [];

  private constructor(url: string, socket: ClientSocket, opts: SignalClientOptions) {
    this.url = url;
    this.socket = socket;
    this.reconnectTimeoutMs = opts.reconnectTimeoutMs ?? 20_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.wire();
  }

  /** Connect to `movie-signal`, retrying with backoff for at most `connectTimeoutMs`. */
  static connect(opts: SignalClientOptions): Promise<SignalClient> {
    const url = opts.url;
    const bound = opts.connectTimeoutMs ?? 8_000;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return Promise.reject(new MovieShareError(ExitCode.Usage, `"${url}" is not a valid signaling server URL; use something like http://host:8080.`));
    }
    if (!['http:', 'https:', 'ws:', 'wss:'].includes(parsed.protocol)) {
      return Promise.reject(new MovieShareError(ExitCode.Usage, `"${url}" is not an http(s) URL; use something like http://host:8080.`));
    }
    // handed by engine.io-client to `ws` (and so to tls.connect) in Node; `checkServerIdentity` is not in its types
    const tls: Record<string, unknown> = {
      ...(opts.tls?.ca ? { ca: opts.tls.ca } : {}),
      ...(opts.tls?.checkServerIdentity ? { checkServerIdentity: opts.tls.checkServerIdentity } : {}),
    };
    const socket: ClientSocket = io(url, {
      ...tls,
      transports: ['websocket'],
      forceNew: true, // one connection per client: never multiplexed with another SignalClient
      reconnection: true,
      reconnectionAttempts: Infinity,
      reconnectionDelay: 250,
      reconnectionDelayMax: 2000,
      randomizationFactor: 0.3,
      timeout: Math.max(500, Math.min(5000, bound)),
    });
    return new Promise<SignalClient>((resolve, reject) => {
      let lastError = 'no answer';
      const onError = (e: Error & { description?: unknown; data?: unknown }): void => {
        lastError = e?.message || String(e);
        // refused by the server itself (too many connections from this address): no point retrying
        const reason = (e?.data as { reason?: unknown } | undefined)?.reason;
        if (reason === 'rate-limited' && !socket.active) {
          clearTimeout(timer);
          socket.off('connect', onConnect);
          socket.off('connect_error', onError);
          socket.disconnect();
          reject(describeReason({ ok: false, reason, message: lastError }, url));
          return;
        }
        // in Node, the transport's own reason (e.g. "self-signed certificate") rides in `description`
        const detail = (e?.description as { message?: unknown } | undefined)?.message;
        if (typeof detail === 'string' && detail && detail !== lastError) lastError += ` (${detail})`;
      };
      const timer = setTimeout(() => {
        socket.off('connect', onConnect);
        socket.off('connect_error', onError);
        socket.disconnect();
        reject(new MovieShareError(ExitCode.Network, `Cannot reach the signaling server at ${url}: ${lastError}. Check --signal / MOVIE_SIGNAL_URL or start movie-signal.`));
      }, bound);
      const onConnect = (): void => {
        clearTimeout(timer);
        socket.off('connect_error', onError);
        resolve(new SignalClient(url, socket, opts));
      };
      socket.once('connect', onConnect);
      socket.on('connect_error', onError);
    });
  }

  /** Host: open a room. Rejoins it transparently after a reconnect. */
  async createRoom(): Promise<CreateOk> {
    this.assertUsable();
    const reply = await this.request<CreateReply>((ack) => this.socket.timeout(this.requestTimeoutMs).emit('create', { v: SIGNAL_PROTOCOL_VERSION }, ack));
    if (!reply.ok) throw describeReason(reply, this.url);
    this.room = reply.room;
    this.token = reply.token;
    this.role = 'host';
    this.peerPresent = false;
    this.peerEverJoined = false;
    return reply;
  }

  /** Receiver: join the room of a code. not-found/busy → exit 4; rate-limited/full → exit 5. */
  async joinRoom(room: string): Promise<JoinOk> {
    this.assertUsable();
    const id = room.trim().toLowerCase();
    const reply = await this.request<JoinReply>((ack) => this.socket.timeout(this.requestTimeoutMs).emit('join', { v: SIGNAL_PROTOCOL_VERSION, room: id }, ack));
    if (!reply.ok) throw describeReason(reply, this.url);
    this.room = reply.room;
    this.role = 'receiver';
    this.token = reply.token ?? null;
    this.peerPresent = reply.peerPresent ?? true;
    this.peerEverJoined = true; // the host was there first
    this.flush();
    return reply;
  }

  /**
   * Take our place (`role`) in the meeting room `room` (an id both peers
   * derived from their PAKE session key: `m` + 26 lowercase base32
   * characters), creating it if it does not exist and replacing an older
   * connection of ours if one holds that place. The reply's `peerPresent`
   * says whether the other peer is there already (no `onPeerJoined` for that
   * one); `onPeerJoined` fires whenever it appears later, `onPeerLeft`
   * whenever it leaves. Rejoins transparently after a reconnect, like a
   * created or joined room. A refusal is a MovieShareError with one sentence
   * (rate-limited / full / restarting → exit 5).
   */
  async meet(room: string, role: Role): Promise<MeetOk> {
    this.assertUsable();
    // the other peer's `peer-joined` can be handled before this await resumes
    // (socket.io delivers a batch of packets in one go): it is kept meanwhile
    this.meetingPending = true;
    let reply: MeetReply;
    try {
      reply = await this.request<MeetReply>((ack) => this.socket.timeout(this.requestTimeoutMs).emit('meet', { v: SIGNAL_PROTOCOL_VERSION, room, role }, ack));
    } finally {
      this.meetingPending = false;
    }
    const joinedMeanwhile = this.joinedMeanwhile;
    this.joinedMeanwhile = false;
    if (!reply.ok) throw describeReason(reply, this.url);
    this.room = reply.room;
    this.role = role;
    this.token = reply.token;
    this.meeting = true;
    this.peerPresent = reply.peerPresent || joinedMeanwhile;
    this.peerEverJoined = this.peerPresent;
    this.flush();
    return reply;
  }

  /** Send an opaque payload to the other peer (held while either side is reconnecting). */
  send(msg: SignalPayload): void {
    if (this.closed) return;
    const item: Held = { seq: ++this.seq, msg: { kind: msg.kind, data: msg.data } };
    if (this.canSend()) this.emitSignal(item);
    else this.hold(item);
  }

  onSignal(cb: (msg: SignalPayload) => void): void {
    this.signalCbs.push(cb);
    for (const m of this.earlySignals.splice(0)) cb(m);
  }

  onPeerJoined(cb: () => void): void {
    this.joinedCbs.push(cb);
  }

  onPeerLeft(cb: () => void): void {
    this.leftCbs.push(cb);
  }

  /** Host: the receiver left before it relayed any PAKE message (no guess spent); the room waits for another one. */
  onReopened(cb: () => void): void {
    this.reopenedCbs.push(cb);
  }

  /**
   * Signaling is over for good, with one sentence saying why: connection lost
   * beyond recovery, server gone, the room expired, the server refused to
   * relay one of our messages, or a newer connection took our place in a
   * meeting room.
   */
  onDisconnect(cb: (reason: string) => void): void {
    this.disconnectCbs.push(cb);
  }

  /** After a dropped connection: reconnected and the room reclaimed (informational, e.g. for logs). */
  onRejoined(cb: () => void): void {
    this.rejoinedCbs.push(cb);
  }

  /** Leave the room (the other peer is told at once) and disconnect. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    this.outbox = [];
    try {
      if (this.room && this.socket.connected) this.socket.emit('leave');
    } catch {
      /* best effort */
    }
    this.socket.disconnect();
  }

  /* ------------------------------------------------------------------ */

  private assertUsable(): void {
    if (this.closed) throw new MovieShareError(ExitCode.Network, 'The connection to the signaling server is closed.');
    if (this.room) throw new MovieShareError(ExitCode.Other, 'This signaling client is already in a room.');
  }

  /**
   * Send a request through `send` and wait for the server's ack: what
   * `timeout(ms).emitWithAck()` does, but typed (socket.io-client types that
   * one's reply as `any` once timeout() has put the error first in the ack).
   */
  private async request<T>(send: (ack: (err: Error | null, reply: T) => void) => void): Promise<T> {
    try {
      return await new Promise<T>((resolve, reject) => send((err, reply) => (err ? reject(err) : resolve(reply))));
    } catch {
      throw new MovieShareError(ExitCode.Network, `The signaling server at ${this.url} did not answer in time; check the connection and try again.`);
    }
  }

  private canSend(): boolean {
    return this.socket.connected && !this.rejoining && this.room !== null && this.peerPresent;
  }

  private hold(item: Held): void {
    // keep sequence order (a refused message may come back after later ones were queued)
    let i = this.outbox.length;
    while (i > 0 && this.outbox[i - 1]!.seq > item.seq) i--;
    this.outbox.splice(i, 0, item);
    if (this.outbox.length > MAX_OUTBOX) this.outbox.shift();
  }

  private flush(): void {
    while (this.canSend() && this.outbox.length) this.emitSignal(this.outbox.shift()!);
  }

  private emitSignal(item: Held): void {
    const acked = this.socket.timeout(this.requestTimeoutMs).emitWithAck('signal', item.msg) as Promise<SignalReply>;
    acked.then(
      (reply) => {
        if (!reply || this.closed || reply.ok) return;
        if (reply.reason === 'peer-absent') {
          // definitely not relayed: hold it until the other peer is back
          this.peerPresent = false;
          this.hold(item);
          return;
        }
        if (reply.reason === 'shutting-down') {
          // definitely not relayed, and the server is going away: the rejoin after the reconnect sends it
          this.hold(item);
          return;
        }
        if (reply.reason === 'not-in-room' && this.meeting) return this.outOfMeeting(reply);
        this.refused(reply);
      },
      () => undefined,
    ); // no answer (timeout, drop): at most once, never resend what may have been relayed
  }

  /**
   * The server will not relay what we sent, so the other peer will never
   * answer it: leave (the other peer hears `peer-left` at once) and end
   * signaling with one sentence, rather than let both wait for a timeout.
   */
  private refused(err: SignalError): void {
    if (this.closed) return;
    try {
      if (this.room && this.socket.connected) this.socket.emit('leave');
    } catch {
      /* best effort: the server's grace period tells the other peer instead */
    }
    this.giveUp(`The signaling server at ${this.url} refused to relay a message to the other side (${serverWords(err)}).`);
  }

  /**
   * We are no member of our meeting room any more: a newer connection took
   * our place (our own peer, reconnecting through another network; the
   * server says "replaced by a newer connection"). Nothing to leave.
   */
  private outOfMeeting(err: SignalError): void {
    if (this.closed) return;
    this.room = null;
    this.giveUp(`The signaling server at ${this.url} no longer has this connection in the meeting room (${serverWords(err)}).`);
  }

  private clearTimers(): void {
    if (this.lostTimer) clearTimeout(this.lostTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.lostTimer = null;
    this.retryTimer = null;
  }

  private giveUp(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    this.outbox = [];
    this.socket.disconnect();
    for (const cb of [...this.disconnectCbs]) cb(reason);
  }

  private peerAppeared(): void {
    this.peerPresent = true;
    const first = !this.peerEverJoined;
    this.peerEverJoined = true;
    this.flush();
    if (first) for (const cb of [...this.joinedCbs]) cb();
  }

  private retryRejoin(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.rejoin();
    }, 500);
  }

  /** After a reconnect: reclaim our room with its token. */
  private rejoin(): void {
    const s = this.socket;
    if (this.closed || !this.room || !this.token || !s.connected) return;
    this.rejoining = true;
    s.timeout(this.requestTimeoutMs).emit('rejoin', { v: SIGNAL_PROTOCOL_VERSION, room: this.room, token: this.token }, (err: Error | null, reply?: RejoinReply) => {
      if (this.closed) return;
      if (err || !reply) {
        // no answer: retry while connected; after a drop the next 'connect' retries. The lost timer bounds it all.
        if (s.connected) this.retryRejoin();
        return;
      }
      if (!reply.ok) {
        if (reply.reason === 'shutting-down' || reply.reason === 'rate-limited' || reply.reason === 'internal') {
          this.retryRejoin();
          return;
        }
        this.giveUp(`Reconnected to the signaling server, but it no longer has this ${this.meeting ? 'meeting room' : 'transfer'} (${safeText(reply.message)}).`);
        return;
      }
      this.rejoining = false;
      if (this.lostTimer) clearTimeout(this.lostTimer);
      this.lostTimer = null;
      if (reply.peerPresent) this.peerAppeared();
      else this.peerPresent = false;
      this.flush();
      for (const cb of [...this.rejoinedCbs]) cb();
    });
  }

  private wire(): void {
    const s = this.socket;
    s.on('signal', (msg) => {
      if (this.closed) return;
      // the other peer may speak before our handler is registered (e.g. right after join): keep it
      if (this.signalCbs.length === 0) {
        if (this.earlySignals.length < MAX_OUTBOX) this.earlySignals.push(msg);
        return;
      }
      for (const cb of [...this.signalCbs]) cb(msg);
    });
    s.on('peer-joined', () => {
      if (!this.closed && this.room) this.peerAppeared();
      else if (this.meetingPending) this.joinedMeanwhile = true;
    });
    s.on('peer-left', (info?: PeerLeftInfo) => {
      if (this.closed || !this.room) return;
      this.peerPresent = false;
      if (info?.reopened === true && this.role === 'host') {
        // what we held was for the receiver that left; the next one starts afresh
        this.outbox = [];
        this.peerEverJoined = false;
        for (const cb of [...this.reopenedCbs]) cb();
        return;
      }
      // in a meeting room the other peer may come back (a `meet` again): that is a new appearance
      if (this.meeting) this.peerEverJoined = false;
      for (const cb of [...this.leftCbs]) cb();
    });
    // what the server refused without an ack to answer through (every request of ours has one, so this
    // is a refusal the server could not tie to a request), or the room's end
    s.on('signal-error', (err) => {
      if (this.closed) return;
      if (err?.reason === 'expired' && this.room) {
        this.room = null;
        this.giveUp(`The signaling room expired: ${safeText(String(err.message))}`);
        return;
      }
      if (err?.reason === 'shutting-down') return; // the disconnect that follows is handled below
      if (err?.reason === 'not-in-room' && this.meeting) return this.outOfMeeting(err);
      this.refused(err);
    });
    s.on('shutdown', () => {
      this.serverShutdown = true;
    });
    s.on('disconnect', (reason) => {
      if (this.closed) return;
      if (reason === 'io server disconnect') {
        this.giveUp(`The signaling server at ${this.url} closed the connection.`);
        return;
      }
      if (!this.lostTimer) {
        this.lostTimer = setTimeout(() => {
          this.lostTimer = null;
          this.giveUp(
            this.serverShutdown
              ? `The signaling server at ${this.url} shut down and did not come back.`
              : `Lost the connection to the signaling server at ${this.url} and could not get it back.`,
          );
        }, this.reconnectTimeoutMs);
      }
    });
    s.on('connect', () => {
      if (this.closed) return;
      this.serverShutdown = false;
      if (!this.room || !this.token) {
        if (this.lostTimer) clearTimeout(this.lostTimer);
        this.lostTimer = null;
        return;
      }
      this.rejoin();
    });
  }
}
