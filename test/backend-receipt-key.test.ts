/**
 * The receipt-signing key comes from configuration only: the real backend
 * command refuses to serve without one (no key file or data file is made
 * in its place), with a file other users may read, or with a key that is
 * not Ed25519, each with a message naming the setting and never the key;
 * `receipt-key-generate` writes a new key readable by its owner alone and
 * never over an existing file; and the key is read from the flag or from
 * CLINICIAN_RECEIPT_KEY_FILE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support/cache-cli';
import { scratchDir } from './support/scratch';
import { bundledEntry } from './support/bundled-entry';

const SERVER = join(ROOT, 'server', 'main.ts');

function server(args: string[], env: Record<string, string> = {}) {
  const clean = { ...process.env };
  delete clean.CLINICIAN_RECEIPT_KEY_FILE;
  delete clean.DATABASE_URL;
  return spawnSync(process.execPath, [bundledEntry(SERVER), ...args], { cwd: ROOT, env: { ...clean, ...env }, encoding: 'utf8', timeout: 60_000 });
}

test('the backend refuses to serve without a configured receipt key, with a bad one, or one others may read; receipt-key-generate makes one', async () => {
  const dir = scratchDir('receipt-key');
  try {
    const data = join(dir.path, 'data');
    const serve = (extra: string[], env: Record<string, string> = {}) => server(['--port', '0', '--data-dir', data, '--bundles', dir.path, ...extra], env);

    const none = serve([]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no receipt-signing key is configured: make one with `npm run server -- receipt-key-generate <file>`/);
    assert.ok(!existsSync(data) || readdirSync(data).length === 0, 'nothing made in the data folder');

    const missing = serve(['--receipt-key-file', join(dir.path, 'nope.pem')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /cannot be read/);

    const rsa = join(dir.path, 'rsa.pem');
    writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    const wrongType = serve(['--receipt-key-file', rsa]);
    assert.equal(wrongType.status, 1);
    assert.match(wrongType.stderr, /must be an Ed25519 key/);

    const key = join(dir.path, 'receipt.pem');
    const made = server(['receipt-key-generate', key]);
    assert.equal(made.status, 0, made.stderr);
    assert.equal(statSync(key).mode & 0o777, 0o600);
    const pem = readFileSync(key, 'utf8');
    assert.ok(!made.stdout.includes(pem.split('\n')[1]!) && !made.stderr.includes(pem.split('\n')[1]!), 'the key is never printed');
    const again = server(['receipt-key-generate', key]);
    assert.notEqual(again.status, 0, 'never over an existing key');
    assert.equal(readFileSync(key, 'utf8'), pem);

    chmodSync(key, 0o644);
    const readable = serve(['--receipt-key-file', key]);
    assert.equal(readable.status, 1);
    assert.match(readable.stderr, /may be read or written by other users/);
    chmodSync(key, 0o600);
    for (const [how, extra, env] of [
      ['flag', ['--receipt-key-file', key], {}],
      ['environment', [], { CLINICIAN_RECEIPT_KEY_FILE: key }],
    ] as const) {
      // Serving starts: it got past the key, opened its database and listens; then it is stopped.
      const child = spawn(process.execPath, [bundledEntry(SERVER), '--port', '0', '--data-dir', data, '--bundles', dir.path, ...extra], {
        cwd: ROOT,
        env: { ...process.env, CLINICIAN_RECEIPT_KEY_FILE: '', DATABASE_URL: '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = once(child, 'exit');
      const listening = await new Promise<boolean>((resolve) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('backend listening on')) resolve(true);
        });
        void exited.then(() => resolve(false));
      });
      child.kill('SIGTERM');
      await exited;
      assert.ok(listening, `${how}: ${out}`);
      assert.ok(!out.includes(pem.split('\n')[1]!), 'the key is never printed');
    }
  } finally {
    dir.remove();
  }
});
