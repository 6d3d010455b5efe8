/**
 * A host that knows the code and runs the real protocol (the product's
 * rendezvous and sendFile on node-datachannel), but sends a set whose
 * manifest it chose: whatever entries the test gives, with a stream of
 * random bytes of `size` (every chunk properly sealed, the stream's SHA-256
 * right). What a malicious sender could make movie-get read.
 *
 *   node dist/test/support/set-host-main.js URL MANIFEST.json SIZE
 *
 * MANIFEST.json: {"entries": [...]} as common/protocol/manifest.ts's Manifest,
 * or {"many": N} for N small folder entries. stdout: {"code":"..."} once the
 * room exists. Exits with the exit code of the error sendFile ended in.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DEFAULT_TUNING } from '../../common/config.js';
import type { Manifest } from '../../common/protocol/manifest.js';
import { sendFile } from '../../peer/transfer/host.js';
import { exitWith, hostSession } from './test-host.js';

const [url, manifestFile, sizeArg] = process.argv.slice(2) as [string, string, string];
const size = Number(sizeArg);
const given = JSON.parse(await readFile(manifestFile, 'utf8')) as Manifest | { many: number };
const manifest: Manifest = 'many' in given ? { entries: Array.from({ length: given.many }, (_, i) => ({ kind: 'dir' as const, path: `d${i}`, mtime: 0 })) } : given;
const stream = randomBytes(size);

await exitWith(async () => {
  const session = await hostSession(url);
  await sendFile(session, {
    file: {
      name: 'set',
      size,
      kind: 'set',
      manifest,
      sha256: createHash('sha256').update(stream).digest('hex'),
      async *chunks(from, chunkSize) {
        if (from >= size) yield new Uint8Array(0);
        for (let at = from; at < size; at += chunkSize) yield await Promise.resolve(stream.subarray(at, Math.min(at + chunkSize, size)));
      },
    },
    tuning: DEFAULT_TUNING,
    link: { lingerMs: 3000 },
  });
});
