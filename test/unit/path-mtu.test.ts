/**
 * The MTU choice (peer/rtc/path-mtu.ts): raised only on a link both sides prove
 * they share; 1280 otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseMtu, hintLinks, localLinks, parseNetHint, SAFE_MTU, MAX_MTU, type LinkHint } from '../../peer/rtc/path-mtu.js';

const L = (address: string, prefix: number, mtu: number): LinkHint => ({ address, prefix, mtu });

test('both bound to loopback: the loopback link, capped at 4096', () => {
  const lo = localLinks('127.0.0.1');
  assert.equal(lo.length, 1);
  assert.equal(lo[0]!.address, '127.0.0.1');
  assert.ok(lo[0]!.mtu >= 1500, `lo MTU ${lo[0]!.mtu}`);
  const c = chooseMtu(undefined, lo, lo, false);
  assert.equal(c.mtu, Math.min(MAX_MTU, lo[0]!.mtu));
  assert.match(c.reason, /this machine/);
  // 127.0.0.2 is loopback too, though not listed on `lo`
  assert.equal(localLinks('127.0.0.2')[0]?.prefix, 8);
  assert.equal(chooseMtu(undefined, localLinks('127.0.0.2'), lo, false).mtu, c.mtu);
});

test('one shared Ethernet link: its MTU; jumbo frames: capped at 4096; the smallest of several', () => {
  assert.equal(chooseMtu(undefined, [L('192.168.1.10', 24, 1500)], [L('192.168.1.20', 24, 1500)], false).mtu, 1500);
  assert.equal(chooseMtu(undefined, [L('10.0.0.1', 16, 9000)], [L('10.0.3.7', 16, 9000)], false).mtu, MAX_MTU);
  // a VPN link of 1420 and a LAN of 1500 shared at the same time: ICE may pick either
  const mine = [L('192.168.1.10', 24, 1500), L('10.8.0.2', 24, 1420)];
  const theirs = [L('192.168.1.20', 24, 1500), L('10.8.0.3', 24, 1420)];
  assert.equal(chooseMtu(undefined, mine, theirs, false).mtu, 1420);
  // the other side's smaller MTU on the same link wins
  assert.equal(chooseMtu(undefined, [L('192.168.1.10', 24, 9000)], [L('192.168.1.20', 24, 1500)], false).mtu, 1500);
  // IPv6 on one /64
  assert.equal(chooseMtu(undefined, [L('2001:db8::1', 64, 1500)], [L('2001:db8::2', 64, 1500)], false).mtu, 1500);
});

test('1280 when the path is not provably one link', () => {
  // different subnets: a router in between
  assert.equal(chooseMtu(undefined, [L('192.168.1.10', 24, 1500)], [L('192.168.2.20', 24, 1500)], false).mtu, SAFE_MTU);
  // only one side thinks they share a prefix
  assert.equal(chooseMtu(undefined, [L('10.0.0.1', 8, 1500)], [L('10.1.0.1', 16, 1500)], false).mtu, SAFE_MTU);
  // equal private addresses on two machines (docker0): two networks, not one link
  assert.equal(chooseMtu(undefined, [L('172.17.0.1', 16, 1500)], [L('172.17.0.1', 16, 1500)], false).mtu, SAFE_MTU);
  // a TURN server is configured: a relayed path may be chosen
  assert.equal(chooseMtu(undefined, localLinks('127.0.0.1'), localLinks('127.0.0.1'), true).mtu, SAFE_MTU);
  // the other side told us nothing
  assert.equal(chooseMtu(undefined, localLinks('127.0.0.1'), [], false).mtu, SAFE_MTU);
  // families never match each other
  assert.equal(chooseMtu(undefined, [L('127.0.0.1', 8, 65536)], [L('::1', 128, 65536)], false).mtu, SAFE_MTU);
});

test('an explicit --mtu wins', () => {
  assert.deepEqual(chooseMtu(2048, localLinks('127.0.0.1'), localLinks('127.0.0.1'), false), { mtu: 2048, reason: 'set by --mtu / MOVIE_MTU' });
  assert.equal(chooseMtu(1500, [], [L('192.168.1.20', 24, 1500)], true).mtu, 1500);
});

test('parseNetHint accepts only well-formed hints', () => {
  assert.deepEqual(parseNetHint({ type: 'net', links: [L('10.0.0.1', 24, 1500)] }), { type: 'net', links: [L('10.0.0.1', 24, 1500)] });
  assert.deepEqual(parseNetHint({ type: 'net', links: [] }), { type: 'net', links: [] });
  for (const bad of [
    null,
    { type: 'offer' },
    { type: 'net' },
    { type: 'net', links: 'x' },
    { type: 'net', links: [L('not-an-ip', 24, 1500)] },
    { type: 'net', links: [L('10.0.0.1', 33, 1500)] },
    { type: 'net', links: [L('::1', 129, 1500)] },
    { type: 'net', links: [L('10.0.0.1', 24, 100)] },
    { type: 'net', links: [L('10.0.0.1', 24.5, 1500)] },
    { type: 'net', links: Array.from({ length: 33 }, () => L('10.0.0.1', 24, 1500)) },
  ]) {
    assert.equal(parseNetHint(bad), undefined, JSON.stringify(bad));
  }
});

test('a browser (its net hint lists no links): 1280 at most, even over an explicit --mtu; a smaller --mtu still wins', () => {
  const lo = localLinks('127.0.0.1');
  assert.equal(chooseMtu(undefined, lo, [], false).mtu, SAFE_MTU);
  assert.match(chooseMtu(undefined, lo, [], false).reason, /browser/);
  const capped = chooseMtu(4096, lo, [], false);
  assert.equal(capped.mtu, SAFE_MTU);
  assert.match(capped.reason, /--mtu 4096 capped/);
  assert.equal(chooseMtu(1200, lo, [], false).mtu, 1200);
  // a node peer that lists links still gets what --mtu says
  assert.equal(chooseMtu(4096, lo, lo, false).mtu, 4096);
});

test('behind TURN (--relay-only, or a TURN server configured) the net hint lists no addresses at all; the other side then uses 1280', () => {
  const open = hintLinks({ bindAddress: '127.0.0.1', relayOnly: false, turnConfigured: false });
  assert.deepEqual(open, localLinks('127.0.0.1'));
  assert.ok(open.length > 0, 'without TURN the loopback link is listed');
  for (const [relayOnly, turnConfigured] of [
    [true, true],
    [true, false],
    [false, true],
  ] as const) {
    for (const bindAddress of [undefined, '127.0.0.1']) {
      const links = hintLinks({ bindAddress, relayOnly, turnConfigured });
      assert.deepEqual(links, [], `relayOnly ${relayOnly}, TURN ${turnConfigured}, bind ${bindAddress}`);
      // what the other side chooses from it: the safe MTU, even over its --mtu
      const theirs = chooseMtu(undefined, open, links, false);
      assert.equal(theirs.mtu, SAFE_MTU);
      assert.match(theirs.reason, /lists no links/);
      assert.equal(chooseMtu(4096, open, links, false).mtu, SAFE_MTU);
    }
  }
});
