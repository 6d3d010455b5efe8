/**
 * A host that knows the code, runs the real rendezvous (product code on
 * node-datachannel), and answers the receiver's hello with an `abort` whose
 * message carries terminal controls: an OSC window title with BEL, a CSI
 * (ESC [ and U+009B), a backspace, a CR and a newline that would fake a line.
 * The receiver must print it without them. A process of its own, like
 * rogue-host-main.ts, so no WebRTC stack runs in the test's process.
 *
 *   node dist/test/support/abort-host-main.js URL
 *
 * stdout: {"code":"..."} once the room exists, {"aborted":true} once the abort is sent.
 */
import { ExitCode } from '../../common/errors.js';
import { encodeControl } from '../../common/protocol/framing.js';
import { hostSession } from './test-host.js';

const ROGUE_ABORT = 'disk on fire\x1b]0;pwned\x07 \x1b[2J\u009b31m\b\rmovie-get: Received everything\nSHA-256 verified ✓';

const [url] = process.argv.slice(2) as [string];
const session = await hostSession(url);
const channel = session.channel;
let sent = false;
channel.onMessage(() => {
  if (sent) return;
  sent = true;
  channel.send(encodeControl(JSON.stringify({ t: 'abort', code: ExitCode.Other, message: ROGUE_ABORT })));
  process.stdout.write(`${JSON.stringify({ aborted: true })}\n`);
});
channel.onClose(() => process.exit(0));
setTimeout(() => process.exit(0), 20_000).unref();
