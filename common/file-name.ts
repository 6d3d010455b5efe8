/**
 * The host's file name made into one safe path segment, for the receiver's
 * default output (`movie-get CODE` without -o: the current directory, under
 * the sender's name) and the player's URL (`--play`). The host chose the
 * name: it is untrusted metadata, never a path.
 */

/** At most this many UTF-8 bytes: with `.part.json.tmp` appended it stays under the usual 255-byte limit of a name. */
export const MAX_NAME_BYTES = 200;

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** characters Windows does not allow in a name */
const WINDOWS_FORBIDDEN = /[<>:"|?*]/g;
/** names Windows reserves for devices, with any extension */
const WINDOWS_RESERVED = /^(?:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(?:\..*)?$/i;

/**
 * Its last component (after any `/` or `\`), without control characters or
 * bidirectional overrides, the characters Windows forbids (`<>:"|?*`) as `_`,
 * without leading dots (which would hide it) and trailing dots and spaces
 * (which Windows drops), a Windows device name (CON, NUL, COM1…) prefixed
 * with `_`, cut to MAX_NAME_BYTES (keeping a short extension), and `file`
 * when nothing usable is left.
 */
export function safeFileName(name: string): string {
  const base = name.split(/[/\\]/).pop() ?? '';
  let clean = base.replace(CONTROLS, '').replace(WINDOWS_FORBIDDEN, '_').trim();
  clean = clean.replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
  if (clean === '') return 'file';
  if (WINDOWS_RESERVED.test(clean)) clean = `_${clean}`;
  return cutToBytes(clean, MAX_NAME_BYTES);
}

const byteLength = (s: string): number => new TextEncoder().encode(s).length;

/** At most `max` UTF-8 bytes, whole characters only, keeping an extension of up to 16 characters. */
function cutToBytes(name: string, max: number): string {
  if (byteLength(name) <= max) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  const budget = max - byteLength(ext);
  let out = '';
  let bytes = 0;
  for (const ch of name.slice(0, name.length - ext.length)) {
    const n = byteLength(ch);
    if (bytes + n > budget) break;
    out += ch;
    bytes += n;
  }
  return (out.replace(/[.\s]+$/, '') || 'file') + ext;
}
