/** Outside text loses its terminal controls before it is printed (common/terminal.ts, peer/cli/progress.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { safeLines, safeText } from '../../common/terminal.js';
import { jsonLine, printLine, type TextStream } from '../../peer/cli/progress.js';

test('safeText: C0, DEL, C1 and bidi controls removed, line breaks become spaces, printable Unicode kept', () => {
  assert.equal(safeText('abort\x1b]0;pwned\x07 here'), 'abort]0;pwned here');
  assert.equal(safeText('\x1b[2J\u009b31mred\x1b[0m'), '[2J31mred[0m');
  assert.equal(safeText('bell\x07 back\b\bspace nul\x00 del\x7f c1\u0085\u009f'), 'bell backspace nul del c1');
  assert.equal(safeText('one\ntwo\r\nthree\tfour\u2028five'), 'one two  three four five');
  assert.equal(safeText('evil\u202egnp.exe \u2066x\u2069 \u200fy'), 'evilgnp.exe x y');
  const printable = 'Ünïcødé 電影 🎬 — “quotes” ½ ß Ελληνικά עברית العربية';
  assert.equal(safeText(printable), printable);
  assert.equal(safeText(''), '');
});

test('safeLines: controls removed as by safeText, but line feeds and tabs kept; a carriage return becomes a line feed', () => {
  assert.equal(safeLines('one\ntwo\tcols\n'), 'one\ntwo\tcols\n');
  assert.equal(safeLines('a\r\nb\rc\u2028d'), 'a\nb\nc\nd', 'a lone CR cannot overwrite the line on screen');
  assert.equal(safeLines('\u001b]0;title\u0007x\u001b[2J\u009b1m\u202eevil\u007f'), ']0;titlex[2J1mevil');
  assert.equal(safeLines('héllo ✓'), 'héllo ✓');
});

test('printLine: every line it prints is without terminal controls; its own line breaks stay', () => {
  let out = '';
  const stream: TextStream = { write: (t) => ((out += t), true) };
  printLine('movie-get: The other side stopped: x\x1b]0;pwned\x07\u009b2J\ry', stream);
  assert.equal(out, 'movie-get: The other side stopped: x]0;pwned2J y\n');
  out = '';
  printLine('Error: at\n    at f (\x1bfile.js:1)', stream);
  assert.equal(out, 'Error: at\n    at f (file.js:1)\n');
});

test('jsonLine: C1, DEL and bidi controls escaped as \\uXXXX (JSON.stringify leaves them raw); the value reads back the same', () => {
  const v = { event: 'error', message: 'a\x1b]0;pwned\x07\u009b\x7f\u202eb\u2028' };
  const line = jsonLine(v);
  // eslint-disable-next-line no-control-regex -- looking for control characters is the point
  assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u202e\u2028]/);
  assert.deepEqual(JSON.parse(line), v);
});
