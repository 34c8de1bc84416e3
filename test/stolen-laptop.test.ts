/**
 * The stolen-laptop threat: import the Synthea bundles through the real
 * command line, close the app, copy the whole data folder. No byte of any
 * file in it carries a patient's name, MRN, SSN, birth date, phone or street;
 * the copy does not open without this keychain's entry or with a wrong key,
 * and the errors reveal nothing either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openCacheSession } from '../electron/services/cache-session';
import { openCacheDatabase } from '../electron/services/cache-database';
import { createOsSecretStore } from '../electron/services/secret-store';
import { AppError } from '../shared/app-error';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { runCli } from './support/cache-cli';
import { SYNTHEA_FILES, findLeaks, loadFixturePatients, phiNeedles } from './support/synthea';

const needles = phiNeedles(loadFixturePatients());

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

test('the fixtures do contain the PHI we look for (the scan can find it)', () => {
  const raw = readFileSync(SYNTHEA_FILES[0]!);
  assert.ok(findLeaks(raw, needles).length >= 5);
  assert.ok(needles.length >= 15);
});

test('a copied data folder holds no PHI and does not open without the keychain entry or with a wrong key', async () => {
  const keychain = testKeychain();
  const dir = scratchDir('stolen');
  try {
    const dataDir = join(dir.path, 'cache');
    const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service };
    const imported = runCli(['import', ...SYNTHEA_FILES, '--data-dir', dataDir], env);
    assert.equal(imported.status, 0, imported.stderr);
    // The live files while the cache is open, as well as after closing.
    const session = await openCacheSession({ dataDir, secrets: keychain, actor: 'test', create: false });
    const whileOpen = allFiles(dataDir);
    assert.ok(whileOpen.some((f) => f.endsWith('-wal')), 'the WAL is there while open');
    for (const file of whileOpen) assert.deepEqual(findLeaks(readFileSync(file), needles), [], `open: ${file}`);
    await session.close();

    const stolen = join(dir.path, 'stolen-copy');
    cpSync(dataDir, stolen, { recursive: true });
    const files = allFiles(stolen);
    assert.ok(files.some((f) => f.endsWith('cache.db') && statSync(f).size > 100_000), 'the database was copied');
    for (const file of files) assert.deepEqual(findLeaks(readFileSync(file), needles), [], file);
    for (const out of [imported.stdout, imported.stderr]) assert.deepEqual(findLeaks(Buffer.from(out), needles), []);

    // Another computer: its keychain has no entry for this cache.
    const elsewhere = createOsSecretStore(`${keychain.service}.other-computer`);
    await assert.rejects(
      openCacheSession({ dataDir: stolen, secrets: elsewhere, actor: 'thief', create: true }),
      (e: unknown) => e instanceof AppError && e.code === 'CACHE_KEY_MISSING' && findLeaks(Buffer.from(e.message), needles).length === 0,
    );
    // Any wrong key: the file does not decrypt.
    assert.throws(
      () => openCacheDatabase(join(stolen, 'cache.db'), randomBytes(32), { create: false }),
      (e: unknown) => e instanceof AppError && e.code === 'CACHE_KEY_WRONG',
    );
    // The stolen copy is still the real thing: with the right keychain it opens.
    const owner = await openCacheSession({ dataDir: stolen, secrets: keychain, actor: 'test', create: false });
    assert.equal((await inspectCache(owner, keychain)).prepare('SELECT count(*) FROM patients').pluck().get() as number, 3);
    await owner.close();
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});
