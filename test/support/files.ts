/** Temporary folders and random files for tests. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function tempDir(prefix = 'movie-share-test-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A file of `size` random bytes, written in 4 MiB blocks. */
export async function randomFile(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w');
  try {
    const block = randomBytes(Math.min(size, 4 * 1024 * 1024));
    for (let pos = 0; pos < size;) {
      const n = Math.min(block.length, size - pos);
      // vary every block so a misplaced block cannot go unnoticed
      if (block.length >= 4) block.writeUInt32BE(pos >>> 0, 0);
      await fh.write(block, 0, n, pos);
      pos += n;
    }
  } finally {
    await fh.close();
  }
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

export async function sameBytes(a: string, b: string): Promise<boolean> {
  return (await sha256File(a)) === (await sha256File(b));
}

export { readFile };
