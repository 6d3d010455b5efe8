/**
 * Transfer codes: `<room><check>-<word>-<word>-<word>`, e.g.
 * `k7pqp-apple-river-violin` (room `k7pq`, check character `p`).
 *
 * The room (common/code/room-id.ts) is chosen by the signaling server and is the
 * only part the server ever sees. The words are a password drawn uniformly
 * from common/code/wordlist.ts with the crypto backend's randomInt; the
 * canonical code `room-w1-w2-w3` (without the check character) is the CPace
 * password (common/crypto/pake.ts), so a wrong or guessed code fails the PAKE
 * and the key confirmation instead of connecting.
 *
 * The check character (`checkChar`) is computed here, by the client that makes
 * the code, and checked by `parseCode` before anything is sent: a mistyped room
 * would otherwise join a stranger's room and spend that stranger's code.
 */
import { cryptoBackend } from '../crypto/backend.js';
import { ExitCode, MovieShareError } from '../errors.js';
import { ROOM_ALPHABET, ROOM_LENGTH, isValidRoomId } from './room-id.js';
import { WORDS, WORD_INDEX, WORD_SET } from './wordlist.js';

/** Number of secret words in a code. */
export const CODE_WORDS = 3;

export interface ParsedCode {
  /** The room id, lowercase; the only part sent to the signaling server. */
  room: string;
  /** The CODE_WORDS secret words, lowercase, in order. */
  words: string[];
  /** "room-w1-w2-w3", lowercase, without the check character: the PAKE password (as UTF-8). */
  canonical: string;
  /** "<room><check>-w1-w2-w3": the code as movie-share prints it. */
  code: string;
}

/** The room part of a printed code: the room and its check character. */
export const ROOM_PART_LENGTH = ROOM_LENGTH + 1;

/**
 * The check character of a code, from ROOM_ALPHABET: a weighted sum modulo 31
 * (ISBN-10's construction, over GF(31) instead of GF(11); 31 = ROOM_ALPHABET's size, a prime).
 * The symbols are the room's 4 characters (their index in ROOM_ALPHABET) and
 * then each word's index in WORDS as 3 base-31 digits (2,048 < 31^3): 13
 * symbols d1..d13, and check c = sum(i * di) mod 31, so that
 * sum(i * di) - c == 0 (mod 31) with 14 distinct nonzero weights (1..13, and
 * -1 for c). Because 31 is prime and the weights are distinct and nonzero it
 * catches every single substitution of a room character or of the check
 * character and every transposition of two different symbols (adjacent or
 * not, the check character included); any other change of the room or the
 * words (another list word, two words swapped) goes unnoticed with a chance
 * of about 1 in 31 (test/unit/code.test.ts measures it: ~96.8 % caught). A
 * single typo inside a word never makes another list word
 * (wordlist.ts) and is refused as an unknown word before the check.
 * Throws if `room` is not a room id or a word is not a list word (a caller bug).
 */
export function checkChar(room: string, words: readonly string[]): string {
  if (!isValidRoomId(room)) throw new TypeError('checkChar: not a room id');
  const digits: number[] = [...room].map((c) => ROOM_ALPHABET.indexOf(c));
  const n = ROOM_ALPHABET.length;
  for (const w of words) {
    const i = WORD_INDEX.get(w);
    if (i === undefined) throw new TypeError('checkChar: not a list word');
    digits.push(Math.floor(i / (n * n)), Math.floor(i / n) % n, i % n);
  }
  let sum = 0;
  digits.forEach((d, k) => (sum = (sum + (k + 1) * d) % n));
  return ROOM_ALPHABET[sum]!;
}

/** A well-formed example code, used in error messages and help text. */
export const EXAMPLE_CODE = 'k7pqp-apple-river-violin';
const EXAMPLE = EXAMPLE_CODE;

/**
 * Makes a fresh code for `room`: CODE_WORDS words, each drawn uniformly and
 * independently with the crypto backend's randomInt. Throws if `room` is not a valid room id
 * (that would be a bug in the server or the caller, not a user error).
 */
export function makeCode(room: string): string {
  if (!isValidRoomId(room)) {
    throw new MovieShareError(ExitCode.Other, `The signaling server returned an invalid room id (${JSON.stringify(String(room).slice(0, 40))}); try again or use another server.`);
  }
  const words: string[] = [];
  for (let i = 0; i < CODE_WORDS; i++) words.push(WORDS[cryptoBackend().randomInt(WORDS.length)]!);
  return formatCode(room, words);
}

/** The printed code for a room and its words: `<room><check>-w1-w2-w3` (throws as checkChar does). */
export function formatCode(room: string, words: readonly string[]): string {
  return [room + checkChar(room, words), ...words].join('-');
}

// Separators a person might type or paste between parts: whitespace,
// underscores, ASCII hyphens and the Unicode dashes word processors insert.
const SEPARATORS = /[\s_\-\u2010-\u2015\u2212]+/u;

function usage(msg: string): MovieShareError {
  return new MovieShareError(ExitCode.Usage, msg);
}

function show(s: string): string {
  return JSON.stringify(s.length > 24 ? `${s.slice(0, 24)}…` : s);
}

const ORDINAL = ['first', 'second', 'third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth'];
function ordinal(i: number): string {
  return ORDINAL[i] ?? `#${i + 1}`;
}

