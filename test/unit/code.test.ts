import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { isValidRoomId } from '../../common/code/room-id.js';
import { WORDS, WORD_INDEX, WORD_SET } from '../../common/code/wordlist.js';
import { CODE_WORDS, EXAMPLE_CODE, makeCode, parseCode, secretBits, suggestWord, withinOneEdit } from '../../common/code/code.js';
import '../support/node-crypto.js';

function usageError(input: string, ...fragments: RegExp[]): void {
  assert.throws(
    () => parseCode(input),
    (e: unknown) => {
      assert.ok(e instanceof MovieShareError, `expected MovieShareError for ${JSON.stringify(input)}`);
      assert.equal(e.exitCode, ExitCode.Usage);
      assert.equal(e.exitCode, 2);
      assert.doesNotMatch(e.message, /\n/, 'one sentence, one line');
      for (const f of fragments) assert.match(e.message, f);
      return true;
    },
  );
}

test('wordlist: 2048 distinct lowercase a-z words of 3-7 letters, sorted', () => {
  assert.equal(WORDS.length, 2048);
  assert.equal(new Set(WORDS).size, WORDS.length);
  assert.equal(WORD_SET.size, WORDS.length);
  for (const w of WORDS) assert.match(w, /^[a-z]{3,7}$/);
  assert.deepEqual([...WORDS].sort(), WORDS);
  assert.ok(Object.isFrozen(WORDS));
  WORDS.forEach((w, i) => assert.equal(WORD_INDEX.get(w), i));
});

test('wordlist: no two words within one edit of each other', () => {
  const byLen = new Map<number, string[]>();
  for (const w of WORDS) byLen.set(w.length, [...(byLen.get(w.length) ?? []), w]);
  const close: string[] = [];
  for (const a of WORDS) {
    for (const len of [a.length, a.length + 1]) {
      for (const b of byLen.get(len) ?? []) {
        if (b !== a && (len > a.length || a < b) && withinOneEdit(a, b)) close.push(`${a}/${b}`);
      }
    }
  }
  assert.deepEqual(close, []);
});

test('at least 30 bits of secret (33 with 3 words of 2048)', () => {
  assert.equal(CODE_WORDS, 3);
  assert.ok(secretBits() >= 30);
  assert.equal(secretBits(), 33);
});

test('makeCode: room plus CODE_WORDS list words, and round-trips through parseCode', () => {
  for (let i = 0; i < 200; i++) {
    const code = makeCode('k7pq');
    const parts = code.split('-');
    assert.equal(parts.length, 1 + CODE_WORDS);
    assert.equal(parts[0], 'k7pq');
    for (const w of parts.slice(1)) assert.ok(WORD_SET.has(w), w);
    const p = parseCode(code);
    assert.equal(p.room, 'k7pq');
    assert.deepEqual(p.words, parts.slice(1));
    assert.equal(p.canonical, code);
  }
});

test('makeCode: words vary (randomness smoke test)', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) seen.add(makeCode('abcd'));
  assert.ok(seen.size > 45);
});

test('makeCode rejects an invalid room id', () => {
  assert.throws(() => makeCode('ABCD'), MovieShareError);
  assert.throws(() => makeCode('abc'), MovieShareError);
  assert.throws(() => makeCode('a0cd'), MovieShareError);
});

test('EXAMPLE_CODE is a valid code', () => {
  assert.equal(parseCode(EXAMPLE_CODE).canonical, EXAMPLE_CODE);
  assert.ok(isValidRoomId(EXAMPLE_CODE.split('-')[0]));
});

