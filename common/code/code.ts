/**
 * Transfer codes: `<room>-<word>-<word>-<word>`.
 *
 * The room (common/code/room-id.ts) is chosen by the signaling server and is the
 * only part the server ever sees. The words are a password drawn uniformly
 * from common/code/wordlist.ts with the crypto backend's randomInt; the whole canonical code is
 * the CPace password (common/crypto/pake.ts), so a wrong or guessed code fails the
 * PAKE and the key confirmation instead of connecting.
 */
import { cryptoBackend } from '../crypto/backend.js';
import { ExitCode, MovieShareError } from '../errors.js';
import { ROOM_ALPHABET, ROOM_LENGTH, isValidRoomId } from './room-id.js';
import { WORDS, WORD_SET } from './wordlist.js';

/** Number of secret words in a code. */
export const CODE_WORDS = 3;

export interface ParsedCode {
  /** The room id, lowercase; the only part sent to the signaling server. */
  room: string;
  /** The CODE_WORDS secret words, lowercase, in order. */
  words: string[];
  /** "room-w1-w2-w3", lowercase: the PAKE password (as UTF-8). */
  canonical: string;
}

/** A well-formed example code, used in error messages and help text. */
export const EXAMPLE_CODE = 'k7pq-apple-river-violin';
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
  return [room, ...words].join('-');
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
 * Parses what a person typed or pasted. Forgiving: case-insensitive,
 * surrounding whitespace ignored, any run of spaces, underscores or dashes
 * between parts accepted, and a pasted leading "Code:" label, surrounding
 * quotes or a trailing full stop dropped.
 * Returns the canonical form. Throws MovieShareError(ExitCode.Usage, one
 * sentence) for an empty, truncated, too long or garbled code: a bad room
 * part, the wrong number of words, or an unknown word (named, with the closest
 * list word suggested when exactly one is a single typo away).
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
  if (parts.length === CODE_WORDS && !isValidRoomId(parts[0]) && parts.every((p) => WORD_SET.has(p))) {
    throw usage(`The code is missing its room part (the ${ROOM_LENGTH} characters before the first word); copy the whole code, like ${EXAMPLE}.`);
  }
  if (parts.length < expected) {
    const got = Math.max(0, parts.length - 1);
    throw usage(`The code looks truncated: it has ${got} word${got === 1 ? '' : 's'} after the room instead of ${CODE_WORDS}; copy the whole code, like ${EXAMPLE}.`);
  }
  if (parts.length > expected) {
    throw usage(`The code has ${parts.length - 1} words after the room instead of ${CODE_WORDS}; check that only one code was pasted, like ${EXAMPLE}.`);
  }
  const [room, ...words] = parts as [string, ...string[]];
  if (!isValidRoomId(room)) {
    throw usage(
      `The code's first part ${show(room)} is not a valid room: it must be ${ROOM_LENGTH} characters from "${ROOM_ALPHABET}" (no 0, 1, i, l or o); check the code for typos.`,
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
  return { room, words, canonical: [room, ...words].join('-') };
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
