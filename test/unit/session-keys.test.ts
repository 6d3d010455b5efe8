import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AUTH_FAILURE_SENTENCE, ExitCode, MovieShareError } from '../../common/errors.js';
import { deriveSessionKeys } from '../../common/crypto/session-keys.js';
import { open, seal, sealedSeq } from '../../common/crypto/seal.js';
import { constantTimeEqual, hmacSha256, lengthPrefixed } from '../../common/crypto/mac.js';
import { bytesToHex, fromUtf8 } from '../../common/bytes.js';
import '../support/node-crypto.js';
import { pakeStart, SID_NONCE_BYTES, sessionId } from '../../common/crypto/pake.js';
import { parseCode } from '../../common/code/code.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const isk = (fill: number): Uint8Array => new Uint8Array(64).fill(fill);

async function assertAuth(fn: () => Promise<unknown>): Promise<void> {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof MovieShareError);
    assert.equal(e.exitCode, ExitCode.Auth);
    assert.equal(e.message, AUTH_FAILURE_SENTENCE);
    return true;
  });
}

test('deriveSessionKeys is deterministic and gives 32-byte keys', () => {
  const a = deriveSessionKeys(isk(7));
  const b = deriveSessionKeys(isk(7));
  assert.deepEqual(a, b);
  for (const k of [a.sealHostToReceiver, a.sealReceiverToHost, a.confirmHost, a.confirmReceiver, a.reconnect, a.sameHost]) {
    assert.ok(k instanceof Uint8Array);
    assert.equal(k.length, 32);
  }
  assert.match(a.verification, /^\d{4} \d{4} \d{4}$/);
});

test('deriveSessionKeys: the keys are pairwise distinct, and change with the ISK', () => {
  const a = deriveSessionKeys(isk(7));
  const keys = [a.sealHostToReceiver, a.sealReceiverToHost, a.confirmHost, a.confirmReceiver, a.reconnect, a.sameHost].map((k) => bytesToHex(k));
  assert.equal(new Set(keys).size, 6);
  const c = deriveSessionKeys(isk(8));
  assert.notDeepEqual(c.sealHostToReceiver, a.sealHostToReceiver);
  assert.notDeepEqual(c.confirmHost, a.confirmHost);
  assert.notDeepEqual(c.sameHost, a.sameHost);
  assert.notEqual(c.verification, a.verification);
});

test('deriveSessionKeys rejects a short ISK', () => {
  assert.throws(() => deriveSessionKeys(new Uint8Array(16)));
});

test('after a real PAKE both peers derive identical session keys and verification strings', async () => {
  const code = parseCode('k7pqp-apple-river-violin');
  const sid = sessionId(code.room, randomBytes(SID_NONCE_BYTES), randomBytes(SID_NONCE_BYTES));
  const host = pakeStart({ password: utf8(code.canonical), role: 'host', sid });
  const recv = pakeStart({ password: utf8(code.canonical), role: 'receiver', sid });
  const kh = deriveSessionKeys(host.finish(recv.message));
  const kr = deriveSessionKeys(recv.finish(host.message));
  assert.deepEqual(kh, kr);
  const sealed = await seal(kh.sealHostToReceiver, utf8('v=0 sdp'), utf8('offer|k7pq'), 0);
  assert.equal(new TextDecoder().decode(await open(kr.sealHostToReceiver, sealed, utf8('offer|k7pq'), 0)), 'v=0 sdp');
});

test('wrong code: keys differ and the peer cannot open sealed payloads', async () => {
  const sid = sessionId('k7pq', randomBytes(SID_NONCE_BYTES), randomBytes(SID_NONCE_BYTES));
  const host = pakeStart({ password: utf8('k7pq-apple-river-violin'), role: 'host', sid });
  const recv = pakeStart({ password: utf8('k7pq-apple-river-viola'), role: 'receiver', sid });
  const kh = deriveSessionKeys(host.finish(recv.message));
  const kr = deriveSessionKeys(recv.finish(host.message));
  assert.notEqual(kh.verification, kr.verification);
  const sealed = await seal(kh.sealHostToReceiver, utf8('offer'), utf8('offer'), 0);
  await assertAuth(() => open(kr.sealHostToReceiver, sealed, utf8('offer'), 0));
});

