/**
 * The whole-file SHA-256 on the receiver, fed in file order although chunks
 * may arrive out of order (after a seek) or be on disk already (a resume).
 * A chunk that arrives next in order is hashed at once, from memory: the
 * usual case, costing nothing extra. When the hashed prefix reaches chunks
 * that are already written, they are read back from the sink, one run of
 * chunks at a time, until the next chunk that is still missing.
 */
import type { Sha256 } from '../../common/crypto/backend.js';
import type { ChunkSet } from './chunk-set.js';

const READ_BACK_BYTES = 1024 * 1024;

export class OrderedHash {
  /** chunks [0, next) are hashed */
  private next = 0;
  private catchingUp: Promise<void> | undefined;
  private failed: Error | undefined;

  constructor(
    private readonly hash: Sha256,
    /** chunks that are written or being written (the sink reads them back in order of its writes) */
    private readonly present: ChunkSet,
    private readonly chunkSize: number,
    private readonly size: number,
    private readonly read: (offset: number, length: number) => Promise<Uint8Array>,
  ) {}

  /** Chunk `index` (already added to `present`) arrived with `plaintext`. */
  arrived(index: number, plaintext: Uint8Array): void {
    if (this.catchingUp || index !== this.next) {
      this.catchUp();
      return;
    }
    this.hash.update(plaintext);
    this.next++;
    if (this.next < this.present.count && this.present.has(this.next)) this.catchUp();
  }

  /** Hash whatever present chunks follow the hashed prefix (reading them back). */
  catchUp(): void {
    // after a failed read, stay failed: retrying would keep digest() looping forever on a read that always fails
    if (this.failed || this.catchingUp || this.next >= this.present.count || !this.present.has(this.next)) return;
    this.catchingUp = (async () => {
      try {
        while (this.next < this.present.count && this.present.has(this.next)) {
          let end = this.next + 1;
          const maxChunks = Math.max(1, Math.floor(READ_BACK_BYTES / this.chunkSize));
          while (end < this.present.count && end - this.next < maxChunks && this.present.has(end)) end++;
          const from = this.next * this.chunkSize;
          const to = Math.min(end * this.chunkSize, this.size);
          this.hash.update(await this.read(from, to - from));
          this.next = end;
        }
      } catch (e) {
        this.failed = e instanceof Error ? e : new Error(String(e));
      } finally {
        this.catchingUp = undefined;
      }
    })();
  }

  /** Resolves once every chunk is hashed (call when all are present); the digest is then final. */
  async digest(): Promise<Uint8Array> {
    this.catchUp();
    while (this.catchingUp) {
      await this.catchingUp;
      this.catchUp();
    }
    if (this.failed !== undefined) throw this.failed;
    if (this.next < this.present.count) throw new Error('chunks are missing');
    return this.hash.digest();
  }
}
