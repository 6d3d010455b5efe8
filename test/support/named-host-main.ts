/**
 * A host that runs the real protocol but tells the receiver a file name of
 * the test's choosing (`../evil`, control characters…): what a hostile or
 * careless sender may announce. Bytes and SHA-256 are the file's real ones.
 *
 *   node dist/test/support/named-host-main.js URL FILE NAME_AS_JSON
 *
 * stdout: {"code":"..."} once the room exists. Exits with the exit code of
 * the error sendFile ended in (the receiver's `abort` carries it), 0 if none.
 */
import { stat } from 'node:fs/promises';
import { DEFAULT_TUNING } from '../../common/config.js';
import { hashFile, nodeFileSource } from '../../peer/node/file-source.js';
import { sendFile } from '../../peer/transfer/host.js';
import { exitWith, hostSession } from './test-host.js';

const [url, file, nameJson] = process.argv.slice(2) as [string, string, string];
const name = JSON.parse(nameJson) as string;

await exitWith(async () => {
  const session = await hostSession(url);
  const size = (await stat(file)).size;
  await sendFile(session, {
    file: nodeFileSource({ path: file, name, size }, hashFile(file)),
    tuning: DEFAULT_TUNING,
    link: { lingerMs: 3000 },
  });
});
