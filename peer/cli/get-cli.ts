#!/usr/bin/env -S node --initial-old-space-size=64
/**
 * movie-get, the executable. It starts the RSA-3072 key generation (0.3 to
 * 1.5 s of prime search on libuv's thread pool; the receiver's `hello` carries
 * the public key) before it even loads the rest of the CLI (peer/cli/get-command.ts:
 * commander, socket.io-client, node-datachannel, simple-peer, the PAKE), so
 * the search overlaps module loading, signaling, the PAKE and ICE.
 *
 * `--initial-old-space-size=64` (shebang; V8 does not take it in NODE_OPTIONS):
 * every received chunk is two fresh external 64 KiB buffers (node-datachannel's
 * copy, the AES-GCM output), and V8 counts external bytes allocated since the
 * last mark-compact against the old-generation limit. With our ~8.5 MiB heap
 * (just above V8's 8 MiB incremental-marking threshold) that limit is only
 * ~8 MB above the heap, so a full mark-compact ran every ~10 MB received (50-80
 * per 512 MiB). The flag puts a 64 MB floor under the limit: none at all. The
 * host's 8 MiB credit window keeps chunks from living long enough to be
 * promoted, so peak RSS stays flat (docs/PERFORMANCE.md).
 */
import { useCryptoBackend } from '../../common/crypto/backend.js';
import { nodeCrypto } from '../node/crypto.js';
import { receiverKeyPair } from './early-keygen.js';

useCryptoBackend(nodeCrypto);

// Node waits for a running key generation before it exits: don't start one
// just to print the help.
if (!process.argv.slice(2).some((a) => a === '-h' || a === '--help')) void receiverKeyPair();
await import('./get-command.js');
