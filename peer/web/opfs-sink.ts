/**
 * The page's FileSink (peer/transfer/files.ts) for a file it plays while it
 * arrives. Chunks come in any order (the player asks for ranges first) and
 * must be readable as soon as they are written, which the swap file of
 * file-sink.ts cannot do. So the file is staged in the origin-private file
 * system through a dedicated worker (store-worker.ts, a sync access handle),
 * and only once the whole-file SHA-256 matched (commit) does it go where the
 * user chose: copied into the picked file's writable, whose close() makes it
 * appear, or kept where it is and offered for download. An integrity failure
 * (abort) removes the staged file: nothing is saved.
 *
 * Memory stays bounded as in file-sink.ts: chunks handed to write() are
 * copied into one buffer per run of ≤ 1 MiB, transferred to the worker, and
 * reported written (`onWritten`, hence the acks and the host's credit window)
 * only when the worker says it wrote them.
 *
 * After commit, reads (the player's) are served from the final file.
 */
import { ExitCode, MovieShareError } from '../../common/errors.js';
import type { FileSink, IncomingFile } from '../transfer/files.js';
import { stagingName } from './file-sink.js';
import type { StoreReply, StoreRequest } from './store-worker.js';

/** bytes posted to the worker in one write at most */
const BATCH_BYTES = 1024 * 1024;

type Op = StoreRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** Sorted, disjoint [start, end) byte ranges. */
class Ranges {
  private starts: number[] = [];
  private ends: number[] = [];

  add(start: number, end: number): void {
    // the first range that ends at or after `start`
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! < start) lo = mid + 1;
      else hi = mid;
    }
    const i = lo;
    let j = lo;
    let s = start;
    let e = end;
    while (j < this.starts.length && this.starts[j]! <= end) {
      s = Math.min(s, this.starts[j]!);
      e = Math.max(e, this.ends[j]!);
      j++;
    }
    this.starts.splice(i, j - i, s);
    this.ends.splice(i, j - i, e);
  }

  /** how many bytes from `offset` on are in a range */
  from(offset: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.starts.length && this.starts[lo]! <= offset ? this.ends[lo]! - offset : 0;
  }
}

export class OpfsSink implements FileSink {
  readonly failure: Promise<never>;
  private rejectFailure!: (e: MovieShareError) => void;
  private broken = false;
  private readonly name = stagingName();
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly calls = new Map<number, { resolve: (r: ArrayBuffer | undefined) => void; reject: (e: Error) => void }>();
  private pending: { offset: number; bytes: Uint8Array }[] = [];
  private flushScheduled = false;
  /** the bytes handed to write() (a read of them is answered after their write: the worker keeps the order) */
  private readonly given = new Ranges();
  private onWritten: (bytes: number) => void = () => undefined;
  private picked: FileSystemFileHandle | null = null;
  private size = 0;
  private committing: Promise<void> | undefined;
  /** after commit: the verified file, where reads come from */
  private final: File | undefined;
  /** after commit, when the user chose the browser's own storage: the verified file, to download */
  download: FileSystemFileHandle | undefined;

  /** `choose` is asked where the file goes once its name and size are known: a picked file, or null for the browser's storage (then downloaded). */
  constructor(private readonly choose: (file: IncomingFile) => Promise<FileSystemFileHandle | null>) {
    this.failure = new Promise<never>((_, reject) => (this.rejectFailure = reject));
    this.failure.catch(() => undefined);
  }

  async open(file: IncomingFile, onWritten: (bytes: number) => void): Promise<{ have: number[]; notice?: string }> {
    this.picked = await this.choose(file);
    this.size = file.size;
    const worker = new Worker('store-worker.js', { name: 'movie-share store' });
    this.worker = worker;
    worker.onmessage = (ev: MessageEvent<StoreReply>) => {
      const r = ev.data;
      const call = this.calls.get(r.id);
      if (!call) return;
      this.calls.delete(r.id);
      if (r.ok) call.resolve(r.bytes);
      else call.reject(Object.assign(new Error(r.message), { name: r.name }));
    };
    worker.onerror = (ev) => this.fail(new Error(ev.message || 'the storage worker stopped'));
    try {
      await this.call({ op: 'open', name: this.name });
    } catch (e) {
      worker.terminate();
      this.worker = undefined;
      throw new MovieShareError(ExitCode.Other, `The browser would not let this page stage the file (${(e as Error).message}).`);
    }
    this.onWritten = onWritten;
    return { have: [] };
  }

