/**
 * The staging file of a file the page plays while it arrives: one file in
 * the origin-private file system (OPFS), written and read through a
 * `FileSystemSyncAccessHandle`, which only a dedicated worker may open. Unlike
 * a `FileSystemWritableFileStream` (a swap file, invisible until closed),
 * what it wrote can be read back at once: the player and the receiver's
 * in-order hash read ranges while later ones are still arriving.
 *
 * Bundled on its own (`dist/bin/web/store-worker.js`) and driven by
 * opfs-sink.ts: requests are handled one at a time, in the order they were
 * posted, and each is answered once it is done (a write's answer is the
 * page's `onWritten`, so acks follow the disk).
 */

/** page → worker */
export type StoreRequest = { id: number } & (
  | { op: 'open'; name: string }
  | { op: 'write'; offset: number; bytes: ArrayBuffer }
  | { op: 'read'; offset: number; length: number }
  | { op: 'flush' }
  | { op: 'close' }
  | { op: 'remove' }
);

/** worker → page */
export type StoreReply = { id: number; ok: true; bytes?: ArrayBuffer } | { id: number; ok: false; name: string; message: string };

// The worker's API, typed here: the page's tsconfig has the DOM's types, not the worker's.
interface SyncAccessHandle {
  read(buffer: Uint8Array, options: { at: number }): number;
  write(buffer: Uint8Array, options: { at: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}
interface WorkerScope {
  onmessage: ((ev: { data: StoreRequest }) => void) | null;
  postMessage(message: StoreReply, transfer?: Transferable[]): void;
  navigator: { storage: { getDirectory(): Promise<FileSystemDirectoryHandle> } };
}
const scope = globalThis as unknown as WorkerScope;

let name: string | undefined;
let handle: SyncAccessHandle | undefined;
let queue: Promise<void> = Promise.resolve();

const root = (): Promise<FileSystemDirectoryHandle> => scope.navigator.storage.getDirectory();

function open(): SyncAccessHandle {
  if (!handle) throw new Error('the staging file is not open');
  return handle;
}

async function run(m: StoreRequest): Promise<ArrayBuffer | undefined> {
  switch (m.op) {
    case 'open': {
      name = m.name;
      const file = await (await root()).getFileHandle(m.name, { create: true });
      handle = await (file as unknown as { createSyncAccessHandle(): Promise<SyncAccessHandle> }).createSyncAccessHandle();
      handle.truncate(0);
      return undefined;
    }
    case 'write': {
      const h = open();
      const bytes = new Uint8Array(m.bytes);
      for (let done = 0; done < bytes.length;) {
        const n = h.write(bytes.subarray(done), { at: m.offset + done });
        if (n <= 0) throw new Error('the write made no progress');
        done += n;
      }
      return undefined;
    }
    case 'read': {
      const h = open();
      const bytes = new Uint8Array(m.length);
      for (let done = 0; done < bytes.length;) {
        const n = h.read(bytes.subarray(done), { at: m.offset + done });
        if (n <= 0) throw new Error(`bytes ${m.offset + done}… are not in the staging file`);
        done += n;
      }
      return bytes.buffer;
    }
    case 'flush':
      open().flush();
      return undefined;
    case 'close': {
      const h = open();
      handle = undefined;
      h.flush();
      h.close();
      return undefined;
    }
    case 'remove': {
      handle?.close();
      handle = undefined;
      if (name !== undefined) await (await root()).removeEntry(name).catch(() => undefined);
      return undefined;
    }
  }
}

scope.onmessage = ({ data: m }) => {
  queue = queue.then(async () => {
    try {
      const bytes = await run(m);
      scope.postMessage(bytes ? { id: m.id, ok: true, bytes } : { id: m.id, ok: true }, bytes ? [bytes] : []);
    } catch (e) {
      scope.postMessage({ id: m.id, ok: false, name: (e as Error)?.name ?? 'Error', message: (e as Error)?.message ?? String(e) });
    }
  });
};
