/**
 * The first half of every misbehaving test host (tamper-host-main.ts,
 * lying-host-main.ts): create a room, print {"code":"..."} on stdout, and run
 * the product's real rendezvous on node-datachannel bound to 127.0.0.1. What
 * the host then does wrong is its own business.
 */
import './node-crypto.js';
import { makeCode, parseCode } from '../../common/code/code.js';
import { DEFAULT_TUNING } from '../../common/config.js';
import { MovieShareError } from '../../common/errors.js';
import { rendezvous } from '../../peer/rendezvous/rendezvous.js';
import { SignalClient } from '../../peer/rendezvous/signal-client.js';
import { buildRtcConfig } from '../../peer/rtc/ice.js';
import { nodePeerFactory } from '../../peer/rtc/node-peer.js';
import type { SecureSession } from '../../peer/transfer/session.js';

export async function hostSession(url: string): Promise<SecureSession> {
  const signal = await SignalClient.connect({ url });
  const room = await signal.createRoom();
  const code = makeCode(room.room);
  process.stdout.write(`${JSON.stringify({ code })}\n`);
  try {
    const rz = await rendezvous({
      role: 'host',
      code: parseCode(code),
      signal,
      factory: nodePeerFactory(buildRtcConfig({ stun: [], turn: [], relayOnly: false, bindAddress: '127.0.0.1' }, room.iceServers)),
      lowWaterMark: DEFAULT_TUNING.lowWaterMark,
    });
    return rz.session;
  } finally {
    signal.close();
  }
}

/** Ends the process with the exit code of the error the host ended in (the receiver's `abort` carries it), 0 if none. */
export async function exitWith(run: () => Promise<unknown>): Promise<never> {
  try {
    await run();
    process.exit(0);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(e instanceof MovieShareError ? e.exitCode : 1);
  }
}
