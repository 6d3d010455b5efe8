/** The rendezvous' one queue (peer/rendezvous/inbox.ts): in order per kind, early messages wait, bounded, one failure for all. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Inbox } from '../../peer/rendezvous/inbox.js';

type M = { kind: 'a' | 'b'; n: number };
const overflow = () => new Error('overflow');

test('messages wait for the step that takes their kind, in arrival order; other kinds stay queued', async () => {
  const inbox = new Inbox<M['kind'], M>(8, overflow);
  inbox.push({ kind: 'b', n: 1 });
  inbox.push({ kind: 'a', n: 2 });
  inbox.push({ kind: 'b', n: 3 });
  assert.deepEqual(await inbox.take('a'), { kind: 'a', n: 2 });
  assert.deepEqual(await inbox.take('b'), { kind: 'b', n: 1 });
  const later = inbox.take('a'); // nothing of that kind yet: it waits for the next one
  inbox.push({ kind: 'a', n: 4 });
  assert.deepEqual(await later, { kind: 'a', n: 4 });
  assert.deepEqual(await inbox.take('b'), { kind: 'b', n: 3 });
});

test('two kinds can be awaited at once; two steps waiting for one kind is a bug, refused', async () => {
  const inbox = new Inbox<M['kind'], M>(8, overflow);
  const a = inbox.take('a');
  const b = inbox.take('b');
  await assert.rejects(inbox.take('a'), /two steps wait for a/);
  inbox.push({ kind: 'b', n: 1 });
  inbox.push({ kind: 'a', n: 2 });
  assert.deepEqual(
    [await a, await b],
    [
      { kind: 'a', n: 2 },
      { kind: 'b', n: 1 },
    ],
  );
});

test('bounded: one message more than the bound fails the inbox, and every waiting and later take rejects', async () => {
  const inbox = new Inbox<M['kind'], M>(3, overflow);
  const waiting = inbox.take('a');
  for (let n = 0; n < 3; n++) inbox.push({ kind: 'b', n });
  await assert.doesNotReject(Promise.race([waiting, Promise.resolve()]));
  inbox.push({ kind: 'b', n: 3 });
  await assert.rejects(waiting, /overflow/);
  await assert.rejects(inbox.take('b'), /overflow/, 'the queue is gone with the failure');
  inbox.push({ kind: 'a', n: 9 }); // ignored after the failure
  await assert.rejects(inbox.take('a'), /overflow/);
});

test('fail(e) ends it with e: pending takes reject, later ones too', async () => {
  const inbox = new Inbox<M['kind'], M>(8, overflow);
  const pending = inbox.take('a');
  const boom = new Error('signaling lost');
  inbox.fail(boom);
  inbox.fail(new Error('a second failure is ignored'));
  await assert.rejects(pending, (e) => e === boom);
  await assert.rejects(inbox.take('b'), (e) => e === boom);
});
