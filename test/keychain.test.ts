/**
 * Keys live only in the OS keychain: created on first run in the real
 * gnome-keyring, read back by keytar, never on disk; and with no keychain, or
 * a locked one, the cache fails closed and writes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import keytar from 'keytar';
import { openCacheSession } from '../electron/services/cache-session';
import { cacheKeyAccount, signingKeyAccount } from '../electron/services/device-keys';
import { readProfile } from '../electron/services/cache-profile';
import { AppError } from '../shared/app-error';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { ROOT, cliSourceArgs } from './support/cache-cli';
import { SYNTHEA_FILES } from './support/synthea';

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

test('first run creates a 256-bit cache key and an Ed25519 device key in the OS keychain only', async () => {
  const keychain = testKeychain();
  const dir = scratchDir();
  try {
    const session = await openCacheSession({ dataDir: join(dir.path, 'c'), secrets: keychain, actor: 'test', create: true });
    const profileId = session.profile.profileId;
    const storedCacheKey = await keytar.getPassword(keychain.service, cacheKeyAccount(profileId));
    const storedSigningKey = await keytar.getPassword(keychain.service, signingKeyAccount(profileId));
    assert.ok(storedCacheKey && storedSigningKey, 'both keys are in the keychain');
    assert.equal(Buffer.from(storedCacheKey, 'base64').length, 32);
    // The cache is encrypted with the stored key: a connection of the test's own, keyed from the keychain, reads it.
    const db = await inspectCache(session, keychain);
    assert.ok((db.prepare('SELECT count(*) AS n FROM sqlite_master').get() as { n: number }).n > 0, 'the stored key opens the cache');
    assert.equal(session.keys.signingKey.asymmetricKeyType, 'ed25519');
    // The cache key lives only in the store's worker (which zeroes it at close): main keeps none.
    assert.equal('cacheKey' in session.keys, false, 'main holds no copy of the cache key');
    await session.close();
    assert.equal('cacheKey' in session.keys, false, 'main holds no copy of the cache key after close');

    const keyHex = Buffer.from(storedCacheKey, 'base64').toString('hex');
    for (const file of filesUnder(dir.path)) {
      const bytes = readFileSync(file);
      assert.ok(!bytes.includes(storedCacheKey) && !bytes.toString('latin1').includes(keyHex), `no key material in ${file}`);
      assert.ok(!bytes.includes(storedSigningKey), `no signing key in ${file}`);
    }
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});

test('reopening uses the same keys; a second profile gets its own', async () => {
  const keychain = testKeychain();
  const dir = scratchDir();
  try {
    const storedKey = async (profileId: string) => Buffer.from((await keytar.getPassword(keychain.service, cacheKeyAccount(profileId)))!, 'base64');
    const a = await openCacheSession({ dataDir: join(dir.path, 'a'), secrets: keychain, actor: 'test', create: true });
    const keyA = await storedKey(a.profile.profileId);
    assert.equal(keyA.length, 32);
    await a.store.call('setSyncState', { key: 'written_by_a', value: 'yes' });
    await a.close();
    const again = await openCacheSession({ dataDir: join(dir.path, 'a'), secrets: keychain, actor: 'test', create: false });
    assert.equal(again.profile.profileId, a.profile.profileId);
    // The reopened worker reads what the first session wrote: the same file, opened with the same key.
    assert.equal(await again.store.call('syncState', { key: 'written_by_a' }), 'yes');
    assert.ok((await storedKey(again.profile.profileId)).equals(keyA), 'the keychain still holds the same key');
    await again.close();
    const b = await openCacheSession({ dataDir: join(dir.path, 'b'), secrets: keychain, actor: 'test', create: true });
    assert.notEqual(b.profile.profileId, a.profile.profileId);
    assert.ok(!(await storedKey(b.profile.profileId)).equals(keyA));
    await b.close();
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});

test('refuses to open the cache without its keychain entry, and never makes a new key for it', async () => {
  const keychain = testKeychain();
  const dir = scratchDir();
  try {
    const dataDir = join(dir.path, 'c');
    await (await openCacheSession({ dataDir, secrets: keychain, actor: 'test', create: true })).close();
    const profileId = readProfile(dataDir)!.profileId;
    await keytar.deletePassword(keychain.service, cacheKeyAccount(profileId));
    await assert.rejects(
      openCacheSession({ dataDir, secrets: keychain, actor: 'test', create: true }),
      (err: unknown) => err instanceof AppError && err.code === 'CACHE_KEY_MISSING' && /keychain/.test(err.message),
    );
    assert.equal(await keytar.getPassword(keychain.service, cacheKeyAccount(profileId)), null, 'no replacement key was created');
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});

test('with no keychain at all, the app fails closed with a clear message and writes nothing', () => {
  const dir = scratchDir();
  try {
    const dataDir = join(dir.path, 'c');
    const env = { ...process.env };
    delete env.DBUS_SESSION_BUS_ADDRESS;
    delete env.DISPLAY;
    const r = spawnSync(process.execPath, cliSourceArgs(['import', SYNTHEA_FILES[0]!, '--data-dir', dataDir]), { cwd: ROOT, env, encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /KEYCHAIN_UNAVAILABLE: The OS keychain is not available/);
    assert.doesNotMatch(r.stderr, /autolaunch|X11/, 'the raw keytar error is not shown');
    assert.deepEqual(filesUnder(dir.path), [], 'nothing was written');
  } finally {
    dir.remove();
  }
});

test('with a locked keychain, the app fails closed and writes nothing', () => {
  const dir = scratchDir();
  try {
    const dataDir = join(dir.path, 'c');
    // A separate D-Bus session whose login keyring is created, then locked.
    const script = `
      set -e
      printf '%s' "$(head -c 16 /dev/urandom | base64)" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
      gdbus call --session --dest org.freedesktop.secrets --object-path /org/freedesktop/secrets \\
        --method org.freedesktop.Secret.Service.Lock "['/org/freedesktop/secrets/collection/login']" >/dev/null
      exec "$@"`;
    const r = spawnSync('dbus-run-session', ['--', 'bash', '-c', script, 'locked', process.execPath, ...cliSourceArgs(['import', SYNTHEA_FILES[0]!, '--data-dir', dataDir])], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, DISPLAY: '' },
      timeout: 60_000,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /KEYCHAIN_LOCKED: The computer's keychain is locked/);
    assert.deepEqual(filesUnder(dir.path), [], 'nothing was written');
  } finally {
    dir.remove();
  }
});
