/**
 * test/support/rogue-peer.ts as a process of its own, so that its native
 * WebRTC stack never shares a process with the test or with the receiver:
 * libdatachannel 0.24 can wedge a connection in its DTLS handshake (see
 * peer/rtc/dtls-role.ts), and a wedged connection in the test process would
 * hang node-datachannel's cleanup. The test kills this process by PID.
 *
 *   node dist/test/support/rogue-host-main.js URL MODE
 *
 * stdout: {"code":"..."} once the room exists, {"connected":true} once its data channel opened.
 */
import { startRogueHost, type RoguePeerMode } from './rogue-peer.js';

const [url, mode] = process.argv.slice(2) as [string, RoguePeerMode];
const rogue = await startRogueHost(url, mode, { iceServers: [], bindAddress: '127.0.0.1', mtu: 1280 });
process.stdout.write(`${JSON.stringify({ code: rogue.code })}\n`);
await rogue.connected;
process.stdout.write(`${JSON.stringify({ connected: true })}\n`);
