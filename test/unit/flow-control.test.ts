/** The backpressure loop: credits from the receiver and the channel's buffer both gate the sender. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowControl } from '../../peer/transfer/flow-control.js';
import type { MessageChannel } from '../../peer/transfer/channel.js';
import '../support/node-crypto.js';

function fakeChannel(): MessageChannel & { buffered: number; drain(): void } {
  let waiters: (() => void)[] = [];
  return {
    maxMessageSize: 65536,
    buffered: 0,
    send() {},
    bufferedAmount() {
      return this.buffered;
    },
    drained() {
      return new Promise((r) => waiters.push(r));
    },
    drain() {
      this.buffered = 0;
      const w = waiters;
      waiters = [];
      for (const r of w) r();
    },
    onMessage() {},
    onClose() {},
    close() {},
  };
}

const tick = () => new Promise((r) => setImmediate(r));

test('the sender waits for credit when the receiver has not written enough', async () => {
  const ch = fakeChannel();
  const fc = new FlowControl(ch, { highWaterMark: 1000, windowBytes: 100 });
  let ready = false;
  await fc.ready(100);
  const p = fc.ready(150).then(() => (ready = true));
  await tick();
  assert.equal(ready, false, 'blocked beyond the window');
  fc.ack(40);
  await tick();
  assert.equal(ready, false, 'still beyond the window');
  fc.ack(60);
  await p;
  assert.equal(ready, true);
});

test('the sender waits for the channel to drain past the high-water mark', async () => {
  const ch = fakeChannel();
  const fc = new FlowControl(ch, { highWaterMark: 1000, windowBytes: 1e9 });
  ch.buffered = 5000;
  let ready = false;
  const p = fc.ready(10).then(() => (ready = true));
  await tick();
  assert.equal(ready, false);
  ch.drain();
  await p;
  assert.equal(ready, true);
});

test('credit counts bytes of this run, whatever the file offsets (a resume, a seek)', async () => {
  const fc = new FlowControl(fakeChannel(), { highWaterMark: 1000, windowBytes: 100 });
  await fc.ready(100);
  fc.ack(5_000_000_000);
  await fc.ready(5_000_000_100);
  assert.equal(fc.ackedBytes, 5_000_000_000);
});
