/**
 * Striping (peer/transfer/stripes.ts) over in-memory connections whose
 * deliveries take different, random times: the receiver sees the host's
 * frames in the host's order whatever connection carried them; the receiver's
 * limit and refusals hold; a malformed or unknown `use` ends the channel; a
 * lost connection ends it too; and a whole transfer (sendFile → receiveFile)
 * over three connections is byte-identical.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DEFAULT_TUNING } from '../../common/config.js';
import { FRAME_STRIPE } from '../../common/protocol/framing.js';
import type { MessageChannel } from '../../peer/transfer/channel.js';
import { parseStripeMessage, StripedChannel, type StripeConnector } from '../../peer/transfer/stripes.js';
import { memoryChannelPair } from '../support/memory-channel.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';
import { sharedKeyPair } from '../support/memory-transfer.js';
import { sendFile } from '../../peer/transfer/host.js';
import { receiveFile } from '../../peer/transfer/receiver.js';
import { hashFile, inspectFile, nodeFileSource } from '../../peer/node/file-source.js';
import { NodeFileSink } from '../../peer/node/file-sink.js';
import '../support/node-crypto.js';

let dir: string;
let removeDir: () => Promise<void>;
before(async () => {
  ({ dir, remove: removeDir } = await tempDir());
});
after(async () => removeDir());

/** A connection whose frames arrive in order, each after a random 0–maxDelayMs (its own path). */
function slowPair(maxDelayMs: number): [MessageChannel, MessageChannel] {
  const [a, b] = memoryChannelPair();
  const delayed = (ch: MessageChannel): MessageChannel => {
    let chain = Promise.resolve();
    return {
      maxMessageSize: ch.maxMessageSize,
      send: (f) => {
        const copy = Uint8Array.from(f);
        const wait = Math.random() * maxDelayMs;
        chain = chain
          .then(() => new Promise((r) => setTimeout(r, wait)))
          .then(() => {
            try {
              ch.send(copy);
            } catch {
              // closed while the frame was on its way: lost, as on a real connection
            }
          });
      },
      bufferedAmount: () => ch.bufferedAmount(),
      drained: () => ch.drained(),
      onMessage: (cb) => ch.onMessage(cb),
      onClose: (cb) => ch.onClose(cb),
      close: () => ch.close(),
    };
  };
  return [delayed(a), delayed(b)];
}

/** Two connectors that make slow pairs for each other: what the host offers, the receiver answers. */
function connectors(maxDelayMs: number, opts: { failAnswer?: boolean } = {}): { host: StripeConnector; receiver: StripeConnector; made: MessageChannel[] } {
  const waiting = new Map<string, { receiverEnd: MessageChannel; hostEnd: MessageChannel }>();
  const made: MessageChannel[] = [];
  let n = 0;
  return {
    made,
    host: {
      offer: () => {
        const sdp = `offer-${++n}`;
        const [hostEnd, receiverEnd] = slowPair(maxDelayMs);
        made.push(hostEnd, receiverEnd);
        waiting.set(sdp, { hostEnd, receiverEnd });
        return Promise.resolve({
          sdp,
          accept: (answer: string) => (answer === `answer-${sdp}` ? Promise.resolve(hostEnd) : Promise.reject(new Error('wrong answer'))),
          close: () => hostEnd.close(),
        });
      },
      answer: () => Promise.reject(new Error('host never answers')),
    },
    receiver: {
      offer: () => Promise.reject(new Error('receiver never offers')),
      answer: (sdp: string) => {
        const w = waiting.get(sdp);
        if (!w || opts.failAnswer) return Promise.reject(new Error('unknown offer'));
        return Promise.resolve({ sdp: `answer-${sdp}`, channel: Promise.resolve(w.receiverEnd), close: () => w.receiverEnd.close() });
      },
    },
  };
}

function stripedPair(streams: number, receiverMax: number, maxDelayMs = 3, opts: { failAnswer?: boolean } = {}) {
  const [p0h, p0r] = slowPair(maxDelayMs);
  const c = connectors(maxDelayMs, opts);
  const host = new StripedChannel(p0h, { role: 'host', connector: c.host, peerMax: receiverMax, plan: () => ({ streams, params: {} }) });
  const receiver = new StripedChannel(p0r, { role: 'receiver', connector: c.receiver, max: receiverMax });
  return { host, receiver, made: c.made };
}

const frame = (i: number): Uint8Array => {
  const f = new Uint8Array(8);
  f[0] = i % 7 === 0 ? 0x01 : 0x02; // control and chunk frames alike
  new DataView(f.buffer).setUint32(2, i);
  return f;
};
const indexOf = (f: Uint8Array): number => new DataView(f.buffer, f.byteOffset, f.byteLength).getUint32(2);

