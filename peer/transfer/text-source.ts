/**
 * `movie-share --text`: a short text as the FileSource of a `text` transfer
 * (the key payload says so; the receiver prints it instead of saving it).
 */
import { bytesToHex, utf8 } from '../../common/bytes.js';
import { cryptoBackend } from '../../common/crypto/backend.js';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { MAX_TEXT_BYTES } from '../../common/protocol/messages.js';
import type { FileSource } from './files.js';

/** the name a text is sent under: what a receiver that saves it (-o) may show */
export const TEXT_NAME = 'text.txt';

export function textSource(text: string): FileSource {
  const bytes = utf8(text);
  if (bytes.length > MAX_TEXT_BYTES) {
    throw new MovieShareError(ExitCode.Usage, `The text is ${bytes.length} bytes; at most ${MAX_TEXT_BYTES / 1024} KiB can be sent as a text, so send a longer one as a file.`);
  }
  const hash = cryptoBackend().sha256();
  hash.update(bytes);
  return {
    name: TEXT_NAME,
    size: bytes.length,
    kind: 'text',
    sha256: bytesToHex(hash.digest()),
    chunks(from: number, chunkSize: number): AsyncIterable<Uint8Array> {
      const slices: Uint8Array[] = bytes.length === 0 ? [bytes] : [];
      for (let at = from; at < bytes.length; at += chunkSize) slices.push(bytes.subarray(at, Math.min(at + chunkSize, bytes.length)));
      let i = 0;
      const next = (): Promise<IteratorResult<Uint8Array>> => Promise.resolve(i < slices.length ? { value: slices[i++]!, done: false } : { value: undefined, done: true });
      return { [Symbol.asyncIterator]: () => ({ next }) };
    },
  };
}
