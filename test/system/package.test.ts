/**
 * The package people install: `npm pack` ships the bundled programs
 * (dist/bin) and the README, nothing else (no tests, no sources, no CI files),
 * and no install-time script; installed from that tarball into a fresh prefix,
 * the three commands work: movie-signal listens, movie-share prints a code,
 * movie-get receives the file byte-identical, all on 127.0.0.1.
 *
 * The tarball is packed with --ignore-scripts: its `prepack` is `npm run
 * build`, which already ran (this file runs from that build's dist/). The
 * install prefers npm's cache (--prefer-offline); npm asks the registry only
 * for package metadata the cache lacks.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { DIST, Procs } from '../support/procs.js';
import { randomFile, sameBytes, tempDir } from '../support/files.js';

const run = promisify(execFile);
const ROOT = join(DIST, '..');
const COMMANDS = ['movie-signal', 'movie-share', 'movie-get'];
/** npm quietly, and without reaching out for anything it need not (update check, audit, funding) */
const NPM_ENV = { ...process.env, npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' };

const procs = new Procs();
const dirs: (() => Promise<void>)[] = [];
after(async () => {
  await procs.cleanup();
  for (const remove of dirs) await remove();
});

interface Packed {
  filename: string;
  files: { path: string }[];
}

test('npm pack ships only the programs; installed from the tarball, the three commands transfer a file', { timeout: 120_000 }, async () => {
  assert.ok(
    COMMANDS.every((c) => existsSync(join(DIST, 'bin', `${c}.js`))),
    'dist/bin holds the three bundled programs (npm run build)',
  );
  const { dir, remove } = await tempDir('movie-share-pack-');
  dirs.push(remove);

  // the tarball: only what the programs load at run time, and nothing npm would run on install
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, env: NPM_ENV });
  const [info] = JSON.parse(packed.stdout) as Packed[];
  const files = info!.files.map((f) => f.path).sort();
  for (const c of COMMANDS) assert.ok(files.includes(`dist/bin/${c}.js`), `${c} is in the tarball: ${files.join(', ')}`);
  const page = files.filter((f) => f.startsWith('dist/bin/web/'));
  assert.deepEqual(
    page,
    ['dist/bin/web/app.css', 'dist/bin/web/app.js', 'dist/bin/web/index.html', 'dist/bin/web/store-worker.js', 'dist/bin/web/sw.js'],
    'the browser page that movie-signal serves, with its service worker (playback while receiving) and its storage worker',
  );
  const extra = files.filter((f) => !/^(dist\/bin\/[^/]+\.js|dist\/bin\/chunks\/[^/]+\.js|dist\/bin\/web\/[^/]+|package\.json|README\.md|LICENSE)$/.test(f));
  assert.deepEqual(extra, [], 'nothing but the bundled programs, the page, package.json, README and LICENSE');
  assert.equal(files.filter((f) => /test|\.ts$|^\.ci\//.test(f)).length, 0, 'no tests, sources or CI files');
  const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  for (const s of ['preinstall', 'install', 'postinstall', 'prepare']) {
    assert.equal(manifest.scripts[s], undefined, `no "${s}" script: npm would list it as an install script of the tarball`);
  }

  // installed as people would, into a prefix of its own
  const prefix = join(dir, 'prefix');
  const installed = await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', join(dir, info!.filename)], { cwd: dir, env: NPM_ENV });
  assert.doesNotMatch(`${installed.stdout}${installed.stderr}`, /install scripts|prepare/i, 'no warning about skipped scripts');
  const bin = (c: string): string => join(prefix, 'bin', c);
  for (const c of COMMANDS) assert.ok(existsSync(bin(c)), `${c} is installed in ${prefix}/bin`);

  // the installed commands, on 127.0.0.1 (their shebang finds this node on PATH)
  const env = { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };
  const signal = procs.spawn(bin('movie-signal'), ['--host', '127.0.0.1', '--port', '0'], env);
  const url = (await signal.waitFor(/listening on (http:\/\/\S+)/))[1]!;
  // the installed movie-signal finds and serves the page it ships with
  const pageRes = await fetch(`${url}/`);
  assert.equal(pageRes.status, 200);
  assert.match(await pageRes.text(), /<script type="module" src="app\.js"><\/script>/);
  for (const script of ['sw.js', 'store-worker.js']) {
    const r = await fetch(`${url}/${script}`);
    assert.equal(r.status, 200, script);
    // a service worker or worker script served as anything but JavaScript is refused by the browser
    assert.equal(r.headers.get('content-type'), 'text/javascript; charset=utf-8', script);
    assert.ok((await r.text()).length > 0, script);
  }
  const src = join(dir, 'movie.bin');
  const out = join(dir, 'received.bin');
  await randomFile(src, 3 * 1024 * 1024 + 5);
  const share = procs.spawn(bin('movie-share'), [src, '--signal', url, '--bind-address', '127.0.0.1'], env);
  const code = (await share.waitFor(/Code: (\S+)/))[1]!;
  const get = procs.spawn(bin('movie-get'), [code, '-o', out, '--signal', url, '--bind-address', '127.0.0.1'], env);
  const [gc, sc] = await Promise.all([get.exited, share.exited]);
  assert.equal(gc, 0, `movie-get: ${get.stderr()}`);
  assert.equal(sc, 0, `movie-share: ${share.stderr()}`);
  assert.ok(await sameBytes(src, out), 'the received file is byte-identical');
});
