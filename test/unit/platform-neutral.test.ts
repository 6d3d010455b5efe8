/**
 * One protocol, two shells: the protocol core (common/, peer/transfer/,
 * peer/rendezvous/) must run in a browser as it is. esbuild bundles it for
 * the browser platform from the TypeScript sources; a node:* builtin or a
 * Node-only package anywhere in its import graph makes the bundle fail, and
 * this test with it. (.dependency-cruiser.cjs states the same rules for
 * `npm run lint`; this checks what a bundler actually pulls in.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CORE = ['common', 'peer/transfer', 'peer/rendezvous'];

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Bundles `entries` for the browser; returns the error texts (none: it bundled). */
async function browserBundle(entries: string[]): Promise<string[]> {
  try {
    await build({
      absWorkingDir: ROOT,
      entryPoints: entries,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      outdir: 'out',
      logLevel: 'silent',
    });
    return [];
  } catch (e) {
    return ((e as { errors?: { text: string; location?: { file: string } }[] }).errors ?? [{ text: String(e) }]).map((m) => `${m.location?.file ?? ''}: ${m.text}`);
  }
}

test('the protocol core bundles for the browser: nothing Node-only in its import graph', async () => {
  const entries = CORE.flatMap(tsFiles);
  assert.ok(
    entries.some((f) => f.endsWith(join('peer', 'transfer', 'receiver.ts'))),
    'the core was found',
  );
  assert.ok(entries.some((f) => f.endsWith(join('peer', 'rendezvous', 'rendezvous.ts'))));
  assert.deepEqual(await browserBundle(entries), []);
});

test('the check fails when the core reaches for Node: a node:* builtin, or the Node shell', async () => {
  // the Node crypto backend and the CLI are Node-only by design: bundled with the core they must be refused
  for (const nodeOnly of ['peer/node/crypto.ts', 'peer/cli/share-cli.ts']) {
    const errors = await browserBundle([...CORE.flatMap(tsFiles), nodeOnly]);
    assert.ok(errors.length > 0, `${relative(ROOT, join(ROOT, nodeOnly))} bundled for the browser`);
    assert.ok(
      errors.some((e) => /node:|Could not resolve/.test(e)),
      errors.join('\n'),
    );
  }
});
