import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { ROOM_ALPHABET, isValidRoomId } from '../../common/code/room-id.js';
import { WORDS, WORD_INDEX, WORD_SET } from '../../common/code/wordlist.js';
import { CODE_WORDS, EXAMPLE_CODE, checkChar, formatCode, makeCode, parseCode, secretBits, suggestWord, withinOneEdit } from '../../common/code/code.js';
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

test('makeCode: room, check character, CODE_WORDS list words, and round-trips through parseCode', () => {
  for (let i = 0; i < 200; i++) {
    const code = makeCode('k7pq');
    const parts = code.split('-');
    assert.equal(parts.length, 1 + CODE_WORDS);
    assert.match(parts[0]!, /^k7pq[23456789abcdefghjkmnpqrstuvwxyz]$/);
    const words = parts.slice(1);
    for (const w of words) assert.ok(WORD_SET.has(w), w);
    assert.equal(parts[0], `k7pq${checkChar('k7pq', words)}`);
    const p = parseCode(code);
    assert.equal(p.room, 'k7pq', 'the server sees only the 4-character room');
    assert.deepEqual(p.words, words);
    assert.equal(p.canonical, ['k7pq', ...words].join('-'), 'the PAKE password has no check character');
    assert.equal(p.code, code);
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
  assert.equal(EXAMPLE_CODE, 'k7pqp-apple-river-violin');
  assert.equal(parseCode(EXAMPLE_CODE).code, EXAMPLE_CODE);
  assert.equal(parseCode(EXAMPLE_CODE).canonical, 'k7pq-apple-river-violin');
  assert.ok(isValidRoomId(parseCode(EXAMPLE_CODE).room));
  assert.equal(formatCode('k7pq', ['apple', 'river', 'violin']), EXAMPLE_CODE);
});

test('parseCode is forgiving about case, whitespace and separators', () => {
  const canonical = 'k7pq-apple-river-violin';
  const code = 'k7pqp-apple-river-violin';
  const variants = [
    'k7pqp-apple-river-violin',
    'K7PQP-Apple-RIVER-violin',
    '  k7pqp-apple-river-violin\n',
    'k7pqp apple river violin',
    'k7pqp_apple_river_violin',
    'k7pqp--apple---river-violin',
    'k7pqp - apple - river - violin',
    'k7pqp\tapple  river\u00a0violin',
    'k7pqp\u2013apple\u2014river\u2011violin',
    'Code: k7pqp-apple-river-violin',
    '"k7pqp-apple-river-violin"',
    'k7pqp-apple-river-violin.',
    '-k7pqp-apple-river-violin-',
    '\uff4b\uff17\uff50\uff51\uff50-apple-river-violin', // full-width letters/digits (NFKC)
  ];
  for (const v of variants) {
    const p = parseCode(v);
    assert.equal(p.canonical, canonical, JSON.stringify(v));
    assert.equal(p.room, 'k7pq');
    assert.equal(p.code, code);
    assert.deepEqual(p.words, ['apple', 'river', 'violin']);
  }
});

test('parseCode: empty input', () => {
  usageError('', /No code/);
  usageError('   ', /No code/);
  usageError('---', /No code/);
});

test('parseCode: truncated codes', () => {
  usageError('k7pqp', /truncated/, /0 words/);
  usageError('k7pqp-apple', /truncated/, /1 word /);
  usageError('k7pqp-apple-river', /truncated/, /2 words/);
  usageError('k7pqp-apple-river-', /truncated/);
});

test('parseCode: missing room part', () => {
  usageError('apple-river-violin', /missing its room/);
});

test('parseCode: too many words', () => {
  usageError('k7pqp-apple-river-violin-apple', /4 words after the room instead of 3/);
});

test('parseCode: bad room part', () => {
  usageError('k7p-apple-river-violin', /first part "k7p" is not a valid room/, /5 characters/);
  usageError('k0pqp-apple-river-violin', /not a valid room/, /no 0, 1, i, l or o/);
  usageError('k7pq0-apple-river-violin', /not a valid room/, /no 0, 1, i, l or o/);
  usageError('k7pqpr-apple-river-violin', /not a valid room/);
  usageError('k7pq!-apple-river-violin', /not a valid room/);
});

test('parseCode: an old code (a 4-character room, no check character) is refused with a sentence that says so', () => {
  usageError('k7pq-apple-river-violin', /first part "k7pq" has 4 characters instead of 5/, /check character/, /older movie-share/, /k7pqp-apple-river-violin/);
  usageError('K7PQ apple river violin', /has 4 characters instead of 5/);
});

const TYPO = /^The code has a typo: its check character does not match the rest \(nothing was sent\); check it against the code the sender shared\.$/;

/** Some codes: fixed ones and random ones. */
function sampleCodes(n: number): string[] {
  const codes = [EXAMPLE_CODE, formatCode('2222', ['abbey', 'abbey', 'abbey']), formatCode('zzzz', [WORDS[2047]!, WORDS[2047]!, WORDS[2047]!])];
  for (let i = 0; codes.length < n; i++) {
    const room = Array.from({ length: 4 }, (_, k) => ROOM_ALPHABET[(i * 7 + k * 13 + i * k) % ROOM_ALPHABET.length]).join('');
    codes.push(makeCode(room));
  }
  return codes;
}

test('check character: every single substitution in the room part (room or check character) is refused, exhaustively', () => {
  let tried = 0;
  for (const code of sampleCodes(40)) {
    const [roomPart, ...words] = code.split('-') as [string, ...string[]];
    for (let i = 0; i < roomPart.length; i++) {
      for (const c of ROOM_ALPHABET) {
        if (c === roomPart[i]) continue;
        const typo = [roomPart.slice(0, i) + c + roomPart.slice(i + 1), ...words].join('-');
        usageError(typo, TYPO);
        tried++;
      }
    }
  }
  assert.equal(tried, 40 * 5 * 30);
});

test('check character: every transposition of two different characters of the room part is refused, adjacent or not', () => {
  let tried = 0;
  for (const code of sampleCodes(200)) {
    const [roomPart, ...words] = code.split('-') as [string, ...string[]];
    for (let i = 0; i < roomPart.length; i++) {
      for (let j = i + 1; j < roomPart.length; j++) {
        if (roomPart[i] === roomPart[j]) continue;
        const t = [...roomPart];
        [t[i], t[j]] = [t[j]!, t[i]!];
        usageError([t.join(''), ...words].join('-'), TYPO);
        tried++;
      }
    }
  }
  assert.ok(tried > 1500, `${tried}`);
});

test('check character: a word replaced by another list word, or two words swapped, is refused about 30 times in 31', () => {
  const rnd = (n: number): number => Math.floor(Math.random() * n);
  let caught = 0;
  let total = 0;
  let swapsCaught = 0;
  let swaps = 0;
  for (const code of sampleCodes(2000)) {
    const { room, words } = parseCode(code);
    const w = [...words];
    const k = rnd(3);
    let other = WORDS[rnd(WORDS.length)]!;
    while (other === w[k]) other = WORDS[rnd(WORDS.length)]!;
    w[k] = other;
    total++;
    if (!accepts(`${code.split('-')[0]}-${w.join('-')}`)) caught++;
    if (words[0] !== words[1]) {
      swaps++;
      if (!accepts(`${code.split('-')[0]}-${[words[1], words[0], words[2]].join('-')}`)) swapsCaught++;
    }
    void room;
  }
  assert.ok(caught / total > 0.93, `${caught}/${total} word substitutions caught`);
  assert.ok(swapsCaught / swaps > 0.93, `${swapsCaught}/${swaps} word swaps caught`);
});

test('check character: a typo in a word is refused as an unknown word, and the check is not reached', () => {
  // one substitution in a word never makes another list word (the wordlist test), so it is always caught
  for (const code of sampleCodes(50)) {
    const [roomPart, ...words] = code.split('-') as [string, ...string[]];
    for (let i = 0; i < words[1]!.length; i++) {
      for (const c of 'abcdefghijklmnopqrstuvwxyz') {
        if (c === words[1]![i]) continue;
        const typo = [roomPart, words[0], words[1]!.slice(0, i) + c + words[1]!.slice(i + 1), words[2]].join('-');
        usageError(typo, /second word/, /is not a code word/);
      }
    }
  }
});

test('checkChar: from ROOM_ALPHABET, deterministic, and a caller bug throws', () => {
  assert.equal(checkChar('k7pq', ['apple', 'river', 'violin']), 'p');
  assert.equal(checkChar('k7pq', ['apple', 'river', 'violin']), checkChar('k7pq', ['apple', 'river', 'violin']));
  for (const code of sampleCodes(20)) assert.ok(ROOM_ALPHABET.includes(code[4]!), code);
  assert.throws(() => checkChar('k7p', ['apple', 'river', 'violin']), TypeError);
  assert.throws(() => checkChar('k7pq', ['apple', 'river', 'vi0lin']), TypeError);
});

function accepts(code: string): boolean {
  try {
    parseCode(code);
    return true;
  } catch (e) {
    assert.ok(e instanceof MovieShareError && e.exitCode === ExitCode.Usage);
    return false;
  }
}

test('parseCode: unknown word names the word and suggests a unique close match', () => {
  usageError('k7pqp-applle-river-violin', /first word/, /"applle"/, /did you mean "apple"\?/);
  usageError('k7pqp-appel-river-violin', /first word/, /did you mean "apple"\?/); // transposition
  // "aple" is one edit from apple, axle and maple: no guess, just the word.
  usageError('k7pqp-aple-river-violin', /first word/, /"aple"/, /check the code for typos/);
  usageError('k7pqp-apple-rivre-violin', /second word/, /"rivre"/, /did you mean "river"\?/); // transposition
  usageError('k7pqp-apple-river-violim', /third word/, /"violim"/, /did you mean "violin"\?/);
  usageError('k7pqp-apple-river-zzzzzz', /third word/, /"zzzzzz"/, /check the code for typos/);
  usageError('k7pqp-apple-river-vi0lin', /third word/, /"vi0lin"/);
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
