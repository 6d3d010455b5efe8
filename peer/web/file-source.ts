/**
 * The page's FileSource (peer/transfer/files.ts): a File the user picked or
 * dropped, read in 1 MiB blocks (one block ahead) with `Blob.slice`, so a
 * large file is never held whole in the page. Its SHA-256 (which the key
 * message carries) is computed first, in a pass of its own, while the page
 * already shows the code and waits for the receiver.
 */
import { bytesToHex } from '../../common/bytes.js';
import { cryptoBackend } from '../../common/crypto/backend.js';
import type { FileSource } from '../transfer/files.js';

const BLOCK = 1024 * 1024;

const readBlock = async (file: Blob, at: number, len: number): Promise<Uint8Array> => new Uint8Array(await file.slice(at, Math.min(file.size, at + len)).arrayBuffer());

/** The blocks of `file` from `from` on, each `len` bytes (the last one shorter), the next read while this one is used. */
async function* blocks(file: Blob, from: number, len: number): AsyncGenerator<Uint8Array> {
  let next = from < file.size ? readBlock(file, from, len) : undefined;
  for (let at = from; next; at += len) {
    const block = await next;
    next = at + len < file.size ? readBlock(file, at + len, len) : undefined;
    yield block;
  }
}

/** SHA-256 of the whole file (hex); `onBytes` reports how far it got. */
export async function hashBlob(file: Blob, onBytes?: (n: number) => void): Promise<string> {
  const h = cryptoBackend().sha256();
  let n = 0;
  for await (const b of blocks(file, 0, BLOCK)) {
    h.update(b);
    onBytes?.((n += b.length));
  }
  return bytesToHex(h.digest());
}

export function browserFileSource(file: File, sha256: Promise<string>): FileSource {
  return {
    name: file.name,
    size: file.size,
    sha256,
    async *chunks(from, chunkSize) {
      if (from >= file.size) {
        yield new Uint8Array(0);
        return;
      }
      // blocks of whole chunks, so no slice straddles two blocks
      const len = Math.max(chunkSize, Math.floor(BLOCK / chunkSize) * chunkSize);
      for await (const block of blocks(file, from, len)) {
        for (let at = 0; at < block.length; at += chunkSize) yield block.subarray(at, Math.min(at + chunkSize, block.length));
      }
    },
  };
}
