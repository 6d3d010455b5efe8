/**
 * Tests that run the protocol's crypto in this process import this module
 * first: it installs Node's crypto backend (peer/node/crypto.ts), as the CLIs
 * do at start-up.
 */
import { isPromise, useCryptoBackend, type Awaitable } from '../../common/crypto/backend.js';
import { nodeCrypto } from '../../peer/node/crypto.js';

useCryptoBackend(nodeCrypto);

/** A result of the Node backend, which is synchronous where the interface allows a promise. */
export function now<T>(v: Awaitable<T>): T {
  if (isPromise(v)) throw new Error('the Node crypto backend answered with a promise');
  return v;
}
