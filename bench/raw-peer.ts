/**
 * One side of the "ceiling" benchmark: the raw node-datachannel data channel
 * (the library movie-share uses), no crypto, no disk, no simple-peer, no
 * polyfill. Run as a child process; the parent (bench/lib.ts) relays the
 * signaling lines between the two children over stdin/stdout:
 *
 *   node dist/bench/raw-peer.js send BYTES [--mtu N] [--message N] [--channels N] [--sctp-send-buffer N] [--sctp-recv-buffer N] [--sctp-cc N] [--sctp-icwnd N] [--sctp-sack MS] [--kick MS] [--bind ADDR]
 *   node dist/bench/raw-peer.js recv BYTES [--mtu N] [--bind ADDR] [--sctp-recv-buffer N]
 *
 * `--bind ADDR` (default 127.0.0.1): the address ICE binds to (a namespace's
 * address for the delay-line profiles, bench/profiles.ts).
 *
 * stdout, one JSON object a line:
 *   {"t":"sdp",...} / {"t":"cand",...}   signaling for the other side
 *   {"t":"start","at":EPOCH_MS}          (send) the channel opened, first message goes now
 *   {"t":"first","at":EPOCH_MS}          (recv) first message arrived
 *   {"t":"done","at":EPOCH_MS,"bytes":N,"cpu":{user,system} µs,"maxRssKb":N}
 * stdin: the other side's signaling lines, and {"t":"quit"}.
 *
 * The sender uses the same backpressure as movie-share (peer/transfer/flow-control.ts):
 * pause above DEFAULT_TUNING.highWaterMark of bufferedAmount, resume at the
 * low-water mark (bufferedAmountLowThreshold). Strong references to the
 * PeerConnection and every DataChannel are kept: a DataChannel whose wrapper is
 * garbage-collected closes silently, and the transfer stalls (peer/rtc/node-peer.ts).
 *
 * `--channels N` (default 1) opens N ordered channels on the one connection and
 * sends BYTES split between them, each with its own backpressure: the receiver
 * (this program, or a browser: bench/browser.ts) counts the bytes of all of them.
 */
import nodeDataChannel, { type DataChannel, type PeerConnection, type RtcConfig } from 'node-datachannel';
import { createInterface } from 'node:readline';
import { writeFileSync } from 'node:fs';
import { CHUNK_OVERHEAD } from '../common/protocol/framing.js';
import { DEFAULT_TUNING } from '../common/config.js';
import { SACK_DELAY_MS } from '../peer/rtc/sctp-buffers.js';

const [role, bytesArg, ...rest] = process.argv.slice(2);
if ((role !== 'send' && role !== 'recv') || !bytesArg) {
  process.stderr.write(
    'usage: raw-peer.js send|recv BYTES [--mtu N] [--message N] [--channels N] [--sctp-send-buffer N] [--sctp-recv-buffer N] [--sctp-cc N] [--sctp-icwnd N] [--sctp-sack MS] [--kick MS]\n',
  );
  process.exit(2);
}
const total = Number(bytesArg);
const opt = (name: string): number | undefined => {
  const i = rest.indexOf(name);
  return i >= 0 ? Number(rest[i + 1]) : undefined;
};
const mtu = opt('--mtu');
const messageBytes = opt('--message') ?? DEFAULT_TUNING.chunkSize + CHUNK_OVERHEAD;
const channelCount = Math.max(1, opt('--channels') ?? 1);
/** --kick MS: while data is queued, a 1-byte message every MS ms (each send makes libdatachannel flush its queue into usrsctp) */
const kickMs = opt('--kick');

const now = () => performance.timeOrigin + performance.now();
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);

// SCTP settings, process-wide: by default the product's SACK delay (peer/rtc/sctp-buffers.ts) and
// the library's buffers.
// --sctp-send-buffer N: usrsctp's send space (bytes in flight, unacknowledged, at most);
// --sctp-recv-buffer N: its receive space (the window this side advertises);
// --sctp-cc N: its congestion control module (0 RFC 4960, 1 HSTCP, 2 H-TCP, 3 RTCC);
// --sctp-icwnd N: its initial congestion window in MTUs (libdatachannel: 10);
// --sctp-sack MS: how long it may delay a SACK (libdatachannel: 20 ms)
const sctpSendBuffer = opt('--sctp-send-buffer');
const sctpRecvBuffer = opt('--sctp-recv-buffer');
const sctpCc = opt('--sctp-cc');
const sctpIcwnd = opt('--sctp-icwnd');
nodeDataChannel.setSctpSettings({
  delayedSackTime: opt('--sctp-sack') ?? SACK_DELAY_MS,
  ...(sctpSendBuffer ? { sendBufferSize: sctpSendBuffer } : {}),
  ...(sctpRecvBuffer ? { recvBufferSize: sctpRecvBuffer } : {}),
  ...(sctpCc !== undefined ? { congestionControlModule: sctpCc } : {}),
  ...(sctpIcwnd ? { initialCongestionWindow: sctpIcwnd } : {}),
});

