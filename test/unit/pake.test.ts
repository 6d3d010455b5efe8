import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ristretto255 } from '@noble/curves/ed25519.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import {
  DSI,
  IDENTITY,
  SHA512_BLOCK_BYTES,
  calculateGenerator,
  generatorString,
  intermediateSessionKey,
  lvCat,
  pakeStart,
  pakeStartWithScalar,
  prependLen,
  scalarFromBytesLE,
  scalarMult,
  scalarMultVfy,
  transcriptIr,
  SID_NONCE_BYTES,
  sessionId,
} from '../../common/crypto/pake.js';
import { sha512 } from '@noble/hashes/sha2.js';
import '../support/node-crypto.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

// ---------------------------------------------------------------------------
// Test vectors copied from draft-irtf-cfrg-cpace-21 (CFRG, 23 April 2026),
// Appendix B.3 "Test vector for CPace using group ristretto255 and hash
// SHA-512" (B.3.1 generator, B.3.2/B.3.3 messages, B.3.4 K, B.3.5 ISK
// initiator/responder, B.3.10 scalar_mult, B.3.11 invalid inputs), and
// Appendix A.1.2 / A.1.4 / A.3.5 (string utilities). movie-share runs CPace
// initiator/responder only, so the symmetric ("parallel") vectors are left out.
// ---------------------------------------------------------------------------
const V = {
  PRS: utf8('Password'),
  CI: hex('0b415f696e69746961746f720b425f726573706f6e646572'), // b'\x0bA_initiator\x0bB_responder'
  sid: hex('7e4b4791d6a8ef019b936c79fb7f2c57'),
  generatorString: hex(`
    11435061636552697374726574746f3235350850617373776f726464
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000180b415f696e69746961746f
    720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f
    2c57`),
  g: '222b6b195fe84b1652badb6f6a3ae3d24341e7306967f0b8115b40d5698c7e56',
  ADa: utf8('ADa'),
  ya: hex('da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08'),
  Ya: 'd6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0eec482b9157',
  ADb: utf8('ADb'),
  yb: hex('d2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d'),
  Yb: '3ea7e0b19560d7c0b0f5734f63b955286dfa8232b5ebe63324e2d9e7433f7258',
  K: '80b69a8a76457ab6a4d7f887a4bf6b55a2f80ac19c333f917a05fc9887c8b40f',
  transcriptIr: `20d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0e
    ec482b915703414461203ea7e0b19560d7c0b0f5734f63b955286dfa
    8232b5ebe63324e2d9e7433f725803414462`,
  ISK_IR: `b69effbf61b51d56401c0f65601abe428de8206feaaf0e32198896dc
    ae7b35cd2b38950a39dfd5d4a79164614c2984f7daa460b588c1e80c
    3fa2068af7900447`,
  // B.3.10 / B.3.11
  s: hex('7cd0e075fa7955ba52c02759a6c90dbbfc10e6d40aea8d283e407d88cf538a05'),
  X: hex('2c3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c'),
  sX: '7c13645fe790a468f62c39beb7388e541d8405d1ade69d1778c5fe3e7f6b600e',
  Y_i1: hex('2b3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c'),
  Y_i2: hex('0000000000000000000000000000000000000000000000000000000000000000'),
};
const norm = (s: string): string => s.replace(/\s+/g, '');

test('draft A.1.2 / A.1.4: prepend_len and lv_cat', () => {
  assert.equal(toHex(prependLen(new Uint8Array(0))), '00');
  assert.equal(toHex(prependLen(utf8('1234'))), '0431323334');
  const r127 = Uint8Array.from({ length: 127 }, (_, i) => i);
  const r128 = Uint8Array.from({ length: 128 }, (_, i) => i);
  assert.equal(toHex(prependLen(r127)), '7f' + toHex(r127));
  assert.equal(toHex(prependLen(r128)), '8001' + toHex(r128));
  assert.equal(toHex(lvCat(utf8('1234'), utf8('5'), new Uint8Array(0), utf8('678'))), '043132333401350003363738');
});

test('draft A.3.5: transcript_ir', () => {
  assert.equal(toHex(transcriptIr(utf8('123'), utf8('PartyA'), utf8('234'), utf8('PartyB'))), '03313233065061727479410332333406506172747942');
  assert.equal(toHex(transcriptIr(utf8('3456'), utf8('PartyA'), utf8('2345'), utf8('PartyB'))), '043334353606506172747941043233343506506172747942');
});

