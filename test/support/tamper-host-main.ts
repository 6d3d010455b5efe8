/**
 * A host that knows the code and runs the real protocol (the product's
 * rendezvous and sendFile on node-datachannel) but damages the file on the
 * wire, after the encryption: the receiver must catch it. A process of its
 * own, like rogue-host-main.ts, so no WebRTC stack runs in the test's process.
 *
 *   node dist/test/support/tamper-host-main.js URL FILE flip|truncate [MAX_RATE]
 *   node dist/test/support/tamper-host-main.js URL FILE flip-at INDEX [MAX_RATE]
 *
 *   flip        the third chunk frame gets one bit flipped (its GCM tag fails)
 *   flip-at N   the frame of chunk N (whenever it is sent) gets one bit flipped
 *   truncate    chunk frames after the second are never sent; `end` still is
 *   MAX_RATE    bytes per second the host sends at most (as --max-rate: 200K, 1M, 1MiB)
 *
 * stdout: {"code":"..."} once the room exists. Exits with the exit code of
 * the error sendFile ended in (the receiver's `abort` carries it), 0 if none.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { DEFAULT_TUNING } from '../../common/config.js';
import { parseRate } from '../../common/format.js';
import { chunkIndex } from '../../common/protocol/framing.js';
import { hashFile, nodeFileSource } from '../../peer/node/file-source.js';
import type { MessageChannel } from '../../peer/transfer/channel.js';
import { sendFile } from '../../peer/transfer/host.js';
import { exitWith, hostSession } from './test-host.js';

const [url, file, mode, ...rest] = process.argv.slice(2) as [string, string, 'flip' | 'flip-at' | 'truncate', ...string[]];
const CHUNK_FRAME = 0x02;
const flipIndex = mode === 'flip-at' ? Number(rest.shift()) : -1;
const maxRate = rest[0] === undefined ? 0 : parseRate(rest[0]);
if (!Number.isSafeInteger(maxRate) || !Number.isSafeInteger(flipIndex)) throw new Error(`usage: URL FILE flip|truncate [MAX_RATE] | URL FILE flip-at INDEX [MAX_RATE]`);

await exitWith(async () => {
  const session = await hostSession(url);
  const real = session.channel;
  let chunks = 0;
  const channel: MessageChannel = {
    maxMessageSize: real.maxMessageSize,
    send(frame) {
      if (frame[0] !== CHUNK_FRAME) return real.send(frame);
      chunks++;
      if (mode === 'truncate' && chunks > 2) return;
      if ((mode === 'flip' && chunks === 3) || (mode === 'flip-at' && chunkIndex(frame) === flipIndex)) {
        const f = Uint8Array.from(frame);
        f[f.length - 1]! ^= 0x01;
        return real.send(f);
      }
      real.send(frame);
    },
    bufferedAmount: () => real.bufferedAmount(),
    drained: () => real.drained(),
    onMessage: (cb) => real.onMessage(cb),
    onClose: (cb) => real.onClose(cb),
    close: () => real.close(),
  };
  const size = (await stat(file)).size;
  await sendFile(
    { ...session, channel },
    { file: nodeFileSource({ path: file, name: basename(file), size }, hashFile(file)), tuning: DEFAULT_TUNING, link: { lingerMs: 3000 }, maxRate },
  );
});
