/** The pure parts of `movie-get --play`'s server: Range headers, the URL's name, Content-Type. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentType, parseRange } from '../../peer/node/play-server.js';
import { safeFileName } from '../../common/file-name.js';

test('parseRange: single byte ranges, suffixes, open ends, clamping', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-500', 100), { start: 0, end: 99 }, 'a suffix longer than the file is the file');
  assert.deepEqual(parseRange('bytes=50-5000', 100), { start: 50, end: 99 }, 'an end past the file is clamped');
  assert.deepEqual(parseRange('bytes=0-1,2-4', 100), { start: 0, end: 4 }, 'adjacent ranges combine');
});

test('parseRange: the whole file for no header, a malformed one, another unit or several ranges', () => {
  assert.equal(parseRange(undefined, 100), 'whole');
  assert.equal(parseRange('garbage', 100), 'whole');
  assert.equal(parseRange('items=0-1', 100), 'whole');
  assert.equal(parseRange('bytes=0-1,10-20', 100), 'whole');
});

test('parseRange: ranges outside the file are unsatisfiable (416)', () => {
  assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=200-300', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=-0', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable', 'an empty file has no bytes to range over');
});

test('safeFileName: one safe path segment, never empty, hidden, a device name or too long', () => {
  assert.equal(safeFileName('movie.mp4'), 'movie.mp4');
  assert.equal(safeFileName('../../etc/passwd'), 'passwd');
  assert.equal(safeFileName('../evil'), 'evil');
  assert.equal(safeFileName('C:\\Users\\me\\clip.webm'), 'clip.webm');
  assert.equal(safeFileName('a\u0000b\nc\u001b[31m.mkv'), 'abc[31m.mkv');
  assert.equal(safeFileName('x\u202egpj.exe'), 'xgpj.exe', 'no bidirectional override');
  assert.equal(safeFileName(''), 'file');
  assert.equal(safeFileName('dir/'), 'file');
  assert.equal(safeFileName('..'), 'file');
  assert.equal(safeFileName('...'), 'file');
  assert.equal(safeFileName('.bashrc'), 'bashrc', 'a leading dot would hide it');
  assert.equal(safeFileName('name. . '), 'name', 'Windows drops trailing dots and spaces');
  assert.equal(safeFileName('a<b>c:d"e|f?g*h'), 'a_b_c_d_e_f_g_h');
  assert.equal(safeFileName('CON'), '_CON');
  assert.equal(safeFileName('nul.txt'), '_nul.txt');
  assert.equal(safeFileName('com1.tar.gz'), '_com1.tar.gz');
  assert.equal(safeFileName('console.log'), 'console.log');
  assert.equal(safeFileName('x'.repeat(500)).length, 200);
  const long = safeFileName(`${'é'.repeat(300)}.mp4`);
  assert.ok(long.endsWith('.mp4'), 'the extension is kept');
  assert.ok(new TextEncoder().encode(long).length <= 200, 'bounded in bytes, not characters');
});

test('contentType: from the extension, case-insensitive', () => {
  assert.equal(contentType('a.mp4'), 'video/mp4');
  assert.equal(contentType('a.M4V'), 'video/mp4');
  assert.equal(contentType('a.webm'), 'video/webm');
  assert.equal(contentType('a.mkv'), 'video/x-matroska');
  assert.equal(contentType('a.mov'), 'video/quicktime');
  assert.equal(contentType('a.mp3'), 'audio/mpeg');
  assert.equal(contentType('a.txt'), 'application/octet-stream');
  assert.equal(contentType('noext'), 'application/octet-stream');
});
