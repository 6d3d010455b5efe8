/**
 * Meeting rooms (`meet`), the transitions in signaling/rooms.ts over the
 * in-memory store, with explicit clocks: create or take a slot, replace a
 * slot's holder (connected or away), rejoin, leave and come back, grace
 * periods and the idle TTL, the per-address and global room limits, and the
 * separation of meeting ids from room ids in validation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryRoomStore, RoomManager, type RoomPolicy } from '../../signaling/rooms.js';
import { parseJoin, parseMeet, parseRejoin } from '../../signaling/validate.js';
import { isValidMeetId, isValidRoomId, MEET_ID_LENGTH } from '../../common/code/room-id.js';
import { SIGNAL_PROTOCOL_VERSION as V } from '../../common/protocol/signal-protocol.js';

const T0 = 1_000_000_000;
const POLICY: RoomPolicy = { ttlMs: 60_000, graceMs: 10_000, maxRooms: 100, maxRoomsPerAddr: 0 };
const ID = `m${'a2b3c4d5e6f7'.repeat(2)}xy`;
const ID2 = `m${'z'.repeat(26)}`;

function manager(policy: Partial<RoomPolicy> = {}): { rooms: RoomManager; store: MemoryRoomStore } {
  const store = new MemoryRoomStore();
  return { store, rooms: new RoomManager(store, { ...POLICY, ...policy }) };
}

async function meetOk(rooms: RoomManager, id: string, role: 'host' | 'receiver', sid: string, now = T0, addr?: string) {
  const { result, effects } = await rooms.meet(id, role, sid, now, addr);
  assert.ok(result.ok, `meet ${role} ${sid}: ${JSON.stringify(result)}`);
  return { ...result, effects };
}

test('the ids: a meeting id is m + 26 base32 characters and never a room id', () => {
  assert.equal(ID.length, MEET_ID_LENGTH);
  assert.equal(isValidMeetId(ID), true);
  assert.equal(isValidRoomId(ID), false);
  for (const bad of ['', 'abcd', ID.toUpperCase(), `x${ID.slice(1)}`, ID.slice(0, -1), `${ID}a`, `${ID.slice(0, -1)}1`, `${ID.slice(0, -1)}8`, `${ID.slice(0, -1)}=`, null, 7]) {
    assert.equal(isValidMeetId(bad), false, `not a meeting id: ${String(bad)}`);
  }
  assert.equal(isValidRoomId('k7pq'), true);
  assert.equal(isValidMeetId('k7pq'), false);

  assert.deepEqual(parseMeet({ v: V, room: ID, role: 'host' }), { ok: true, value: { room: ID, role: 'host' } });
  assert.deepEqual(parseMeet({ v: V, room: ID, role: 'receiver' }), { ok: true, value: { room: ID, role: 'receiver' } });
  for (const arg of [
    { v: V, room: 'k7pq', role: 'host' },
    { v: V, room: ID.slice(1), role: 'host' },
    { v: V, room: ID, role: 'guest' },
    { v: V, room: ID },
    { v: V, role: 'host' },
    [ID],
    ID,
  ]) {
    const p = parseMeet(arg);
    assert.ok(!p.ok && p.reason === 'bad-request', `refused: ${JSON.stringify(arg)}`);
  }
  const version = parseMeet({ v: V + 1, room: ID, role: 'host' });
  assert.ok(!version.ok && version.reason === 'version');
  // join never names a meeting room; rejoin serves both kinds
  const j = parseJoin({ v: V, room: ID });
  assert.ok(!j.ok && j.reason === 'not-found');
  assert.deepEqual(parseRejoin({ v: V, room: ID, token: 't' }), { ok: true, value: { room: ID, token: 't' } });
  assert.deepEqual(parseRejoin({ v: V, room: 'k7pq', token: 't' }), { ok: true, value: { room: 'k7pq', token: 't' } });
});

test('host first: creates the room; the receiver takes its slot, the host hears peer-joined; any kind relays both ways', async () => {
  const { rooms } = manager();
  const h = await meetOk(rooms, ID, 'host', 'H');
  assert.equal(h.created, true);
  assert.equal(h.peerPresent, false);
  assert.deepEqual(h.effects, []);
  assert.deepEqual(await rooms.relayTarget(ID, 'H', T0, 'sdp'), { ok: true, to: null }, 'held while alone');

  const r = await meetOk(rooms, ID, 'receiver', 'R', T0 + 1);
  assert.equal(r.created, false);
  assert.equal(r.peerPresent, true);
  assert.deepEqual(r.effects, [{ to: 'H', event: 'peer-joined' }]);
  assert.notEqual(r.token, h.token);
  for (const kind of ['pake', 'pake', 'sdp', 'candidate', 'bye'] as const) {
    assert.deepEqual(await rooms.relayTarget(ID, 'R', T0 + 2, kind), { ok: true, to: 'H' });
    assert.deepEqual(await rooms.relayTarget(ID, 'H', T0 + 2, kind), { ok: true, to: 'R' });
  }
  assert.ok(await rooms.isMember(ID, 'H'));
  assert.ok(await rooms.isMember(ID, 'R'));
  assert.deepEqual(await rooms.relayTarget(ID, 'X', T0 + 2), { ok: false, reason: 'not-in-room', message: 'This connection is not a member of that room.' });
});

test('receiver first: creates the room with an empty host slot; the host takes it', async () => {
  const { rooms, store } = manager();
  const r = await meetOk(rooms, ID, 'receiver', 'R');
  assert.equal(r.created, true);
  assert.equal(r.peerPresent, false);
  const s = await store.get(ID);
  assert.ok(s?.meeting && s.hostLeft);
  assert.equal(await rooms.isMember(ID, 'R'), true);
  assert.deepEqual(await rooms.relayTarget(ID, 'R', T0), { ok: true, to: null });

  const h = await meetOk(rooms, ID, 'host', 'H', T0 + 1);
  assert.equal(h.peerPresent, true);
  assert.deepEqual(h.effects, [{ to: 'R', event: 'peer-joined' }]);
  assert.deepEqual(await rooms.relayTarget(ID, 'R', T0 + 2), { ok: true, to: 'H' });
  assert.deepEqual(await rooms.relayTarget(ID, 'H', T0 + 2), { ok: true, to: 'R' });
});

test('a meet with an occupied role replaces its holder: the old socket is told and is out, its token dead', async () => {
  const { rooms } = manager();
  const h1 = await meetOk(rooms, ID, 'host', 'H1');
  await meetOk(rooms, ID, 'receiver', 'R');
  const h2 = await meetOk(rooms, ID, 'host', 'H2', T0 + 5);
  assert.equal(h2.peerPresent, true);
  assert.deepEqual(h2.effects, [
    { to: 'H1', event: 'signal-error', err: { ok: false, reason: 'not-in-room', message: 'replaced by a newer connection' } },
    { to: 'R', event: 'peer-joined' },
  ]);
  assert.equal(await rooms.isMember(ID, 'H1'), false);
  assert.equal((await rooms.relayTarget(ID, 'H1', T0 + 6)).ok, false);
  assert.deepEqual(await rooms.relayTarget(ID, 'R', T0 + 6), { ok: true, to: 'H2' });
  const old = await rooms.rejoin(ID, h1.token, 'H1b', T0 + 6);
  assert.ok(!old.result.ok && old.result.reason === 'not-found');
  // the displaced socket's own leave or drop changes nothing
  assert.deepEqual(await rooms.depart(ID, 'H1', T0 + 7, true), { effects: [] });
  assert.deepEqual(await rooms.depart(ID, 'H1', T0 + 7, false), { effects: [] });
  assert.deepEqual(await rooms.relayTarget(ID, 'H2', T0 + 7), { ok: true, to: 'R' });
  // the new token rejoins
  const again = await rooms.rejoin(ID, h2.token, 'H2b', T0 + 8);
  assert.deepEqual(again.result, { ok: true, role: 'host', peerPresent: true });
  assert.deepEqual(again.effects, [{ to: 'R', event: 'peer-joined' }]);
});

test('a meet replaces a holder that is away in its grace period (nobody to tell), and the receiver slot the same way', async () => {
  const { rooms } = manager();
  await meetOk(rooms, ID, 'host', 'H');
  const r1 = await meetOk(rooms, ID, 'receiver', 'R1');
  await rooms.depart(ID, 'R1', T0 + 1, false);
  const r2 = await meetOk(rooms, ID, 'receiver', 'R2', T0 + 2);
  assert.deepEqual(r2.effects, [{ to: 'H', event: 'peer-joined' }]);
  const old = await rooms.rejoin(ID, r1.token, 'R1b', T0 + 3);
  assert.ok(!old.result.ok && old.result.reason === 'not-found');
  const r3 = await meetOk(rooms, ID, 'receiver', 'R3', T0 + 4);
  assert.deepEqual(r3.effects, [
    { to: 'R2', event: 'signal-error', err: { ok: false, reason: 'not-in-room', message: 'replaced by a newer connection' } },
    { to: 'H', event: 'peer-joined' },
  ]);
});

test('join and create never reach a meeting room; meet never an ordinary one', async () => {
  const { rooms } = manager();
  await meetOk(rooms, ID, 'host', 'H');
  const j = await rooms.join(ID, 'R', T0);
  assert.ok(!j.result.ok && j.result.reason === 'not-found');
  const c = await rooms.create('H2', T0);
  assert.ok(c.ok);
  assert.ok(isValidRoomId(c.room));
  const m = await rooms.meet(c.room, 'receiver', 'R', T0);
  assert.ok(!m.result.ok && m.result.reason === 'bad-request');
});

test('leave: the other hears a plain peer-left, the slot is free again; the room ends with its last member, unburned', async () => {
  const { rooms, store } = manager();
  await meetOk(rooms, ID, 'host', 'H');
  await meetOk(rooms, ID, 'receiver', 'R');
  assert.deepEqual(await rooms.depart(ID, 'R', T0 + 1, true), { effects: [{ to: 'H', event: 'peer-left' }] });
  assert.equal(await rooms.isMember(ID, 'R'), false);
  assert.deepEqual(await rooms.relayTarget(ID, 'H', T0 + 2), { ok: true, to: null });
  // the receiver comes back (a new connection), and leaves again
  const back = await meetOk(rooms, ID, 'receiver', 'R2', T0 + 3);
  assert.equal(back.peerPresent, true);
  assert.deepEqual(back.effects, [{ to: 'H', event: 'peer-joined' }]);
  assert.deepEqual(await rooms.depart(ID, 'H', T0 + 4, true), { effects: [{ to: 'R2', event: 'peer-left' }] });
  assert.ok(await store.get(ID), 'one member left: the room stays');
  const h2 = await meetOk(rooms, ID, 'host', 'H2', T0 + 5);
  assert.equal(h2.peerPresent, true);
  await rooms.depart(ID, 'H2', T0 + 6, true);
  assert.deepEqual(await rooms.depart(ID, 'R2', T0 + 7, true), { effects: [] });
  assert.equal(await store.get(ID), null, 'both left: the room is gone');
  assert.equal(await store.tombstoned(ID), false);
  const fresh = await meetOk(rooms, ID, 'receiver', 'R3', T0 + 8);
  assert.equal(fresh.created, true);
});

test('grace periods: a dropped member rejoins in time; one that does not is gone (peer-left); the last one ends the room', async () => {
  const { rooms, store } = manager();
  await meetOk(rooms, ID, 'host', 'H');
  const r = await meetOk(rooms, ID, 'receiver', 'R');
  await rooms.depart(ID, 'R', T0 + 1_000, false);
  assert.deepEqual(await rooms.relayTarget(ID, 'H', T0 + 1_001), { ok: true, to: null }, 'held while the receiver is away');
  const back = await rooms.rejoin(ID, r.token, 'R2', T0 + 5_000);
  assert.deepEqual(back.result, { ok: true, role: 'receiver', peerPresent: true });
  assert.deepEqual(back.effects, [{ to: 'H', event: 'peer-joined' }]);

  await rooms.depart(ID, 'R2', T0 + 6_000, false);
  assert.deepEqual(await rooms.sweepOne(ID, T0 + 15_999), { effects: [], ended: null }, 'within the grace period');
  assert.deepEqual(await rooms.sweepOne(ID, T0 + 16_000), { effects: [{ to: 'H', event: 'peer-left' }], ended: null });
  const late = await rooms.rejoin(ID, r.token, 'R3', T0 + 16_001);
  assert.ok(!late.result.ok);

  // the host drops too and does not come back: the room ends; its late rejoin finds nothing
  const h = await store.get(ID);
  assert.ok(h && !h.hostLeft);
  await rooms.depart(ID, 'H', T0 + 20_000, false);
  const away = await rooms.rejoin(ID, h.host.token, 'H2', T0 + 29_999);
  assert.ok(away.result.ok, 'the host rejoins within its grace period');
  await rooms.depart(ID, 'H2', T0 + 30_000, false);
  assert.deepEqual(await rooms.sweepOne(ID, T0 + 40_000), { effects: [], ended: 'members-gone' });
  assert.equal(await store.get(ID), null);
});

test('an ordinary room ends with its host; a meeting room only loses its host', async () => {
  const { rooms, store } = manager();
  await meetOk(rooms, ID, 'host', 'H');
  await meetOk(rooms, ID, 'receiver', 'R');
  await rooms.depart(ID, 'H', T0 + 1, false);
  const swept = await rooms.sweepOne(ID, T0 + 10_001);
  assert.deepEqual(swept, { effects: [{ to: 'R', event: 'peer-left' }], ended: null });
  assert.ok(await store.get(ID));
  assert.deepEqual(await rooms.relayTarget(ID, 'R', T0 + 10_002), { ok: true, to: null });
});

test('idle TTL: a member alone keeps the room alive by signalling; unused, it expires and a later meet starts afresh', async () => {
  const { rooms, store } = manager();
  await meetOk(rooms, ID, 'host', 'H');
  // 40 s later the host, alone, sends something (held for the receiver): that is activity in a meeting room
  assert.deepEqual(await rooms.relayTarget(ID, 'H', T0 + 40_000), { ok: true, to: null });
  for (let i = 0; i < 10 && (await store.get(ID))!.activeAt !== T0 + 40_000; i++) await new Promise((r) => setImmediate(r));
  assert.equal((await store.get(ID))!.activeAt, T0 + 40_000);
  assert.deepEqual(await rooms.sweepOne(ID, T0 + 60_000), { effects: [], ended: null });
  const expired = await rooms.sweepOne(ID, T0 + 100_000);
  assert.equal(expired.ended, 'expired');
  assert.deepEqual(expired.effects, [{ to: 'H', event: 'signal-error', err: { ok: false, reason: 'expired', message: 'The room expired after being idle too long.' } }]);
  assert.equal(await store.get(ID), null);

  // expired but not swept yet: a meet starts the room afresh (the stale member is told it expired)
  await meetOk(rooms, ID2, 'receiver', 'R', T0);
  const fresh = await meetOk(rooms, ID2, 'host', 'H2', T0 + 60_000);
  assert.equal(fresh.peerPresent, false);
  assert.deepEqual(fresh.effects, [{ to: 'R', event: 'signal-error', err: { ok: false, reason: 'expired', message: 'The room expired after being idle too long.' } }]);
  assert.equal(await rooms.isMember(ID2, 'R'), false);
  assert.equal(await rooms.isMember(ID2, 'H2'), true);
});

test('limits: creating a meeting room counts against the address and the server; taking a slot does not', async () => {
  const per = manager({ maxRoomsPerAddr: 1 });
  assert.equal((await meetOk(per.rooms, ID, 'host', 'H', T0, '192.0.2.1')).created, true);
  const second = await per.rooms.meet(ID2, 'host', 'H2', T0, '192.0.2.1');
  assert.ok(!second.result.ok && second.result.reason === 'rate-limited');
  await meetOk(per.rooms, ID, 'receiver', 'R', T0, '192.0.2.1');
  await meetOk(per.rooms, ID2, 'host', 'H3', T0, '192.0.2.2');
  // the address's room ended: its place is free
  await per.rooms.depart(ID, 'H', T0 + 1, true);
  await per.rooms.depart(ID, 'R', T0 + 1, true);
  await meetOk(per.rooms, `m${'q'.repeat(26)}`, 'host', 'H4', T0 + 2, '192.0.2.1');

  const all = manager({ maxRooms: 1 });
  await meetOk(all.rooms, ID, 'host', 'H', T0);
  const full = await all.rooms.meet(ID2, 'host', 'H2', T0);
  assert.ok(!full.result.ok && full.result.reason === 'too-many-rooms');
  await meetOk(all.rooms, ID, 'receiver', 'R', T0);
});

test('two meets racing for an absent room: one creates it, the other takes the other slot', async () => {
  const { rooms } = manager();
  const [a, b] = await Promise.all([rooms.meet(ID, 'host', 'H', T0), rooms.meet(ID, 'receiver', 'R', T0)]);
  assert.ok(a.result.ok && b.result.ok);
  assert.deepEqual([a.result.created, b.result.created].sort(), [false, true]);
  assert.deepEqual(await rooms.relayTarget(ID, 'H', T0), { ok: true, to: 'R' });
  assert.deepEqual(await rooms.relayTarget(ID, 'R', T0), { ok: true, to: 'H' });
});
