/**
 * The release-side signing tool (`npm run update-sign`), run as a process:
 * keygen writes a private key outside the repository (mode 0600) and prints
 * the public key; sign writes `<manifest>.sig` that the app's verifier
 * accepts; it refuses a key inside the repository and a key that does not
 * match the public key the app is built with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parsePublicKey, verifyManifest } from '../electron/services/update/manifest-verifier';
import { scratchDir } from './support/scratch';
import { releaseManifest, throwawayUpdateKeys } from './support/update-server';

const repo = resolve(import.meta.dirname, '..');

function tool(args: string[], env: Record<string, string> = {}) {
  const { CLINICIAN_UPDATE_SIGNING_KEY_FILE: _k, CLINICIAN_UPDATE_PUBLIC_KEY: _p, ...base } = process.env;
  return spawnSync(process.execPath, ['--import', 'tsx', 'build/update-signing/update-sign.ts', ...args], { cwd: repo, env: { ...base, ...env }, encoding: 'utf8' });
}

test('keygen and sign produce a signature the app verifies; the private key is never printed', () => {
  const scratch = scratchDir('update-sign');
  try {
    const keygen = tool(['keygen', join(scratch.path, 'keys')]);
    assert.equal(keygen.status, 0, keygen.stderr);
    const keyFile = join(scratch.path, 'keys', 'update-signing-key.pem');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const pem = readFileSync(keyFile, 'utf8');
    const body = pem.split('\n').slice(1, -2).join('');
    assert.ok(!keygen.stdout.includes(body));
    const publicKey = /CLINICIAN_UPDATE_PUBLIC_KEY=(\S+)/.exec(keygen.stdout)?.[1];
    assert.ok(publicKey);
    const manifest = join(scratch.path, 'latest-linux.yml');
    writeFileSync(manifest, releaseManifest('0.2.0', 'a.AppImage', Buffer.from('installer')));
    const sign = tool(['sign', manifest], { CLINICIAN_UPDATE_SIGNING_KEY_FILE: keyFile, CLINICIAN_UPDATE_PUBLIC_KEY: publicKey });
    assert.equal(sign.status, 0, sign.stderr);
    const verified = verifyManifest(readFileSync(manifest), readFileSync(`${manifest}.sig`, 'utf8'), parsePublicKey(publicKey)!, 'latest-linux.yml');
    assert.equal(verified.version, '0.2.0');
    // The signature is bound to the file name it was signed as.
    assert.throws(() => verifyManifest(readFileSync(manifest), readFileSync(`${manifest}.sig`, 'utf8'), parsePublicKey(publicKey)!, 'latest-linux-arm64.yml'), /signature check/);

    // A list dated long ago is refused by the tool (the app would refuse it); --restamp dates it now and signs.
    const DAY = 24 * 60 * 60 * 1000;
    writeFileSync(manifest, releaseManifest('0.2.0', 'a.AppImage', Buffer.from('installer'), { releaseDate: new Date(Date.now() - 40 * DAY) }));
    const stale = tool(['sign', manifest], { CLINICIAN_UPDATE_SIGNING_KEY_FILE: keyFile, CLINICIAN_UPDATE_PUBLIC_KEY: publicKey });
    assert.notEqual(stale.status, 0);
    assert.match(stale.stderr, /--restamp/);
    const restamped = tool(['sign', '--restamp', manifest], { CLINICIAN_UPDATE_SIGNING_KEY_FILE: keyFile, CLINICIAN_UPDATE_PUBLIC_KEY: publicKey });
    assert.equal(restamped.status, 0, restamped.stderr);
    const fresh = verifyManifest(readFileSync(manifest), readFileSync(`${manifest}.sig`, 'utf8'), parsePublicKey(publicKey)!, 'latest-linux.yml');
    assert.ok(Date.now() - Date.parse(fresh.releaseDate) < DAY);

    // A list dated ahead of now would be accepted by the app and then block older lists until that date: refused here.
    writeFileSync(manifest, releaseManifest('0.2.0', 'a.AppImage', Buffer.from('installer'), { releaseDate: new Date(Date.now() + 60 * 60 * 1000) }));
    const ahead = tool(['sign', manifest], { CLINICIAN_UPDATE_SIGNING_KEY_FILE: keyFile, CLINICIAN_UPDATE_PUBLIC_KEY: publicKey });
    assert.notEqual(ahead.status, 0);
    assert.match(ahead.stderr, /in the future/);
    writeFileSync(manifest, releaseManifest('0.2.0', 'a.AppImage', Buffer.from('installer'), { releaseDate: new Date(Date.now() + 60 * 1000) }));
    const slightlyAhead = tool(['sign', manifest], { CLINICIAN_UPDATE_SIGNING_KEY_FILE: keyFile, CLINICIAN_UPDATE_PUBLIC_KEY: publicKey });
    assert.equal(slightlyAhead.status, 0, slightlyAhead.stderr);

    const wrong = tool(['sign', manifest], { CLINICIAN_UPDATE_SIGNING_KEY_FILE: keyFile, CLINICIAN_UPDATE_PUBLIC_KEY: throwawayUpdateKeys().publicKeyBase64 });
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /does not match/);
    const noKey = tool(['sign', manifest]);
    assert.notEqual(noKey.status, 0);
    assert.match(noKey.stderr, /CLINICIAN_UPDATE_SIGNING_KEY_FILE/);
  } finally {
    scratch.remove();
  }
});

test('keygen refuses to write a private key inside the repository', () => {
  const folder = join(repo, '.tmp', 'update-keys-test');
  const inside = tool(['keygen', folder]);
  assert.notEqual(inside.status, 0);
  assert.match(inside.stderr, /inside the repository/);
  assert.ok(!existsSync(folder));
});
