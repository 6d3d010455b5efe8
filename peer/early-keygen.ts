/**
 * movie-get's RSA-3072 key pair, started the moment the CLI begins to run.
 *
 * Generating it takes 0.3 to 1.5 s here (a random prime search, on libuv's
 * thread pool) and it is the long pole of "code entered → first byte": the
 * receiver's `hello` carries the public key. get-cli imports this module
 * first, so the search runs while the rest of the CLI loads (~300 ms) and
 * while signaling, the PAKE and ICE proceed, instead of after them. A run
 * that ends early (--help, a usage error) just abandons it.
 */
import { generateReceiverKeyPair, type ReceiverKeyPair } from '../common/key-transport.js';

export const earlyKeyPair: Promise<ReceiverKeyPair> = generateReceiverKeyPair();
earlyKeyPair.catch(() => undefined); // reported where it is awaited
