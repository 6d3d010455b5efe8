/**
 * A host that knows the code and runs the real protocol (the product's
 * rendezvous and sendFile on node-datachannel), sends the file's real bytes,
 * every chunk properly sealed, but claims a wrong whole-file SHA-256 in its
 * key message: only the receiver's final check can catch it. A process of
 * its own, like rogue-host-main.ts, so no WebRTC stack runs in the test's
 * process.
 *
 *   node dist/test/support/lying-host-main.js URL FILE [MAX_RATE]
 *
 * stdout: {"code":"..."} once the room exists. Exits with the exit code of
 * the error sendFile ended in (the receiver's `abort` carries it), 0 if none.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { DEFAULT_TUNING } from '../../common/config.js';
import { hashFile, nodeFileSource } from '../../peer/node/file-source.js';
import { sendFile } from '../../peer/transfer/host.js';
import { exitWith, hostSession } from './test-host.js';

const [url, file, maxRate] = process.argv.slice(2) as [string, string, string | undefined];

await exitWith(async () => {
  const session = await hostSession(url);
  const size = (await stat(file)).size;
  // the SHA-256 of something else: the real hash, hashed once more
  const wrong = hashFile(file).then((h) => createHash('sha256').update(h).digest('hex'));
  await sendFile(session, {
    file: nodeFileSource({ path: file, name: basename(file), size }, wrong),
    tuning: DEFAULT_TUNING,
    maxRate: maxRate ? Number(maxRate) : 0,
    link: { lingerMs: 3000 },
  });
});