test('seal/open round trip, including empty and large plaintexts', async () => {
  const key = deriveSessionKeys(isk(1)).sealHostToReceiver;
  for (const pt of [new Uint8Array(0), utf8('candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host'), randomBytes(70_000)]) {
    const s = await seal(key, pt, utf8('aad'), 0);
    assert.equal(typeof s, 'string');
    assert.match(s, /^[A-Za-z0-9+/]*={0,2}$/);
    assert.equal(Buffer.from(s, 'base64').length, 4 + 12 + pt.length + 16);
    assert.deepEqual(Buffer.from(await open(key, s, utf8('aad'), 0)), Buffer.from(pt));
  }
});

test('seal uses a fresh nonce every time', async () => {
  const key = deriveSessionKeys(isk(1)).sealHostToReceiver;
  const a = await seal(key, utf8('same'), utf8(''), 0);
  const b = await seal(key, utf8('same'), utf8(''), 0);
  assert.notEqual(a, b);
  assert.notDeepEqual(Buffer.from(a, 'base64').subarray(4, 16), Buffer.from(b, 'base64').subarray(4, 16));
});

test('open: tampering, wrong key, wrong aad, other direction and garbage all fail with ExitCode.Auth', async () => {
  const keys = deriveSessionKeys(isk(2));
  const aad = utf8('answer|k7pq');
  const s = await seal(keys.sealReceiverToHost, utf8('v=0 answer sdp'), aad, 0);
  const raw = Buffer.from(s, 'base64');
  for (let i = 0; i < raw.length; i++) {
    const t = Buffer.from(raw);
    t[i]! ^= 0x01;
    await assertAuth(() => open(keys.sealReceiverToHost, t.toString('base64'), aad, 0));
  }
  await assertAuth(() => open(keys.sealHostToReceiver, s, aad, 0)); // other direction's key
  await assertAuth(() => open(deriveSessionKeys(isk(3)).sealReceiverToHost, s, aad, 0)); // wrong session
  await assertAuth(() => open(keys.sealReceiverToHost, s, utf8('offer|k7pq'), 0)); // wrong aad
  await assertAuth(() => open(keys.sealReceiverToHost, raw.subarray(0, raw.length - 1).toString('base64'), aad, 0)); // truncated
  await assertAuth(() => open(keys.sealReceiverToHost, Buffer.concat([raw, Buffer.of(0)]).toString('base64'), aad, 0)); // extended
  await assertAuth(() => open(keys.sealReceiverToHost, '', aad, 0));
  await assertAuth(() => open(keys.sealReceiverToHost, 'AAAA', aad, 0)); // too short
  await assertAuth(() => open(keys.sealReceiverToHost, Buffer.alloc(32).toString('base64'), aad, 0)); // zero tag
  await assertAuth(() => open(keys.sealReceiverToHost, s + '!', aad, 0)); // not base64
  await assertAuth(() => open(keys.sealReceiverToHost, ' ' + s, aad, 0));
  const padded = await seal(keys.sealReceiverToHost, utf8('xy'), aad, 0); // 34 bytes: base64 ends in '='
  assert.match(padded, /=$/);
  await assertAuth(() => open(keys.sealReceiverToHost, padded.replace(/=+$/, ''), aad, 0)); // padding stripped
  await assertAuth(() => open(keys.sealReceiverToHost, 42 as unknown as string, aad, 0));
});

