/**
 * TCP loopback between two Node processes, for context (the kernel path that
 * magic-wormhole's transit uses):
 *
 *   node dist/bench/tcp-peer.js recv BYTES [HOST]   → prints {"t":"port","port":N}, then {"t":"done",...}
 *   node dist/bench/tcp-peer.js send BYTES PORT [HOST] → prints {"t":"start","at":EPOCH_MS}
 *
 * HOST (default 127.0.0.1): the address to listen on / connect to (a namespace's
 * address for the delay line's ceiling, bench/profiles.ts).
 */
import { connect, createServer } from 'node:net';

const [role, bytesArg, ...rest] = process.argv.slice(2);
const portArg = role === 'send' ? rest[0] : undefined;
const host = (role === 'send' ? rest[1] : rest[0]) ?? '127.0.0.1';
const total = Number(bytesArg);
const now = () => performance.timeOrigin + performance.now();
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);

if (role === 'recv') {
  const server = createServer((sock) => {
    let got = 0;
    sock.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= total) {
        emit({ t: 'done', at: now(), bytes: got, cpu: process.cpuUsage(), maxRssKb: process.resourceUsage().maxRSS });
        sock.destroy();
        server.close();
      }
    });
  });
  server.listen(0, host, () => {
    const a = server.address();
    emit({ t: 'port', port: typeof a === 'object' && a ? a.port : 0 });
  });
} else if (role === 'send') {
  const block = Buffer.alloc(1024 * 1024, 0x5a);
  const sock = connect(Number(portArg), host, () => {
    emit({ t: 'start', at: now() });
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const n = Math.min(block.length, total - sent);
        sent += n;
        if (!sock.write(n === block.length ? block : block.subarray(0, n))) {
          sock.once('drain', pump);
          return;
        }
      }
      sock.end();
    };
    pump();
  });
  sock.on('error', () => process.exit(0));
  sock.on('close', () => process.exit(0));
} else {
  process.stderr.write('usage: tcp-peer.js recv BYTES | send BYTES PORT\n');
  process.exit(2);
}
