/**
 * common/protocol/manifest.ts: a set's manifest parsed from untrusted bytes.
 * Every way a host could aim a write outside the receiver's folder, or make
 * two entries land on one path, is refused with one sentence (exit 3); the
 * stream offsets of the files back to back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { caseConflict, fileAt, MAX_ENTRIES, parseManifest, serializeManifest, streamFiles, type Manifest, type ManifestEntry } from '../../common/protocol/manifest.js';

const H = 'ab'.repeat(32);
const f = (path: string, size = 1): ManifestEntry => ({ kind: 'file', path, size, sha256: H, exec: false, mtime: 1 });
const d = (path: string): ManifestEntry => ({ kind: 'dir', path, mtime: 1 });
const bytes = (entries: ManifestEntry[]): Uint8Array => serializeManifest({ entries });
const total = (entries: ManifestEntry[]): number => entries.reduce((n, e) => n + (e.kind === 'file' ? e.size : 0), 0);

function refused(entries: ManifestEntry[], why: RegExp, size = total(entries)): void {
  assert.throws(
    () => parseManifest(bytes(entries), size),
    (e: unknown) => e instanceof MovieShareError && e.exitCode === ExitCode.Integrity && why.test(e.message) && !e.message.includes('\n'),
    why.source,
  );
}

test('a good manifest round-trips, with the files back to back in order', () => {
  const entries = [d('Show'), d('Show/S1'), f('Show/S1/e1.mkv', 10), f('Show/S1/empty', 0), { ...f('Show/run.sh', 5), exec: true }, d('Show/extras')];
  const m = parseManifest(bytes(entries), 15);
  assert.deepEqual(m.entries, entries);
  const files = streamFiles(m);
  assert.deepEqual(
    files.map((x) => [x.path, x.start]),
    [
      ['Show/S1/e1.mkv', 0],
      ['Show/S1/empty', 10],
      ['Show/run.sh', 10],
    ],
  );
  assert.equal(files[fileAt(files, 0)]!.path, 'Show/S1/e1.mkv');
  assert.equal(files[fileAt(files, 9)]!.path, 'Show/S1/e1.mkv');
  assert.equal(files[fileAt(files, 10)]!.path, 'Show/run.sh', 'an empty file holds no byte');
  assert.equal(files[fileAt(files, 14)]!.path, 'Show/run.sh');
});

test('paths that leave the folder, or cannot be one name on every system, are refused', () => {
  refused([f('/etc/passwd')], /an absolute path/);
  refused([f('a/../../b')], /"\.\." segment/);
  refused([f('..')], /"\.\." segment/);
  refused([f('./a')], /"\." segment/);
  refused([f('a/./b')], /"\." segment/);
  refused([f('')], /an empty path/);
  refused([f('a//b')], /an empty name/);
  refused([f('a/')], /an empty name/);
  refused([f('..\\..\\windows')], /a backslash/);
  refused([f('a\u0000b')], /a control character/);
  refused([f('a\nb')], /a control character/);
  refused([f('evil\u202etxt.exe')], /a control character/);
  refused([f('a:b')], /a character Windows forbids/);
  refused([f('dir/NUL')], /Windows reserves/);
  refused([f('com1.txt')], /Windows reserves/);
  refused([f('trailing.')], /ending in a dot/);
  refused([f('x'.repeat(256))], /longer than 255 bytes/);
  refused([f(`${'a/'.repeat(2100)}b`)], /a path longer than 4096 bytes/);
  refused([f('x'.repeat(65536))], /longer than/);
});

test('two entries on one path are refused: duplicates, a file where a folder must be', () => {
  refused([f('a'), f('a')], /"a" twice/);
  refused([d('a'), d('a')], /"a" twice/);
  refused([f('a'), d('a')], /"a" twice/);
  refused([f('a'), f('a/b')], /inside the file "a"/);
  refused([f('a/b/c'), f('a/b')], /inside the file "a\/b"/);
});

test('names that differ only in case (or normalization) conflict on a case-insensitive target', () => {
  const m: Manifest = { entries: [f('Movie.mkv'), f('movie.MKV')] };
  assert.doesNotThrow(() => parseManifest(serializeManifest(m), 2), 'fine where case matters');
  assert.match(caseConflict(m)!.message, /differ only in case/);
  assert.match(caseConflict({ entries: [f('caf\u00e9'), f('cafe\u0301')] })!.message, /differ only in case/);
  assert.equal(caseConflict({ entries: [f('a'), f('b')] }), undefined);
});

test('sizes must add up to the stream; counts and shapes are bounded', () => {
  refused([f('a', 5)], /add up to 5 bytes, not the 10/, 10);
  refused([f('a', 5), f('b', 50)], /add up to/, 10);
  refused([], /no entries/);
  const many = Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => d(`d${i}`));
  refused(many, /more than 100000 entries/);
  const raw = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
  for (const [o, why] of [
    ['x', /no entries/],
    [{ entries: [{ k: 'f', p: 'a', s: -1, h: H, x: 0, t: 0 }] }, /bad size/],
    [{ entries: [{ k: 'f', p: 'a', s: 1, h: 'zz', x: 0, t: 0 }] }, /bad SHA-256/],
    [{ entries: [{ k: 'f', p: 'a', s: 1, h: H, x: 7, t: 0 }] }, /bad mode/],
    [{ entries: [{ k: 'l', p: 'a', t: 0 }] }, /unknown kind/],
    [{ entries: [{ k: 'd', p: 'a', t: -5 }] }, /bad time/],
    [{ entries: [{ k: 'd', t: 0 }] }, /without a path/],
  ] as [unknown, RegExp][]) {
    assert.throws(
      () => parseManifest(raw(o), 1),
      (e: unknown) => e instanceof MovieShareError && why.test(e.message),
      why.source,
    );
  }
  assert.throws(() => parseManifest(new TextEncoder().encode('{nope'), 0), /not JSON/);
});
