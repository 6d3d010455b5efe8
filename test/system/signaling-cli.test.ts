/**
 * The movie-signal bin: `listening on` line, graceful SIGTERM (peers get
 * `shutdown`, exit 0), --ice-config with coturn REST credentials, env
 * fallbacks, and one-sentence failures for bad flags and unreachable Redis.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { spawnSignalNode } from '../../bench/signal-load.js';
import { SIGNAL_PROTOCOL_VERSION as V } from '../../common/protocol/signal-protocol.js';

const CLI = fileURLToPath(new URL('../../bin/movie-signal.js', import.meta.url));

function run(args: string[], env: NodeJS.ProcessEnv = {}, ms = 8000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MOVIE_SIGNAL_')) base[k] = v;
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

test('SIGTERM: connected peers get `shutdown`, the process exits 0', async (t) => {
  const node = await spawnSignalNode();
  t.after(() => node.kill());
  const s = io(node.url, { transports: ['websocket'], forceNew: true, reconnection: false });
  t.after(() => {
    s.disconnect();
  });
  await new Promise<void>((r) => s.once('connect', () => r()));
  assert.equal((await s.emitWithAck('create', { v: V })).ok, true);
  const shutdown = new Promise<boolean>((r) => {
    s.once('shutdown', () => r(true));
    setTimeout(() => r(false), 5000);
  });
  node.proc.kill('SIGTERM');
  assert.equal(await shutdown, true);
  assert.equal(await node.exited, 0);
  assert.match(node.stderr(), /SIGTERM: shutting down/);
});

test('--ice-config hands out static ICE servers and coturn REST credentials', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'movie-signal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ice.json');
  writeFileSync(
    file,
    JSON.stringify({
      iceServers: [{ urls: ['stun:127.0.0.1:3478'] }],
      turnSecret: { secret: 's3cret', urls: ['turn:127.0.0.1:3478'], ttlSeconds: 3600 },
    }),
  );
  const node = await spawnSignalNode(['--ice-config', file]);
  t.after(() => node.kill());
  const s = io(node.url, { transports: ['websocket'], forceNew: true, reconnection: false });
  t.after(() => {
    s.disconnect();
  });
  const reply = await s.emitWithAck('create', { v: V });
  assert.equal(reply.iceServers.length, 2);
  assert.match(reply.iceServers[1].username, /^\d+:[0-9a-f]+$/);
  assert.equal(typeof reply.iceServers[1].credential, 'string');

  writeFileSync(file, JSON.stringify({ turnSecret: { urls: 'turn:x' } }));
  const bad = await run(['--port', '0', '--host', '127.0.0.1', '--ice-config', file]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /turnSecret/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});

test('environment fallbacks and bad input', async () => {
  // env: port/host from MOVIE_SIGNAL_*; stop it right after the listening line
  const child = spawn(process.execPath, [CLI], {
    env: { ...process.env, MOVIE_SIGNAL_PORT: '0', MOVIE_SIGNAL_HOST: '127.0.0.1', MOVIE_SIGNAL_ROOM_TTL: '5' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error('no listening line')), 8000);
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(t);
        resolve(out);
      }
    });
  });
  assert.match(line, /^listening on http:\/\/127\.0\.0\.1:\d+\n$/);
  child.kill('SIGINT');
  assert.equal(await new Promise((r) => child.once('exit', r)), 0);
  assert.match(err, /room TTL 5 s/);

  const badPort = await run(['--port', 'eighty']);
  assert.equal(badPort.code, 2);
  assert.match(badPort.stderr, /--port/);

  const noRedis = await run(['--port', '0', '--host', '127.0.0.1', '--redis', 'redis://127.0.0.1:9']);
  assert.equal(noRedis.code, 1);
  assert.match(noRedis.stderr, /^movie-signal: Cannot connect to Redis at redis:\/\/127\.0\.0\.1:9/m);
  assert.equal(noRedis.stdout, '');
});