async function until(cond: () => boolean, ms = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('the receiver gets the host frames in the host order over 3 connections with random delays', async () => {
  const { host, receiver } = stripedPair(3, 8);
  const got: number[] = [];
  receiver.onMessage((f) => got.push(indexOf(f)));
  const N = 1000;
  let i = 0;
  // send while the extra connections come up (the switches happen mid-stream), and after
  const burst = async (to: number): Promise<void> => {
    while (i < to) {
      for (let k = 0; k < 50 && i < to; k++) host.send(frame(i++));
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  await burst(N / 2);
  await until(() => host.streams === 3);
  await burst(N);
  await until(() => got.length === N);
  assert.equal(host.streams, 3, 'all three connections in use');
  assert.equal(receiver.streams, 3);
  assert.deepEqual(
    got,
    Array.from({ length: N }, (_, k) => k),
  );
  // no stripe message ever reaches the transfer
  host.close();
});

test('the receiver direction: frames to the host arrive on the primary, in order, and stripe messages stay below', async () => {
  const { host, receiver } = stripedPair(2, 8);
  const got: number[] = [];
  host.onMessage((f) => {
    assert.notEqual(f[0], FRAME_STRIPE);
    got.push(indexOf(f));
  });
  for (let i = 0; i < 200; i++) receiver.send(frame(i));
  await until(() => got.length === 200);
  assert.deepEqual(
    got,
    Array.from({ length: 200 }, (_, k) => k),
  );
  assert.ok((await host.rtt) !== undefined, 'the pings measured a round-trip time');
  host.close();
});

test('the receiver takes at most its limit; the host uses what it got', async () => {
  const { host, receiver } = stripedPair(5, 2);
  const got: number[] = [];
  receiver.onMessage((f) => got.push(indexOf(f)));
  await until(() => host.streams === 2);
  for (let i = 0; i < 100; i++) host.send(frame(i));
  await until(() => got.length === 100);
  assert.equal(host.plan?.streams, 2, 'the host asks no more than the receiver said it takes (its net hint)');
  assert.equal(receiver.streams, 2);
  host.close();
});

test('an extra connection that does not come up is left out; the primary carries on', async () => {
  const { host, receiver } = stripedPair(3, 8, 1, { failAnswer: true });
  const got: number[] = [];
  receiver.onMessage((f) => got.push(indexOf(f)));
  await host.rtt;
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 100; i++) host.send(frame(i));
  await until(() => got.length === 100);
  assert.equal(host.streams, 1);
  host.close();
});

test('malformed stripe messages are refused', () => {
  const enc = (o: unknown): Uint8Array => Uint8Array.from([FRAME_STRIPE, ...Buffer.from(JSON.stringify(o))]);
  assert.deepEqual(parseStripeMessage(enc({ t: 'use', ids: [0, 2] })), { t: 'use', ids: [0, 2] });
  assert.equal(parseStripeMessage(enc({ t: 'use', ids: [1, 2] })), undefined, 'the primary comes first');
  assert.equal(parseStripeMessage(enc({ t: 'use', ids: [0, 2, 2] })), undefined, 'no repeats');
  assert.equal(parseStripeMessage(enc({ t: 'use', ids: [0, 9] })), undefined, 'no id past the limit');
  assert.equal(parseStripeMessage(enc({ t: 'offer', id: 0, sdp: 'x' })), undefined, 'id 0 is the primary');
  assert.equal(parseStripeMessage(enc({ t: 'offer', id: 1, sdp: 'x'.repeat(40_000) })), undefined, 'a bounded description');
  assert.deepEqual(parseStripeMessage(enc({ t: 'offer', id: 1, sdp: 'x', buf: 1e12 })), { t: 'offer', id: 1, sdp: 'x', buf: 16 * 1024 * 1024 });
  assert.equal(parseStripeMessage(Uint8Array.from([FRAME_STRIPE, 0x7b])), undefined);
});

test('a host that uses a connection it never offered ends the channel', async () => {
  const [h, r] = memoryChannelPair();
  const receiver = new StripedChannel(r, { role: 'receiver', connector: connectors(0).receiver, max: 8 });
  let closed = false;
  receiver.onClose(() => (closed = true));
  h.send(Uint8Array.from([FRAME_STRIPE, ...Buffer.from(JSON.stringify({ t: 'use', ids: [0, 3] }))]));
  await until(() => closed);
});

test('a lost extra connection ends the whole channel (its frames in flight are gone)', async () => {
  const { host, receiver, made } = stripedPair(3, 8);
  let hostClosed = false;
  let receiverClosed = false;
  host.onClose(() => (hostClosed = true));
  receiver.onClose(() => (receiverClosed = true));
  await until(() => host.streams === 3 && made.length === 4);
  made[2]!.close();
  await until(() => hostClosed && receiverClosed);
});

test('a whole transfer over 3 connections (sendFile → receiveFile, random delays) is byte-identical', async () => {
  const src = join(dir, 'src.bin');
  const out = join(dir, 'out.bin');
  await randomFile(src, 3 * 1024 * 1024 + 123);
  const { host, receiver } = stripedPair(3, 8, 2);
  const keys = { confirmHost: randomBytes(32), confirmReceiver: randomBytes(32) };
  const fp = { hostFingerprint: 'sha-256 AA', receiverFingerprint: 'sha-256 BB' };
  const tuning = { ...DEFAULT_TUNING, chunkSize: 16 * 1024, ackBytes: 64 * 1024, windowBytes: 512 * 1024 };
  const info = await inspectFile(src);
  const sink = new NodeFileSink(out);
  const link = { peerTimeoutMs: 5000, pingIntervalMs: 500 };
  const [sent, received] = await Promise.all([
    sendFile({ channel: host, ...keys, ...fp }, { file: nodeFileSource(info, await hashFile(src)), tuning, link }),
    receiveFile({ channel: receiver, ...keys, ...fp }, { sink, keyPair: sharedKeyPair(), tuning, link }),
  ]);
  host.close();
  await sink.close();
  assert.equal(sent.sentBytes, info.size);
  assert.equal(received.size, info.size);
  assert.equal(host.streams, 3);
  assert.ok(await sameBytes(src, out), 'byte-identical');
});
