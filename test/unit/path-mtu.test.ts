/**
 * The MTU choice (peer/rtc/path-mtu.ts): raised only on a link both sides prove
 * they share; 1280 otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseMtu, hintHost, hintLinks, hostValue, localLinks, machineIdentity, parseNetHint, SAFE_MTU, MAX_MTU, type LinkHint } from '../../peer/rtc/path-mtu.js';
import { utf8 } from '../../common/bytes.js';
import { nodePeerFactory } from '../../peer/rtc/node-peer.js';
import { buildRtcConfig } from '../../peer/rtc/ice.js';
import { parsePeerSignal } from '../../peer/rendezvous/handshake.js';

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

// One machine is one machine: two processes on one kernel and network namespace,
// connected over its non-loopback address, prove it with equal keyed host values.
const KEY = new Uint8Array(32).fill(7);
const OTHER_KEY = new Uint8Array(32).fill(8);
/** what each side lists when neither is bound: the same non-loopback address (equal addresses prove no link) */
const LAN = [L('fd00::2', 64, 1500), L('192.168.1.10', 24, 1500)];

test('the host value: a keyed hash of this kernel and network namespace, equal per session, unlinkable across sessions', () => {
  const id = machineIdentity();
  if (process.platform === 'linux') assert.ok(id, 'Linux has /proc/sys/kernel/random/boot_id and /proc/self/ns/net');
  const mine = hostValue(KEY, id);
  assert.equal(hostValue(KEY, id), mine, 'deterministic: both processes on this machine compute the same');
  if (id) {
    assert.match(mine!, /^[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(hostValue(OTHER_KEY, id), mine, 'another session: another value');
    // another kernel (boot id) or another network namespace (a container): another value
    assert.notEqual(hostValue(KEY, Uint8Array.from([...id, 1])), mine);
  }
  assert.equal(hostValue(KEY, undefined), undefined, 'no /proc (not Linux): no host value');
  // behind TURN the hint tells nothing of this machine
  assert.equal(hintHost(KEY, { relayOnly: true, turnConfigured: false }), undefined);
  assert.equal(hintHost(KEY, { relayOnly: false, turnConfigured: true }), undefined);
  assert.equal(hintHost(KEY, { relayOnly: false, turnConfigured: false }), mine, 'otherwise: the value of this machine');
});

test('same host value on both sides: 4096, over the non-loopback address that proves no link', () => {
  const host = hostValue(KEY, utf8('boot|ns'))!;
  assert.equal(chooseMtu(undefined, LAN, LAN, false).mtu, SAFE_MTU, "today's rule without host values");
  const c = chooseMtu(undefined, LAN, LAN, false, { mine: host, theirs: host });
  assert.deepEqual(c, { mtu: MAX_MTU, reason: 'both on this machine (same kernel and network namespace)' });
  // whatever links the two sides list, a shared Ethernet link included (the kernel routes through `lo`)
  assert.equal(chooseMtu(undefined, [L('10.0.0.1', 24, 1500)], [L('10.9.0.1', 24, 1500)], false, { mine: host, theirs: host }).mtu, MAX_MTU);
  assert.equal(chooseMtu(undefined, [L('10.0.0.1', 24, 1500)], [L('10.0.0.2', 24, 1500)], false, { mine: host, theirs: host }).mtu, MAX_MTU);
  // both bound to loopback: the loopback rule says so first (its MTU, capped)
  const lo = localLinks('127.0.0.1');
  assert.deepEqual(chooseMtu(undefined, lo, lo, false, { mine: host, theirs: host }), chooseMtu(undefined, lo, lo, false));
  // an explicit --mtu still wins
  assert.equal(chooseMtu(2048, LAN, LAN, false, { mine: host, theirs: host }).mtu, 2048);
});

test("different, missing or malformed host values: today's rule", () => {
  const a = hostValue(KEY, utf8('boot a|ns'))!;
  const b = hostValue(KEY, utf8('boot b|ns'))!;
  for (const hosts of [{ mine: a, theirs: b }, { mine: a }, { theirs: a }, {}, { mine: a, theirs: 'x' }, { mine: 'x', theirs: 'x' }]) {
    assert.equal(chooseMtu(undefined, LAN, LAN, false, hosts).mtu, SAFE_MTU, JSON.stringify(hosts));
    assert.match(chooseMtu(undefined, LAN, LAN, false, hosts).reason, /no shared link/);
    // a shared link still counts
    assert.equal(chooseMtu(undefined, [L('192.168.1.10', 24, 1500)], [L('192.168.1.20', 24, 1500)], false, hosts).mtu, 1500);
  }
});

test('same host value but a TURN server configured, or a side that lists no links (a page, a side behind TURN): 1280', () => {
  const host = hostValue(KEY, utf8('boot|ns'))!;
  const same = { mine: host, theirs: host };
  assert.equal(chooseMtu(undefined, LAN, LAN, true, same).mtu, SAFE_MTU);
  assert.match(chooseMtu(undefined, LAN, LAN, true, same).reason, /TURN/);
  assert.equal(chooseMtu(undefined, LAN, [], false, same).mtu, SAFE_MTU);
  assert.equal(chooseMtu(4096, LAN, [], false, same).mtu, SAFE_MTU);
});

test('parseNetHint: a host value is 32 bytes of canonical base64, or absent; anything else is refused (exit 4)', () => {
  const host = hostValue(KEY, utf8('boot|ns'))!;
  assert.deepEqual(parseNetHint({ type: 'net', links: LAN, host }), { type: 'net', links: LAN, host });
  assert.deepEqual(parseNetHint({ type: 'net', links: LAN }), { type: 'net', links: LAN });
  for (const bad of [null, 1, true, '', 'x', host.slice(0, 40), `${host}AAAA`, host.replace('=', 'A'), Buffer.alloc(31).toString('base64'), [host], { host }]) {
    assert.equal(parseNetHint({ type: 'net', links: LAN, host: bad }), undefined, JSON.stringify(bad));
  }
});

test("the Node factory: a host value on this machine, none behind TURN; the other side's malformed host value ends the attempt (exit 4)", () => {
  const open = nodePeerFactory(buildRtcConfig({ stun: [], turn: [], relayOnly: false }, []));
  const mine = open.hostValue(KEY);
  assert.equal(mine, hostValue(KEY, machineIdentity()));
  const turn = nodePeerFactory(buildRtcConfig({ stun: [], turn: [{ url: 'turn:127.0.0.1:3478', username: 'u', password: 'p' }], relayOnly: false }, []));
  assert.equal(turn.hostValue(KEY), undefined);
  // the hint as it arrives, through the handshake's parser
  const hint = parsePeerSignal({ type: 'net', links: LAN, host: mine }, 'host');
  assert.ok(hint !== 'ignore' && hint.type === 'net');
  const c = open.chooseMtu(LAN, hint.links, { mine, theirs: hint.host });
  if (mine !== undefined) assert.equal(c?.mtu, MAX_MTU);
  assert.equal(open.chooseMtu(LAN, LAN, { mine, theirs: 'not a host value' }), undefined, 'refused: the handshake throws the authentication error (exit 4)');
  assert.equal(open.chooseMtu(LAN, LAN, { mine, theirs: 42 }), undefined);
  assert.equal(open.chooseMtu(LAN, LAN, { mine })?.mtu, SAFE_MTU, 'no host value from the other side: the link rule');
});
