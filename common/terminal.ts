/**
 * Text from outside (the other peer, the signaling server, a file name) made
 * safe to print on a terminal: a peer's abort message with "\x1b]0;…\x07" in
 * it must not retitle the window, move the cursor, or fake a line.
 *
 * Removed: C0 controls (ESC, BEL, backspace, …), DEL, C1 controls (U+0080 to
 * U+009F: U+009B is a CSI on its own), and the bidirectional overrides and
 * isolates that reorder what is shown. Tab, LF and CR become a space, so the
 * text stays on one line. Every other character, printable Unicode included,
 * is kept.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const BREAKS = /[\t\n\r\u2028\u2029]/g;

export function safeText(s: string): string {
  return s.replace(BREAKS, ' ').replace(UNSAFE, '');
}

/**
 * Several lines of text from outside (a text sent with `movie-share --text`)
 * made safe to print: what safeText removes is removed, but line feeds and
 * tabs stay, and a carriage return (CRLF or alone: it could overwrite a line
 * on screen) becomes a line feed. U+2028 and U+2029 become line feeds too.
 */
export function safeLines(s: string): string {
  return s.replace(/\r\n?|[\u2028\u2029]/g, '\n').replace(UNSAFE, ''); // UNSAFE leaves tab and line feed alone
}