test('parseCode is forgiving about case, whitespace and separators', () => {
  const canonical = 'k7pq-apple-river-violin';
  const variants = [
    'k7pq-apple-river-violin',
    'K7PQ-Apple-RIVER-violin',
    '  k7pq-apple-river-violin\n',
    'k7pq apple river violin',
    'k7pq_apple_river_violin',
    'k7pq--apple---river-violin',
    'k7pq - apple - river - violin',
    'k7pq\tapple  river\u00a0violin',
    'k7pq\u2013apple\u2014river\u2011violin',
    'Code: k7pq-apple-river-violin',
    '"k7pq-apple-river-violin"',
    'k7pq-apple-river-violin.',
    '-k7pq-apple-river-violin-',
    '\uff4b\uff17\uff50\uff51-apple-river-violin', // full-width letters/digits (NFKC)
  ];
  for (const v of variants) {
    const p = parseCode(v);
    assert.equal(p.canonical, canonical, JSON.stringify(v));
    assert.equal(p.room, 'k7pq');
    assert.deepEqual(p.words, ['apple', 'river', 'violin']);
  }
});

test('parseCode: empty input', () => {
  usageError('', /No code/);
  usageError('   ', /No code/);
  usageError('---', /No code/);
});

test('parseCode: truncated codes', () => {
  usageError('k7pq', /truncated/, /0 words/);
  usageError('k7pq-apple', /truncated/, /1 word /);
  usageError('k7pq-apple-river', /truncated/, /2 words/);
  usageError('k7pq-apple-river-', /truncated/);
});

test('parseCode: missing room part', () => {
  usageError('apple-river-violin', /missing its room/);
});

test('parseCode: too many words', () => {
  usageError('k7pq-apple-river-violin-apple', /4 words after the room instead of 3/);
});

test('parseCode: bad room part', () => {
  usageError('k7p-apple-river-violin', /first part "k7p" is not a valid room/);
  usageError('k0pq-apple-river-violin', /not a valid room/, /no 0, 1, i, l or o/);
  usageError('k7pqr-apple-river-violin', /not a valid room/);
  usageError('k7p!-apple-river-violin', /not a valid room/);
});

test('parseCode: unknown word names the word and suggests a unique close match', () => {
  usageError('k7pq-applle-river-violin', /first word/, /"applle"/, /did you mean "apple"\?/);
  usageError('k7pq-appel-river-violin', /first word/, /did you mean "apple"\?/); // transposition
  // "aple" is one edit from apple, axle and maple: no guess, just the word.
  usageError('k7pq-aple-river-violin', /first word/, /"aple"/, /check the code for typos/);
  usageError('k7pq-apple-rivre-violin', /second word/, /"rivre"/, /did you mean "river"\?/); // transposition
  usageError('k7pq-apple-river-violim', /third word/, /"violim"/, /did you mean "violin"\?/);
  usageError('k7pq-apple-river-zzzzzz', /third word/, /"zzzzzz"/, /check the code for typos/);
  usageError('k7pq-apple-river-vi0lin', /third word/, /"vi0lin"/);
});

test('suggestWord: only a unique single-edit neighbour is suggested', () => {
  assert.equal(suggestWord('applle'), 'apple');
  assert.equal(suggestWord('aple'), undefined); // apple, axle, maple
  assert.equal(suggestWord('applee'), 'apple');
  assert.equal(suggestWord('zzzzzzz'), undefined);
  // A string one edit away from two list words gets no suggestion.
  let ambiguous: string | undefined;
  outer: for (const w of WORDS) {
    for (let i = 0; i < w.length; i++) {
      for (const c of 'abcdefghijklmnopqrstuvwxyz') {
        const t = w.slice(0, i) + c + w.slice(i + 1);
        if (!WORD_SET.has(t) && WORDS.filter((x) => withinOneEdit(t, x)).length > 1) {
          ambiguous = t;
          break outer;
        }
      }
    }
  }
  assert.ok(ambiguous !== undefined);
  assert.equal(suggestWord(ambiguous), undefined);
});

test('withinOneEdit', () => {
  assert.ok(withinOneEdit('cat', 'cat'));
  assert.ok(withinOneEdit('cat', 'cut'));
  assert.ok(withinOneEdit('cat', 'cart'));
  assert.ok(withinOneEdit('cart', 'cat'));
  assert.ok(withinOneEdit('cat', 'act'));
  assert.ok(!withinOneEdit('cat', 'dog'));
  assert.ok(!withinOneEdit('cat', 'tac'));
  assert.ok(!withinOneEdit('cat', 'catch'));
  assert.ok(!withinOneEdit('abcd', 'badc'));
});