test('sealed messages are numbered: the number is bound, a replay is recognisable, another place does not open', async () => {
  const key = deriveSessionKeys(isk(4)).sealHostToReceiver;
  const aad = utf8('movie-share signal v2|k7pq|host|candidate');
  const m0 = await seal(key, utf8('first'), aad, 0);
  const m1 = await seal(key, utf8('second'), aad, 1);
  assert.equal(sealedSeq(m0), 0);
  assert.equal(sealedSeq(m1), 1);
  assert.equal(sealedSeq('AAAA'), undefined);
  assert.equal(fromUtf8(await open(key, m0, aad, 0)), 'first');
  assert.equal(fromUtf8(await open(key, m1, aad, 1)), 'second');
  // taken out of order (m1 where 0 is next), or replayed (m0 where 2 is next): does not open
  await assertAuth(() => open(key, m1, aad, 0));
  await assertAuth(() => open(key, m0, aad, 2));
  // the clear number rewritten to the expected one: the AEAD's associated data no longer matches
  const raw = Buffer.from(m1, 'base64');
  raw.writeUInt32BE(0, 0);
  assert.equal(sealedSeq(raw.toString('base64')), 0);
  await assertAuth(() => open(key, raw.toString('base64'), aad, 0));
  await assert.rejects(() => seal(key, utf8('x'), aad, -1), RangeError);
  await assert.rejects(() => seal(key, utf8('x'), aad, 2 ** 32), RangeError);
});

test('seal/open refuse keys that are not 32 bytes', async () => {
  await assert.rejects(() => seal(Buffer.alloc(16), utf8('x'), utf8(''), 0), TypeError);
  await assert.rejects(() => open(Buffer.alloc(16), 'AAAA', utf8(''), 0), TypeError);
});

test('hmacSha256 matches the RFC 4231 test case 2 and concatenates its parts', () => {
  const key = utf8('Jefe');
  const expected = '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843';
  assert.equal(bytesToHex(hmacSha256(key, utf8('what do ya want for nothing?'))), expected);
  assert.equal(bytesToHex(hmacSha256(key, utf8('what do ya '), utf8('want for nothing?'))), expected);
  assert.equal(hmacSha256(key).length, 32);
});

test('constantTimeEqual: equal, unequal, different lengths, not bytes (false, no throw)', () => {
  const a = hmacSha256(utf8('k'), utf8('m'));
  assert.equal(constantTimeEqual(a, Buffer.from(a)), true);
  assert.equal(constantTimeEqual(a, new Uint8Array(a)), true);
  const b = Buffer.from(a);
  b[31]! ^= 1;
  assert.equal(constantTimeEqual(a, b), false);
  assert.equal(constantTimeEqual(a, a.subarray(0, 31)), false);
  assert.equal(constantTimeEqual(a, new Uint8Array(0)), false);
  assert.equal(constantTimeEqual(new Uint8Array(0), new Uint8Array(0)), true);
  assert.equal(constantTimeEqual('abc', 'abc'), false);
});

test('lengthPrefixed: u32 BE length before each part, and unambiguous', () => {
  assert.equal(lengthPrefixed().length, 0);
  assert.equal(bytesToHex(lengthPrefixed(utf8('ab'), new Uint8Array(0), utf8('c'))), '000000026162' + '00000000' + '0000000163');
  const x = lengthPrefixed(utf8('ab'), utf8('c'));
  const y = lengthPrefixed(utf8('a'), utf8('bc'));
  assert.notDeepEqual(x, y);
  assert.notDeepEqual(hmacSha256(utf8('k'), x), hmacSha256(utf8('k'), y));
});

test('key confirmation: host and receiver MACs verify only with the matching key', () => {
  const keys = deriveSessionKeys(isk(9));
  const transcript = lengthPrefixed(utf8('sha-256 AA:BB'), utf8('sha-256 CC:DD'), utf8('rsa-spki'), utf8('enc-key-msg'));
  const tagHost = hmacSha256(keys.confirmHost, transcript);
  const tagRecv = hmacSha256(keys.confirmReceiver, transcript);
  assert.equal(constantTimeEqual(tagHost, hmacSha256(keys.confirmHost, transcript)), true);
  assert.equal(constantTimeEqual(tagHost, tagRecv), false); // a reflected tag is not accepted
  const other = lengthPrefixed(utf8('sha-256 AA:BB'), utf8('sha-256 EE:FF'), utf8('rsa-spki'), utf8('enc-key-msg'));
  assert.equal(constantTimeEqual(tagHost, hmacSha256(keys.confirmHost, other)), false); // swapped fingerprint
});
