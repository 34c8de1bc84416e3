/**
 * The cache command line never imports into a profile enrolled with the
 * backend: its entries (actor `cli:<os-user>`) would sit in the device's
 * audit chain, which the backend refuses whole for an actor other than the
 * clinician, so the device could never upload its audit trail again. Real
 * CLI process, real keychain (gnome-keyring): the refusal is a typed error
 * with its own exit code and writes nothing; a profile not enrolled still
 * imports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readProfile } from '../electron/services/cache-profile';
import { openCacheSession } from '../electron/services/cache-session';
import { inspectCache } from './support/cache-inspect';
import { FALLBACK_POLICY, savePasskeyRecord } from '../electron/services/session/passkey-record';
import { runCli } from './support/cache-cli';
import { scratchDir } from './support/scratch';
import { SYNTHEA_FILES } from './support/synthea';
import { testKeychain } from './support/test-keychain';

/** Every file of the folder with the hash of its bytes. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const d of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (d.isFile()) {
      const path = join(d.parentPath, d.name);
      files[path] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  }
  return files;
}

test('import into a profile enrolled with the backend is refused (PROFILE_ENROLLED, exit 3) and writes nothing; before enrollment it imports', async () => {
  const keychain = testKeychain();
  const dir = scratchDir('cli-enrolled');
  try {
    const dataDir = join(dir.path, 'cache');
    const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service };
    const first = runCli(['import', SYNTHEA_FILES[0]!, '--data-dir', dataDir], env);
    assert.equal(first.status, 0, first.stderr);

    // The desktop enrolls this folder (a cache imported before enrollment keeps its keys) and files its passkey record.
    const profile = readProfile(dataDir)!;
    await savePasskeyRecord(keychain, profile.profileId, { clinicianId: 'dr.own', displayName: 'Dr Own', credentials: [], policy: { ...FALLBACK_POLICY, requirePrf: false }, lastOnlineAt: Date.now() });
    const session = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.own', create: false });
    const entriesBefore = (await inspectCache(session, keychain)).prepare('SELECT count(*) FROM audit_log').pluck().get() as number;
    await session.close();
    const before = snapshot(dataDir);

    const refused = runCli(['import', SYNTHEA_FILES[1]!, '--data-dir', dataDir], env);
    assert.equal(refused.status, 3, refused.stderr);
    assert.match(refused.stderr, /^error PROFILE_ENROLLED: .*enrolled/m);
    assert.equal(refused.stdout, '', 'no bundle reported as imported');
    assert.deepEqual(snapshot(dataDir), before, 'not a byte of the folder changed');

    const after = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.own', create: false });
    const db = await inspectCache(after, keychain);
    assert.equal(db.prepare('SELECT count(*) FROM audit_log').pluck().get() as number, entriesBefore, 'no command-line entry joined the chain');
    assert.equal(db.prepare("SELECT count(*) FROM audit_log WHERE entry LIKE '%\"cli:%'").pluck().get() as number, entriesBefore, 'only the import from before enrollment');
    await after.close();

    // The read-only commands still serve IT on an enrolled profile.
    assert.equal(runCli(['verify', '--data-dir', dataDir], env).status, 0);
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});