test('draft B.3.1: generator string and generator g', () => {
  const gs = generatorString(DSI, V.PRS, V.CI, V.sid, SHA512_BLOCK_BYTES);
  assert.equal(gs.length, 170);
  assert.equal(toHex(gs), toHex(V.generatorString));
  assert.equal(toHex(calculateGenerator(V.PRS, V.CI, V.sid).toBytes()), V.g);
});

test('draft B.3.2-B.3.4: Ya, Yb and K', () => {
  const g = calculateGenerator(V.PRS, V.CI, V.sid);
  const ya = scalarFromBytesLE(V.ya);
  const yb = scalarFromBytesLE(V.yb);
  assert.equal(toHex(scalarMult(ya, g)), V.Ya);
  assert.equal(toHex(scalarMult(yb, g)), V.Yb);
  assert.equal(toHex(scalarMultVfy(ya, hex(V.Yb))), V.K);
  assert.equal(toHex(scalarMultVfy(yb, hex(V.Ya))), V.K);
});

test('draft B.3.5: ISK for initiator (host) / responder (receiver)', () => {
  const Ya = hex(V.Ya);
  const Yb = hex(V.Yb);
  const K = hex(V.K);
  const tir = transcriptIr(Ya, V.ADa, Yb, V.ADb);
  assert.equal(toHex(tir), norm(V.transcriptIr));
  assert.equal(toHex(intermediateSessionKey(V.sid, K, tir)), norm(V.ISK_IR));
});

test('draft B.3 end to end through pakeStart: messages are Y||AD and both ISKs equal ISK_IR', () => {
  const a = pakeStartWithScalar({ password: V.PRS, role: 'host', sid: V.sid, ci: V.CI, ad: V.ADa }, scalarFromBytesLE(V.ya));
  const b = pakeStartWithScalar({ password: V.PRS, role: 'receiver', sid: V.sid, ci: V.CI, ad: V.ADb }, scalarFromBytesLE(V.yb));
  assert.equal(toHex(a.message), V.Ya + toHex(V.ADa));
  assert.equal(toHex(b.message), V.Yb + toHex(V.ADb));
  assert.equal(toHex(a.finish(b.message)), norm(V.ISK_IR));
  assert.equal(toHex(b.finish(a.message)), norm(V.ISK_IR));
});

test('draft B.3.10 / B.3.11: scalar_mult_vfy valid input, invalid encoding and identity', () => {
  const s = scalarFromBytesLE(V.s);
  assert.equal(toHex(scalarMult(s, ristretto255.Point.fromBytes(V.X))), V.sX);
  assert.equal(toHex(scalarMultVfy(s, V.X)), V.sX);
  assert.deepEqual(scalarMultVfy(s, V.Y_i1), IDENTITY);
  assert.deepEqual(scalarMultVfy(s, V.Y_i2), IDENTITY);
});

// ---------------------------------------------------------------------------
// Protocol behaviour with movie-share's own inputs.
// ---------------------------------------------------------------------------
const pw = (code: string): Uint8Array => utf8(code);
/** fixed nonces, so that two calls give the same sid */
const NONCE_H = new Uint8Array(SID_NONCE_BYTES).fill(1);
const NONCE_R = new Uint8Array(SID_NONCE_BYTES).fill(2);
const sidFor = (room: string, nh = NONCE_H, nr = NONCE_R): Uint8Array => sessionId(room, nh, nr);

function run(pwA: string, pwB: string, sidA = sidFor('k7pq'), sidB = sidFor('k7pq')): { a: Uint8Array; b: Uint8Array } {
  const host = pakeStart({ password: pw(pwA), role: 'host', sid: sidA });
  const recv = pakeStart({ password: pw(pwB), role: 'receiver', sid: sidB });
  // Independent messages: both computed before either finish().
  const b = recv.finish(host.message);
  const a = host.finish(recv.message);
  return { a, b };
}

test('same code: both roles derive the same 64-byte ISK, fresh every run', () => {
  const r1 = run('k7pq-apple-river-violin', 'k7pq-apple-river-violin');
  assert.equal(r1.a.length, 64);
  assert.deepEqual(r1.a, r1.b);
  const r2 = run('k7pq-apple-river-violin', 'k7pq-apple-river-violin');
  assert.deepEqual(r2.a, r2.b);
  assert.notDeepEqual(r1.a, r2.a);
});

test('messages are 32 bytes without ad and differ between runs', () => {
  const m1 = pakeStart({ password: pw('x'), role: 'host', sid: sidFor('k7pq') }).message;
  const m2 = pakeStart({ password: pw('x'), role: 'host', sid: sidFor('k7pq') }).message;
  assert.equal(m1.length, 32);
  assert.notDeepEqual(m1, m2);
});

