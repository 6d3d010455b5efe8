/**
 * The key per-address limits count against (signaling/server/limits.ts):
 * IPv4 as is, IPv4-mapped IPv6 as IPv4, any other IPv6 address as its /64.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addrKey } from '../../signaling/server/limits.js';

test('IPv4 addresses are their own key', () => {
  assert.equal(addrKey('192.0.2.7'), '192.0.2.7');
  assert.equal(addrKey(' 192.0.2.7 '), '192.0.2.7');
});

test('IPv4-mapped IPv6 addresses count as the IPv4 address', () => {
  assert.equal(addrKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(addrKey('::FFFF:c000:0207'), '192.0.2.7');
  assert.equal(addrKey('0:0:0:0:0:ffff:192.0.2.7'), '192.0.2.7');
});

test('IPv6 addresses count per /64, whatever their spelling', () => {
  const k = '2001:db8:1:2::/64';
  for (const a of ['2001:db8:1:2::1', '2001:DB8:1:2:ffff:ffff:ffff:ffff', '2001:0db8:0001:0002:0:0:0:9', '[2001:db8:1:2::5]', '2001:db8:1:2::1%eth0']) {
    assert.equal(addrKey(a), k, a);
  }
  assert.equal(addrKey('2001:db8:1:3::1'), '2001:db8:1:3::/64');
  assert.equal(addrKey('::1'), '0:0:0:0::/64');
  assert.equal(addrKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  // IPv4 embedded elsewhere than the mapped prefix is an IPv6 address like any other
  assert.equal(addrKey('64:ff9b::192.0.2.7'), '64:ff9b:0:0::/64');
});

test('anything else is kept (bounded), never thrown on', () => {
  assert.equal(addrKey(undefined), 'unknown');
  assert.equal(addrKey(''), 'unknown');
  assert.equal(addrKey('not an address'), 'not an address');
  assert.equal(addrKey('x'.repeat(500)).length, 64);
});
