/**
 * The code authenticates the peers: a rogue signaling server cannot
 * get in the middle, and the honest server never sees the secret words, the
 * SDP, or the file.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, Procs } from '../support/procs.js';
import { sameBytes, tempDir } from '../support/files.js';
import { startRogue, type RogueMode } from '../support/rogue-signal.js';
import { eventually } from '../support/eventually.js';
import '../support/node-crypto.js';
import { formatCode, parseCode } from '../../common/code/code.js';

const procs = new Procs();
let dir: string;
let removeDir: () => Promise<void>;
let src: string;
const MARKER = 'PLAINTEXT-MARKER-THAT-MUST-NEVER-REACH-THE-SERVER';

before(async () => {
  ({ dir, remove: removeDir } = await tempDir());
  src = join(dir, 'film.bin');
  await writeFile(src, Buffer.from(MARKER.repeat(20_000)));
});
after(async () => {
  await procs.cleanup();
  await removeDir();
});

const AUTH = /Wrong code, or someone is interfering with the connection/;

for (const mode of ['terminate', 'reflect', 'pake-mitm'] as RogueMode[]) {
  test(`rogue signaling server (${mode}): both peers exit 4, no file byte sent, nothing written`, async (t) => {
    const rogue = await startRogue(mode);
    t.after(() => rogue.close());
    const out = join(dir, `rogue-${mode}.out`);
    const share = await procs.share(src, rogue.url);
    const get = procs.get(share.code, out, rogue.url);
    const [gc, sc] = await Promise.all([get.exited, share.proc.exited]);
    assert.equal(gc, 4, `movie-get: ${get.stderr()}`);
    assert.equal(sc, 4, `movie-share: ${share.proc.stderr()}`);
    assert.match(get.stderr(), AUTH);
    assert.match(share.proc.stderr(), AUTH);
    assert.equal(rogue.forwarded, 0, 'no data-channel message went through the rogue');
    assert.equal(rogue.channelsOpened, 0, 'no peer completed a connection with the rogue');
    if (mode === 'terminate') assert.equal(rogue.peerConnections, 2, 'the rogue did try to terminate WebRTC with both');
    assert.equal(existsSync(out), false);
    assert.equal(existsSync(`${out}.part`), false);
  });
}

test('the signaling server never sees the secret words, the SDP or the file (DEBUG=socket.io* packet log)', async () => {
  const { proc: sig, url } = await procs.signal([], { DEBUG: 'socket.io*', DEBUG_DEPTH: '10' });
  const out = join(dir, 'logged.out');
  const share = await procs.share(src, url, ['--verify']);
  const get = procs.get(share.code, out, url, ['--verify']);
  assert.equal(await get.exited, 0, get.stderr());
  assert.equal(await share.proc.exited, 0, share.proc.stderr());
  assert.ok(await sameBytes(src, out));
  // the log is complete once the server has closed both peers' sockets
  await eventually(() => assert.ok(((sig.stdout() + sig.stderr()).match(/closing socket - reason/g) ?? []).length >= 2, 'both sockets closed'));
  const log = sig.stdout() + sig.stderr();
  const { room, words } = parseCode(share.code);
  assert.ok(log.includes(room), 'the packet log is recorded (it names the room)');
  assert.match(log, /"signal"/, 'the packet log shows relayed signals');
  assert.ok(!log.includes(words.join('-')), 'the secret words never reach the server');
  for (const w of words) {
    assert.doesNotMatch(log, new RegExp(`["\\-]${w}["\\-]|["\\-]${w}$`, 'm'), `secret word "${w}"`);
  }
  assert.ok(!log.includes('a=fingerprint'), 'SDP is sealed');
  assert.ok(!log.includes('candidate:'), 'ICE candidates are sealed');
  assert.ok(!log.includes(MARKER.slice(0, 24)), 'no plaintext of the file');
  // --verify: both sides print the same verification string
  const v1 = /Verification: (\d{4} \d{4} \d{4})/.exec(share.proc.stderr())?.[1];
  const v2 = /Verification: (\d{4} \d{4} \d{4})/.exec(get.stderr())?.[1];
  assert.ok(v1 && v2, `both print a verification string:\n${share.proc.stderr()}\n${get.stderr()}`);
  assert.equal(v1, v2);
});

test('one failed attempt ends the code: after a wrong guess the real receiver cannot use it', async () => {
  const { url } = await procs.signal();
  const share = await procs.share(src, url);
  const { room, words } = parseCode(share.code);
  const { WORDS } = await import('../../common/code/wordlist.js');
  const wrongWord = WORDS.find((w) => w !== words[2])!;
  // a well-formed guess: the check character is no secret, an attacker computes it
  const guess = procs.get(formatCode(room, [words[0]!, words[1]!, wrongWord]), join(dir, 'guess.out'), url);
  assert.equal(await guess.exited, 4);
  assert.equal(await share.proc.exited, 4, 'the host stops accepting');
  const late = procs.get(share.code, join(dir, 'late.out'), url);
  assert.notEqual(await late.exited, 0);
  assert.equal(existsSync(join(dir, 'late.out')), false);
  void BIN;
});