test('different passwords give different ISKs', () => {
  const r = run('k7pq-apple-river-violin', 'k7pq-apple-river-viola');
  assert.notDeepEqual(r.a, r.b);
});

test('different sid gives different ISKs', () => {
  const r = run('k7pq-apple-river-violin', 'k7pq-apple-river-violin', sidFor('k7pq'), sidFor('k7pr'));
  assert.notDeepEqual(r.a, r.b);
});

test('the sid is made of the room and both nonces, in their roles: any difference gives different ISKs', () => {
  const other = new Uint8Array(SID_NONCE_BYTES).fill(3);
  const sid = sidFor('k7pq');
  assert.equal(sid.length, 64);
  assert.deepEqual(sidFor('k7pq'), sid, 'deterministic');
  for (const [name, s] of [
    ['another room', sidFor('k7pr')],
    ["another host's nonce", sidFor('k7pq', other, NONCE_R)],
    ["another receiver's nonce", sidFor('k7pq', NONCE_H, other)],
    ['the nonces swapped', sidFor('k7pq', NONCE_R, NONCE_H)],
  ] as const) {
    assert.notDeepEqual(s, sid, name);
    const r = run('k7pq-apple-river-violin', 'k7pq-apple-river-violin', sid, s);
    assert.notDeepEqual(r.a, r.b, name);
  }
  // the sid is the SHA-512 of lv_cat(label, room, nonce_host, nonce_receiver)
  assert.deepEqual(sid, sha512(lvCat(utf8('movie-share/v2/sid'), utf8('k7pq'), NONCE_H, NONCE_R)));
  assert.throws(() => sessionId('k7pq', new Uint8Array(16), NONCE_R), RangeError);
  assert.throws(() => sessionId('k7pq', NONCE_H, new Uint8Array(33)), RangeError);
});

test('different ci gives different ISKs; same ci agrees', () => {
  const mk = (role: 'host' | 'receiver', ci: string) => pakeStart({ password: pw('p'), role, sid: sidFor('k7pq'), ci: utf8(ci) });
  const a = mk('host', 'one');
  const b = mk('receiver', 'two');
  assert.notDeepEqual(a.finish(b.message), b.finish(a.message));
  const c = mk('host', 'one');
  const d = mk('receiver', 'one');
  assert.deepEqual(c.finish(d.message), d.finish(c.message));
});

test('both sides in the same role do not agree (roles are bound into the transcript)', () => {
  const a = pakeStart({ password: pw('p'), role: 'host', sid: sidFor('k7pq') });
  const b = pakeStart({ password: pw('p'), role: 'host', sid: sidFor('k7pq') });
  assert.notDeepEqual(a.finish(b.message), b.finish(a.message));
});

test('a modified message (associated data or element) changes the ISK', () => {
  const a = pakeStart({ password: pw('p'), role: 'host', sid: sidFor('k7pq'), ad: utf8('host') });
  const b = pakeStart({ password: pw('p'), role: 'receiver', sid: sidFor('k7pq'), ad: utf8('recv') });
  const tampered = Uint8Array.from(a.message);
  tampered[tampered.length - 1]! ^= 1; // flip a bit of ADa
  assert.notDeepEqual(a.finish(b.message), b.finish(tampered));
});

function assertAuthError(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => e instanceof MovieShareError && e.exitCode === ExitCode.Auth);
}

test('invalid peer elements are rejected with ExitCode.Auth', () => {
  const start = () => pakeStart({ password: pw('p'), role: 'receiver', sid: sidFor('k7pq') });
  assertAuthError(() => start().finish(new Uint8Array(32))); // identity (G.I)
  assertAuthError(() => start().finish(V.Y_i1)); // draft B.3.11 invalid encoding
  assertAuthError(() => start().finish(new Uint8Array(31))); // too short
  assertAuthError(() => start().finish(new Uint8Array(0)));
  assertAuthError(() => start().finish(new Uint8Array(32).fill(0xff))); // non-canonical
  // An encoding that is not canonical: the identity's 0 with the sign bit set.
  const neg0 = new Uint8Array(32);
  neg0[0] = 1;
  assertAuthError(() => start().finish(neg0));
  // Identity element followed by associated data.
  assertAuthError(() => start().finish(new Uint8Array(40)));
});

test('finish() is one-shot', () => {
  const a = pakeStart({ password: pw('p'), role: 'host', sid: sidFor('k7pq') });
  const b = pakeStart({ password: pw('p'), role: 'receiver', sid: sidFor('k7pq') });
  a.finish(b.message);
  assert.throws(() => a.finish(b.message));
});