  /** How many bytes from `offset` on (at most `max`) were written and can be read without waiting. */
  available(offset: number, max: number): number {
    if (this.final) return Math.max(0, Math.min(max, this.size - offset));
    return Math.min(max, this.given.from(offset));
  }

  write(offset: number, bytes: Uint8Array): void {
    if (this.broken) return;
    this.given.add(offset, offset + bytes.length);
    this.pending.push({ offset, bytes });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.post());
    }
  }

  /** Posts what write() was given, runs of adjacent chunks copied into one buffer each (the chunks stay the receiver's: it hashes them after write()). */
  private post(): void {
    this.flushScheduled = false;
    const parts = this.pending;
    this.pending = [];
    for (let i = 0; i < parts.length;) {
      const offset = parts[i]!.offset;
      let n = 0;
      let j = i;
      while (j < parts.length && parts[j]!.offset === offset + n && (j === i || n + parts[j]!.bytes.length <= BATCH_BYTES)) n += parts[j++]!.bytes.length;
      const batch = new Uint8Array(n);
      for (let at = 0; i < j; i++) {
        batch.set(parts[i]!.bytes, at);
        at += parts[i]!.bytes.length;
      }
      this.call({ op: 'write', offset, bytes: batch.buffer }, [batch.buffer]).then(
        () => this.onWritten(n),
        (e: unknown) => this.fail(e as Error),
      );
    }
  }

  private call(op: Op, transfer: Transferable[] = []): Promise<ArrayBuffer | undefined> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new Error('the staging file is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      worker.postMessage({ id, ...op }, transfer);
    });
  }

  private fail(e: Error): void {
    if (this.broken) return;
    this.broken = true;
    const full = e.name === 'QuotaExceededError';
    this.rejectFailure(
      new MovieShareError(ExitCode.Other, full ? 'The browser ran out of storage space for this file; free some space and try again.' : `Writing the file failed (${e.message}).`),
    );
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.committing) await this.committing;
    if (this.final) return new Uint8Array(await this.final.slice(offset, offset + length).arrayBuffer());
    this.post(); // what is pending goes first
    return new Uint8Array((await this.call({ op: 'read', offset, length }))!);
  }

  async finish(): Promise<void> {
    this.post();
    await Promise.race([this.call({ op: 'flush' }), this.failure]);
    if (this.broken) await this.failure;
  }

  commit(): Promise<void> {
    this.committing = (async () => {
      await this.call({ op: 'close' });
      this.worker?.terminate();
      this.worker = undefined;
      const root = await navigator.storage.getDirectory();
      const staged = await root.getFileHandle(this.name);
      if (!this.picked) {
        this.download = staged;
        this.final = await staged.getFile();
        return;
      }
      // the picked file's writable is a swap file too: it appears, whole, on close()
      const w = await this.picked.createWritable({ keepExistingData: false });
      try {
        await w.write(await staged.getFile());
        await w.close();
      } catch (e) {
        await w.abort().catch(() => undefined);
        throw new MovieShareError(ExitCode.Other, `Saving the verified file failed (${(e as Error).message}).`);
      }
      this.final = await this.picked.getFile();
      await root.removeEntry(this.name).catch(() => undefined);
    })();
    return this.committing;
  }

  async abort(): Promise<void> {
    this.broken = true;
    this.pending = [];
    this.final = undefined;
    await this.committing?.catch(() => undefined);
    await this.call({ op: 'remove' }).catch(() => undefined);
    this.worker?.terminate();
    this.worker = undefined;
    for (const c of this.calls.values()) c.reject(new Error('the transfer was stopped'));
    this.calls.clear();
    this.download = undefined;
    await (await navigator.storage.getDirectory()).removeEntry(this.name).catch(() => undefined);
  }
}
