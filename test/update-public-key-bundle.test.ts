/**
 * The update public key is compiled into main.cjs by build/bundle-electron.mjs
 * from CLINICIAN_UPDATE_PUBLIC_KEY (base64 of the raw 32-byte Ed25519 key);
 * a malformed key fails the build; a build without one compiles in '' (its
 * updater is then 'off': "This build cannot verify updates").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { scratchDir } from './support/scratch';
import { throwawayUpdateKeys } from './support/update-server';

const repo = resolve(import.meta.dirname, '..');

function bundle(outdir: string, key: string | undefined) {
  const { CLINICIAN_UPDATE_PUBLIC_KEY: _k, ...env } = process.env;
  return spawnSync(process.execPath, ['build/bundle-electron.mjs'], {
    cwd: repo,
    env: { ...env, CLINICIAN_ELECTRON_OUTDIR: outdir, ...(key === undefined ? {} : { CLINICIAN_UPDATE_PUBLIC_KEY: key }) },
    encoding: 'utf8',
  });
}

test('the update public key is compiled into main.cjs; a malformed one fails the build', () => {
  const scratch = scratchDir('update-key-bundle');
  try {
    const key = throwawayUpdateKeys().publicKeyBase64;
    const withKey = bundle(join(scratch.path, 'with'), key);
    assert.equal(withKey.status, 0, withKey.stderr);
    const main = readFileSync(join(scratch.path, 'with', 'main.cjs'), 'utf8');
    assert.ok(main.includes(JSON.stringify(key)));
    assert.ok(!main.includes('__CLINICIAN_UPDATE_PUBLIC_KEY__'));

    const without = bundle(join(scratch.path, 'without'), undefined);
    assert.equal(without.status, 0, without.stderr);
    assert.ok(!readFileSync(join(scratch.path, 'without', 'main.cjs'), 'utf8').includes('__CLINICIAN_UPDATE_PUBLIC_KEY__'));

    const malformed = bundle(join(scratch.path, 'bad'), 'not-a-key');
    assert.notEqual(malformed.status, 0);
    assert.match(malformed.stderr, /CLINICIAN_UPDATE_PUBLIC_KEY must be base64/);
  } finally {
    scratch.remove();
  }
});
