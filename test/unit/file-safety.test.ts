/**
 * The receiver's files cannot be redirected or clobbered (peer/node/resume.ts,
 * peer/node/file-sink.ts; docs/RELIABILITY.md "The receiver's disk"):
 *
 *  - a symbolic link planted at OUT.part, OUT.part.json or OUT.part.json.tmp
 *    is refused before the transfer with a sentence, and never written
 *    through if it appears later (O_NOFOLLOW, O_EXCL): its target is untouched;
 *  - an OUT.part without a sidecar is refused unless --force;
 *  - an OUT created by someone else while the file arrived is not replaced:
 *    exit 2, the verified file kept as OUT.part with a sidecar listing all of
 *    it; with --force it is replaced.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode, MovieShareError } from '../../common/errors.js';
import { NodeFileSink } from '../../peer/node/file-sink.js';
import { checkResumeFiles, readSidecar, writeSidecar } from '../../peer/node/resume.js';
import type { IncomingFile } from '../../peer/transfer/files.js';
import { tempDir } from '../support/files.js';

let dir: string;
let removeDir: () => Promise<void>;
let n = 0;
before(async () => ({ dir, remove: removeDir } = await tempDir('movie-share-file-safety-')));
after(() => removeDir());

const TARGET = 'precious data that must not change\n';
const bytes = randomBytes(100_000);
const file: IncomingFile = { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, name: 'movie.bin' };

/** A fresh OUT path, and a file elsewhere that a planted link points at. */
async function setup(): Promise<{ out: string; target: string }> {
  n++;
  const target = join(dir, `target-${n}.txt`);
  await writeFile(target, TARGET);
  return { out: join(dir, `out-${n}.bin`), target };
}

const usage = (re: RegExp) => (e: unknown) => e instanceof MovieShareError && e.exitCode === ExitCode.Usage && re.test(e.message);

/** Open, write every byte, finish: what a transfer does before the commit. */
async function receive(sink: NodeFileSink): Promise<void> {
  await sink.open(file, () => undefined);
  sink.write(0, bytes);
  await sink.finish();
}

for (const suffix of ['.part', '.part.json', '.part.json.tmp']) {
  test(`a symbolic link at OUT${suffix}: refused before the transfer (exit 2, a sentence), even with --force; the target is untouched`, async () => {
    const { out, target } = await setup();
    await symlink(target, `${out}${suffix}`);
    if (suffix !== '.part') await writeFile(`${out}.part`, '');
    for (const force of [false, true]) {
      await assert.rejects(
        checkResumeFiles(out, force),
        usage(new RegExp(`${out}${suffix.replace(/\./g, '\\.')} is a symbolic link; movie-get never writes through a link there\\.`)),
      );
    }
    assert.equal(await readFile(target, 'utf8'), TARGET);
  });
}

test('a link planted at OUT.part after the check, over a matching sidecar: the open refuses it (exit 2), the target is untouched', async () => {
  const { out, target } = await setup();
  await writeSidecar(out, { v: 2, ...file, have: [0, 1000] });
  await symlink(target, `${out}.part`);
  const sink = new NodeFileSink(out);
  await assert.rejects(
    sink.open(file, () => undefined),
    usage(/\.part is a symbolic link/),
  );
  assert.equal(await readFile(target, 'utf8'), TARGET);
});

test('links planted at OUT.part, the sidecar and its .tmp after the check, with a sidecar of another file: removed, never followed; the download starts fresh', async () => {
  const { out, target } = await setup();
  await writeSidecar(out, { v: 2, ...file, sha256: '0'.repeat(64), have: [0, 1000] });
  await symlink(target, `${out}.part`);
  await symlink(target, `${out}.part.json.tmp`);
  const sink = new NodeFileSink(out);
  await receive(sink);
  await sink.commit();
  await sink.close();
  assert.deepEqual(await readFile(out), bytes);
  assert.equal(await readFile(target, 'utf8'), TARGET);
  assert.equal(existsSync(`${out}.part`), false);
  assert.equal(existsSync(`${out}.part.json`), false);
});

test('a link at the sidecar: read as no sidecar (never followed), a sidecar write replaces the link, not its target', async () => {
  const { out, target } = await setup();
  await writeFile(target, JSON.stringify({ v: 2, ...file, have: [0, file.size] }));
  await symlink(target, `${out}.part.json`);
  assert.equal(await readSidecar(out), null);
  await writeSidecar(out, { v: 2, ...file, have: [0, 5] });
  assert.ok((await lstat(`${out}.part.json`)).isFile());
  assert.deepEqual(JSON.parse(await readFile(target, 'utf8')), { v: 2, ...file, have: [0, file.size] });
});

test('OUT.part without a sidecar: refused (exit 2, a sentence) unless --force, which starts fresh', async () => {
  const { out } = await setup();
  await writeFile(`${out}.part`, 'somebody else’s file');
  await assert.rejects(checkResumeFiles(out, false), usage(/\.part exists but .*\.part\.json .* does not, so it is not movie-get's; .* add --force to replace it\./));
  await checkResumeFiles(out, true);
  // and if it appeared after the check
  await assert.rejects(
    new NodeFileSink(out).open(file, () => undefined),
    usage(/is not movie-get's/),
  );
  assert.equal(await readFile(`${out}.part`, 'utf8'), 'somebody else’s file');
  const sink = new NodeFileSink(out, true);
  await receive(sink);
  await sink.commit();
  await sink.close();
  assert.deepEqual(await readFile(out), bytes);
});

test('OUT created by someone else while the file arrived: not replaced (exit 2, a sentence); the verified file stays as OUT.part with a full sidecar', async () => {
  const { out } = await setup();
  const sink = new NodeFileSink(out);
  await receive(sink);
  await writeFile(out, TARGET);
  await assert.rejects(sink.commit(), usage(/was created by someone else while the file arrived; it was not replaced\. The verified file is kept as .*\.part/));
  await sink.abort(true); // what the receiver does next (it closes the read handle too)
  assert.equal(await readFile(out, 'utf8'), TARGET);
  assert.deepEqual(await readFile(`${out}.part`), bytes);
  assert.deepEqual((await readSidecar(out))?.have, [0, file.size]);
  // a rerun with --force has every byte already and replaces OUT
  const again = new NodeFileSink(out, true);
  const { have } = await again.open(file, () => undefined);
  assert.deepEqual(have, [0, file.size]);
  await again.finish();
  await again.commit();
  await again.close();
  assert.deepEqual(await readFile(out), bytes);
  assert.equal(existsSync(`${out}.part`), false);
  assert.equal(existsSync(`${out}.part.json`), false);
});

test('a link created at OUT while the file arrived is not followed or replaced either; the commit without a rival leaves only OUT', async () => {
  const { out, target } = await setup();
  const sink = new NodeFileSink(out);
  await receive(sink);
  await symlink(target, out);
  await assert.rejects(sink.commit(), usage(/was created by someone else/));
  await sink.abort(true);
  assert.equal(await readFile(target, 'utf8'), TARGET);
  assert.ok((await lstat(out)).isSymbolicLink());

  const { out: out2 } = await setup();
  const ok = new NodeFileSink(out2);
  await receive(ok);
  await ok.commit();
  await ok.close();
  assert.deepEqual(await readFile(out2), bytes);
  assert.equal(existsSync(`${out2}.part`), false);
  assert.equal(existsSync(`${out2}.part.json`), false);
});
