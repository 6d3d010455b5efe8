/**
 * Reads the file to send: hashes it (the whole-file SHA-256 the receiver checks), and
 * yields it in chunk-sized slices from any offset with one block of read-ahead,
 * so memory stays bounded whatever the file size.
 */
import { createHash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { ExitCode, MovieShareError, usageError } from '../../common/errors.js';
import type { FileSource } from '../transfer/files.js';

const BLOCK = 1024 * 1024;

export interface FileInfo {
  path: string;
  name: string;
  size: number;
}

export async function inspectFile(path: string): Promise<FileInfo> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw usageError(`No such file: ${path}. Check the path and try again.`);
    if (code === 'EACCES') throw usageError(`Cannot read ${path}: permission denied.`);
    throw usageError(`Cannot read ${path}: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw usageError(`${path} is not a regular file; movie-share sends one file at a time.`);
  return { path, name: basename(path), size: st.size };
}

/** Bytes [offset, offset + length) of an open file, fewer only at its end. */
export async function readAt(fh: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** SHA-256 of the whole file, streamed. */
export async function hashFile(path: string, onBytes?: (n: number) => void): Promise<string> {
  const fh = await openForRead(path);
  try {
    // Two buffers: the next block is read (thread pool) while this one is hashed.
    const h = createHash('sha256');
    const bufs = [Buffer.allocUnsafe(4 * BLOCK), Buffer.allocUnsafe(4 * BLOCK)];
    let pos = 0;
    let which = 0;
    let pending = fh.read(bufs[0]!, 0, bufs[0]!.length, pos);
    for (;;) {
      const { bytesRead, buffer } = await pending;
      if (bytesRead === 0) break;
      pos += bytesRead;
      which ^= 1;
      pending = fh.read(bufs[which]!, 0, bufs[which]!.length, pos);
      h.update(buffer.subarray(0, bytesRead));
      onBytes?.(bytesRead);
    }
    return h.digest('hex');
  } finally {
    await fh.close();
  }
}

async function openForRead(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (e) {
    throw new MovieShareError(ExitCode.Usage, `Cannot open ${path}: ${(e as Error).message}`);
  }
}

/**
 * Slices [from, size) of the file into chunks of `chunkSize` bytes. Each
 * yielded slice is valid until the next iteration step.
 */
export async function* readChunks(path: string, from: number, size: number, chunkSize: number): AsyncGenerator<Buffer> {
  const fh = await openForRead(path);
  try {
    const block = Math.max(chunkSize, Math.floor(BLOCK / chunkSize) * chunkSize);
    let pos = from;
    const readBlock = async (at: number): Promise<Buffer> => {
      const len = Math.min(block, size - at);
      const buf = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await fh.read(buf, got, len - got, at + got);
        if (bytesRead === 0) {
          throw new MovieShareError(ExitCode.Other, 'The file got shorter while it was being sent; send it again when nothing is writing to it.');
        }
        got += bytesRead;
      }
      return buf;
    };
    if (pos >= size) {
      yield Buffer.alloc(0);
      return;
    }
    let pending = readBlock(pos);
    while (pos < size) {
      const buf = await pending;
      const next = pos + buf.length;
      if (next < size) pending = readBlock(next);
      for (let o = 0; o < buf.length; o += chunkSize) yield buf.subarray(o, Math.min(o + chunkSize, buf.length));
      pos = next;
    }
  } finally {
    await fh.close();
  }
}

/** The file as the host's protocol core reads it; `sha256` may still be computing. */
export function nodeFileSource(info: FileInfo, sha256: string | Promise<string>): FileSource {
  return { name: info.name, size: info.size, sha256, chunks: (from, chunkSize) => readChunks(info.path, from, info.size, chunkSize) };
}
