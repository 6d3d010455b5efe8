/**
 * UDP probes across the delay line (test/support/delay-line.ts), one process per
 * namespace, one JSON line per result on stdout:
 *
 *   node udp-probe.js echo HOST             echoes every datagram; {"t":"listening","port":N}
 *   node udp-probe.js ping HOST PORT COUNT INTERVAL_MS
 *        COUNT probes, one every INTERVAL_MS, then waits 2 s for stragglers:
 *        {"t":"done","sent":N,"received":M,"rttMs":{"min","median","max"}}
 *   node udp-probe.js sink HOST             counts datagrams; {"t":"listening","port":N}, then
 *        once nothing came for 1 s after the first: {"t":"done","bytes","packets","seconds"}
 *        (first → last datagram)
 *   node udp-probe.js blast HOST PORT BYTES SIZE   sends BYTES in SIZE-byte datagrams as fast
 *        as node can: {"t":"done","bytes","seconds"}
 */
import { createSocket } from 'node:dgram';

const [mode, host, ...rest] = process.argv.slice(2);
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const now = () => performance.now();
if (!mode || !host) {
  process.stderr.write('usage: udp-probe.js echo|sink HOST | ping HOST PORT COUNT INTERVAL_MS | blast HOST PORT BYTES SIZE\n');
  process.exit(2);
}
const sock = createSocket('udp4');

if (mode === 'echo' || mode === 'sink') {
  let bytes = 0;
  let packets = 0;
  let first = 0;
  let last = 0;
  let idle: NodeJS.Timeout | undefined;
  sock.on('message', (msg, from) => {
    if (mode === 'echo') {
      sock.send(msg, from.port, from.address);
      return;
    }
    last = now();
    if (!packets) first = last;
    packets++;
    bytes += msg.length;
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => {
      emit({ t: 'done', bytes, packets, seconds: (last - first) / 1000 });
      process.exit(0);
    }, 1000);
  });
  sock.bind(0, host, () => {
    sock.setRecvBufferSize(8 * 1024 * 1024);
    emit({ t: 'listening', port: sock.address().port });
  });
} else if (mode === 'ping') {
  const [port, count, interval] = rest.map(Number) as [number, number, number];
  const sentAt = new Map<number, number>();
  const rtts: number[] = [];
  sock.on('message', (msg) => {
    const seq = msg.readUInt32BE(0);
    const t = sentAt.get(seq);
    if (t !== undefined) {
      rtts.push(now() - t);
      sentAt.delete(seq);
    }
  });
  sock.bind(0, () => {
    let seq = 0;
    const tick = setInterval(() => {
      const b = Buffer.alloc(64);
      b.writeUInt32BE(seq, 0);
      sentAt.set(seq, now());
      sock.send(b, port, host);
      if (++seq === count) {
        clearInterval(tick);
        setTimeout(() => {
          const s = [...rtts].sort((a, b) => a - b);
          const r = (x: number | undefined) => (x === undefined ? undefined : Number(x.toFixed(3)));
          emit({ t: 'done', sent: count, received: rtts.length, rttMs: { min: r(s[0]), median: r(s[Math.floor(s.length / 2)]), max: r(s[s.length - 1]) } });
          process.exit(0);
        }, 2000);
      }
    }, interval);
  });
} else if (mode === 'blast') {
  const [port, total, size] = rest.map(Number) as [number, number, number];
  const payload = Buffer.alloc(size, 0x5a);
  let sent = 0;
  const t0 = now();
  sock.connect(port, host, () => {
    // a bounded number of sends in flight: enough to keep the socket busy, without unbounded queueing in libuv
    let inFlight = 0;
    const pump = () => {
      while (sent < total && inFlight < 64) {
        inFlight++;
        sent += size;
        sock.send(payload, () => {
          inFlight--;
          if (sent >= total && inFlight === 0) {
            emit({ t: 'done', bytes: sent, seconds: (now() - t0) / 1000 });
            process.exit(0);
          }
          pump();
        });
      }
    };
    pump();
  });
} else {
  process.stderr.write(`udp-probe: unknown mode ${mode}\n`);
  process.exit(2);
}