/**
 * Parses what a person typed or pasted, and checks it before anything is sent.
 * Forgiving: case-insensitive,
 * surrounding whitespace ignored, any run of spaces, underscores or dashes
 * between parts accepted, and a pasted leading "Code:" label, surrounding
 * quotes or a trailing full stop dropped.
 * Returns the canonical form. Throws MovieShareError(ExitCode.Usage, one
 * sentence) for an empty, truncated, too long or garbled code: a bad room
 * part (a 4-character one: an old code without a check character), the wrong
 * number of words, an unknown word (named, with the closest list word
 * suggested when exactly one is a single typo away), or a check character
 * that does not match the room and words (a typo somewhere).
 */
export function parseCode(input: string): ParsedCode {
  if (typeof input !== 'string') throw usage('No code was given; pass the code that movie-share printed, like ' + EXAMPLE + '.');
  let s = input.normalize('NFKC').trim().toLowerCase();
  // A pasted "Code: ..." line, quotes or a sentence's full stop around it.
  s = s
    .replace(/^code\s*:\s*/u, '')
    .replace(/^["'`\u2018\u201c]+|["'`.\u2019\u201d]+$/gu, '')
    .trim();
  const parts = s.split(SEPARATORS).filter((p) => p.length > 0);
  const expected = 1 + CODE_WORDS;
  if (parts.length === 0) {
    throw usage(`No code was given; pass the code that movie-share printed, like ${EXAMPLE}.`);
  }
  if (parts.length === CODE_WORDS && !isRoomPart(parts[0]) && parts.every((p) => WORD_SET.has(p))) {
    throw usage(`The code is missing its room part (the ${ROOM_PART_LENGTH} characters before the first word); copy the whole code, like ${EXAMPLE}.`);
  }
  if (parts.length < expected) {
    const got = Math.max(0, parts.length - 1);
    throw usage(`The code looks truncated: it has ${got} word${got === 1 ? '' : 's'} after the room instead of ${CODE_WORDS}; copy the whole code, like ${EXAMPLE}.`);
  }
  if (parts.length > expected) {
    throw usage(`The code has ${parts.length - 1} words after the room instead of ${CODE_WORDS}; check that only one code was pasted, like ${EXAMPLE}.`);
  }
  const [roomPart, ...words] = parts as [string, ...string[]];
  if (isRoomId(roomPart)) {
    throw usage(
      `The code's first part ${show(roomPart)} has ${ROOM_LENGTH} characters instead of ${ROOM_PART_LENGTH} (the room and a check character): it lost a character or comes from an older movie-share; copy the whole code, like ${EXAMPLE}.`,
    );
  }
  if (!isRoomPart(roomPart)) {
    throw usage(
      `The code's first part ${show(roomPart)} is not a valid room: it must be ${ROOM_PART_LENGTH} characters from "${ROOM_ALPHABET}" (no 0, 1, i, l or o); check the code for typos.`,
    );
  }
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (WORD_SET.has(w)) continue;
    const guess = suggestWord(w);
    throw usage(
      guess !== undefined
        ? `The ${ordinal(i)} word of the code, ${show(w)}, is not a code word; did you mean "${guess}"?`
        : `The ${ordinal(i)} word of the code, ${show(w)}, is not a code word; check the code for typos.`,
    );
  }
  const room = roomPart.slice(0, ROOM_LENGTH);
  const check = checkChar(room, words);
  if (roomPart[ROOM_LENGTH] !== check) {
    throw usage('The code has a typo: its check character does not match the rest (nothing was sent); check it against the code the sender shared.');
  }
  return { room, words, canonical: [room, ...words].join('-'), code: [roomPart, ...words].join('-') };
}

/** isValidRoomId without its type guard (which would narrow a string that is not one to `never`). */
const isRoomId = (s: string): boolean => isValidRoomId(s);

/** ROOM_PART_LENGTH characters from ROOM_ALPHABET: a room and a check character (not checked here). */
function isRoomPart(s: string | undefined): boolean {
  return s !== undefined && s.length === ROOM_PART_LENGTH && isValidRoomId(s.slice(0, ROOM_LENGTH)) && ROOM_ALPHABET.includes(s[ROOM_LENGTH]!);
}

/** Bits of secret in a code's words: CODE_WORDS * log2(WORDS.length) (33 for 3 words of 2,048). */
export function secretBits(): number {
  return CODE_WORDS * Math.log2(WORDS.length);
}

/**
 * The one list word within a single edit of `word` (substitution, insertion,
 * deletion, or swap of two adjacent letters), or undefined if there is none
 * or more than one.
 */
export function suggestWord(word: string): string | undefined {
  let found: string | undefined;
  for (const w of WORDS) {
    if (withinOneEdit(word, w)) {
      if (found !== undefined) return undefined;
      found = w;
    }
  }
  return found;
}

/** True iff a and b differ by at most one substitution, insertion, deletion or adjacent swap. */
export function withinOneEdit(a: string, b: string): boolean {
  if (a === b) return true;
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > 1) return false;
  if (la === lb) {
    let first = -1;
    let diffs = 0;
    for (let i = 0; i < la; i++) {
      if (a[i] !== b[i]) {
        if (++diffs > 2) return false;
        if (first < 0) first = i;
      }
    }
    if (diffs <= 1) return true;
    // Exactly two differences: an adjacent transposition?
    return a[first] === b[first + 1] && a[first + 1] === b[first] && a.slice(first + 2) === b.slice(first + 2);
  }
  const [short, long] = la < lb ? [a, b] : [b, a];
  let i = 0;
  while (i < short.length && short[i] === long[i]) i++;
  return short.slice(i) === long.slice(i + 1);
}
