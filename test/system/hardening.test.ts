/**
 * Process-level checks of the receiver's hardening (docs/RELIABILITY.md):
 *
 *  - an abort message from an authenticated host full of terminal controls is
 *    printed without them, on one line (test/support/abort-host-main.ts);
 *  - a symbolic link at OUT.part, or an OUT.part without a sidecar, is
 *    refused with exit 2 and a sentence before movie-get joins the room, so
 *    the code still works for a receiver with a clean -o.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DIST, Procs } from '../support/procs.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';

const procs = new Procs();
const ABORT_HOST = join(DIST, 'test', 'support', 'abort-host-main.js');
let url: string;
let dir: string;
let removeDir: () => Promise<void>;

before(async () => {
  ({ dir, remove: removeDir } = await tempDir('movie-share-hardening-'));
  ({ url } = await procs.signal());
});
after(async () => {
  await procs.cleanup();
  await removeDir();
});

// eslint-disable-next-line no-control-regex -- looking for control characters is the point
const CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

test('an abort message with terminal escapes from the host: printed without them, on one line (exit 1, nothing at OUT)', { timeout: 60_000 }, async () => {
  for (const json of [false, true]) {
    const host = procs.node(ABORT_HOST, [url]);
    const code = (await host.waitFor(/\{"code":"([^"]+)"\}/))[1]!;
    const out = join(dir, `aborted-${json}.bin`);
    const get = procs.get(code, out, url, json ? ['--json'] : []);
    assert.equal(await get.exited, 1, get.stderr());
    await host.exited;
    const err = get.stderr();
    assert.doesNotMatch(err, CONTROLS, JSON.stringify(err));
    const lines = err.split('\n').filter((l) => l.includes('other side stopped'));
    assert.equal(lines.length, 1, JSON.stringify(err));
    assert.equal(lines[0], 'movie-get: The other side stopped: disk on fire]0;pwned [2J31m movie-get: Received everything SHA-256 verified ✓');
    assert.doesNotMatch(get.stdout(), CONTROLS, JSON.stringify(get.stdout()));
    if (json) {
      const ev = get
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { event: string; message?: string })
        .find((e) => e.event === 'error');
      assert.equal(ev?.message, 'The other side stopped: disk on fire]0;pwned [2J31m movie-get: Received everything SHA-256 verified ✓');
    }
    assert.equal(existsSync(out), false);
  }
});

test(
  'a symbolic link at OUT.part, or OUT.part without a sidecar: exit 2 with a sentence before joining; the target is untouched and the code still works',
  { timeout: 60_000 },
  async () => {
    const src = join(dir, 'src.bin');
    await randomFile(src, 256 * 1024);
    const target = join(dir, 'precious.txt');
    await writeFile(target, 'precious\n');
    const share = await procs.share(src, url);

    const linked = join(dir, 'linked.bin');
    await symlink(target, `${linked}.part`);
    const g1 = procs.get(share.code, linked, url, ['--force']);
    assert.equal(await g1.exited, 2, g1.stderr());
    assert.match(g1.stderr(), /linked\.bin\.part is a symbolic link; movie-get never writes through a link there\. Remove it or choose another -o path\./);

    const orphan = join(dir, 'orphan.bin');
    await writeFile(`${orphan}.part`, 'not ours');
    const g2 = procs.get(share.code, orphan, url);
    assert.equal(await g2.exited, 2, g2.stderr());
    assert.match(g2.stderr(), /orphan\.bin\.part exists but .*orphan\.bin\.part\.json .* does not, so it is not movie-get's; .*--force to replace it\./);
    assert.equal(await readFile(`${orphan}.part`, 'utf8'), 'not ours');
    assert.equal(await readFile(target, 'utf8'), 'precious\n');

    // neither refusal used up the code; --force replaces the orphan
    const g3 = procs.get(share.code, orphan, url, ['--force']);
    const [c3, cs] = await Promise.all([g3.exited, share.proc.exited]);
    assert.equal(c3, 0, g3.stderr());
    assert.equal(cs, 0, share.proc.stderr());
    assert.ok(await sameBytes(src, orphan));
    assert.equal(existsSync(`${orphan}.part`), false);
  },
);
