/**
 * movie-get's RSA-3072 key pair, generated once per process and started as
 * early as possible.
 *
 * peer/cli/get-cli.ts (the executable) calls receiverKeyPair() before it even loads
 * the rest of the CLI, so the prime search (0.3 to 1.5 s here, on libuv's
 * thread pool; the long pole of "code entered → first byte") runs while the
 * CLI loads and while signaling, the PAKE and ICE proceed. This module must
 * stay light: it loads only common/crypto/key-transport.ts, and the crypto
 * backend (peer/node/crypto.ts) that peer/cli/get-cli.ts installed.
 */
import { generateReceiverKeyPair, type ReceiverKeyPair } from '../../common/crypto/key-transport.js';

let pending: Promise<ReceiverKeyPair> | undefined;

/** The key pair of this process: the first call starts its generation. */
export function receiverKeyPair(): Promise<ReceiverKeyPair> {
  if (!pending) {
    pending = generateReceiverKeyPair();
    pending.catch(() => undefined); // reported where it is awaited
  }
  return pending;
}