/** RAW_TRACE=DIR: every 100 ms, the bytes sent (handed to the channel) or received so far, to DIR/ROLE.trace */
function traceEvery(what: () => string): void {
  const dir = process.env.RAW_TRACE;
  if (!dir) return;
  const lines: string[] = [];
  const t0 = Date.now();
  setInterval(() => lines.push(`${Date.now() - t0} ${what()}`), 100).unref();
  process.on('exit', () => writeFileSync(`${dir}/${role}-${process.pid}.trace`, lines.join('\n') + '\n'));
}

const bindIdx = rest.indexOf('--bind');
const bindAddress = bindIdx >= 0 ? rest[bindIdx + 1]! : '127.0.0.1';
const config: RtcConfig = { iceServers: [], bindAddress };
if (mtu) config.mtu = mtu;
const pc: PeerConnection = new nodeDataChannel.PeerConnection(`bench-${role}`, config);
/** strong references: a collected DataChannel wrapper closes the channel */
const channels = new Set<DataChannel>();
const keep = { pc, channels };

pc.onLocalDescription((sdp, type) => emit({ t: 'sdp', sdp, type }));
pc.onLocalCandidate((cand, mid) => emit({ t: 'cand', cand, mid }));

function finish(bytes: number): void {
  const cpu = process.cpuUsage();
  emit({ t: 'done', at: now(), bytes, cpu, maxRssKb: process.resourceUsage().maxRSS });
}

function onGone(): void {
  if (!quitting) {
    process.stderr.write('raw-peer: channel closed early\n');
    process.exit(5);
  }
}

let quitting = false;

if (role === 'send') {
  const payload = Buffer.alloc(messageBytes, 0xa5);
  let opened = 0;
  let finished = 0;
  let sentAll = 0;
  /** one channel's share of the bytes, sent with the product's backpressure */
  const channel = (i: number, share: number) => {
    const dc = pc.createDataChannel(channelCount === 1 ? 'bench' : `bench-${i}`, { unordered: false });
    channels.add(dc);
    let sent = 0;
    dc.setBufferedAmountLowThreshold(DEFAULT_TUNING.lowWaterMark);
    const pump = () => {
      while (sent < share) {
        if (dc.bufferedAmount() > DEFAULT_TUNING.highWaterMark) return; // resumes on bufferedamountlow
        const n = Math.min(messageBytes, share - sent);
        dc.sendMessageBinary(n === payload.length ? payload : payload.subarray(0, n));
        sent += n;
        sentAll += n;
        if (sent >= share && ++finished === channelCount) finish(sentAll);
      }
    };
    // inside node-datachannel's callbacks an exception aborts the process: a send on
    // a channel that closed under us ends this child with exit 5 and one line instead
    const guardedPump = (): void => {
      try {
        pump();
      } catch (e) {
        if (quitting) return;
        process.stderr.write(`raw-peer: send failed: ${(e as Error).message}\n`);
        process.exit(5);
      }
    };
    dc.onBufferedAmountLow(guardedPump);
    dc.onClosed(onGone);
    dc.onOpen(() => {
      const max = pc.maxMessageSize();
      if (messageBytes > max) {
        process.stderr.write(`raw-peer: message ${messageBytes} > negotiated max ${max}\n`);
        process.exit(2);
      }
      if (++opened === channelCount) {
        emit({ t: 'start', at: now(), maxMessageSize: max });
        if (kickMs && i === 0) setInterval(() => dc.bufferedAmount() > 0 && dc.sendMessage('k'), kickMs).unref();
        for (const p of pumps) p();
      }
    });
    return guardedPump;
  };
  traceEvery(() => `${sentAll}`);
  const pumps = Array.from({ length: channelCount }, (_, i) => channel(i, Math.floor(total / channelCount) + (i === channelCount - 1 ? total % channelCount : 0)));
} else {
  let got = 0;
  traceEvery(() => `${got}`);
  pc.onDataChannel((dc) => {
    channels.add(dc);
    dc.onClosed(onGone);
    dc.onMessage((msg) => {
      if (got === 0) emit({ t: 'first', at: now() });
      got += typeof msg === 'string' ? Buffer.byteLength(msg) : msg.byteLength;
      if (got >= total) finish(got);
    });
  });
}

/** candidates that came before the other side's description */
const early: [string, string][] = [];
function addCandidate(cand: string, mid: string): void {
  try {
    pc.addRemoteCandidate(cand, mid);
  } catch {
    // a candidate for a transport that is gone, or malformed: harmless
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const m = JSON.parse(line) as { t: string; sdp?: string; type?: string; cand?: string; mid?: string };
  if (m.t === 'sdp') {
    pc.setRemoteDescription(m.sdp!, m.type as Parameters<PeerConnection['setRemoteDescription']>[1]);
    for (const [cand, mid] of early.splice(0)) addCandidate(cand, mid);
  } else if (m.t === 'cand') {
    // the parent relays lines in order, but a candidate before the description would throw: queue it
    if (!pc.remoteDescription()) early.push([m.cand!, m.mid!]);
    else addCandidate(m.cand!, m.mid!);
  } else if (m.t === 'quit') {
    quitting = true;
    for (const dc of keep.channels) dc.close();
    keep.pc.close();
    nodeDataChannel.cleanup();
    process.exit(0);
  }
});
