/**
 * Every file of a cache data folder is 0600 and the folder 0700 on POSIX:
 * the database and the -wal/-shm SQLite makes beside it, the profile, the
 * lock file and backups; a folder an older version left 0644/0755 is
 * tightened at the next open. Real files, the process umask left as it is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { backupCache } from '../electron/services/cache-backup';
import { openCacheSession } from '../electron/services/cache-session';
import { recordChange } from '../electron/services/outbox';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

test('cache.db, -wal, -shm, profile.json, cache.lock and a backup are 0600, the folder 0700, with the usual umask 022; an older 0644 folder is tightened at open', { skip: process.platform === 'win32' ? 'POSIX modes' : false }, async () => {
  const keychain = testKeychain();
  const dir = scratchDir('modes');
  const dataDir = join(dir.path, 'cache');
  const umask = process.umask(0o022);
  try {
    const s = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.m', create: true });
    await recordChange(s, { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } });
    const files = readdirSync(dataDir).sort();
    assert.deepEqual(files, ['cache.db', 'cache.db-shm', 'cache.db-wal', 'cache.lock', 'profile.json']);
    for (const f of files) assert.equal(mode(join(dataDir, f)), '600', f);
    assert.equal(mode(dataDir), '700', 'folder');
    const backup = join(dir.path, 'backup.db');
    await backupCache(dataDir, keychain, backup);
    assert.equal(mode(backup), '600', 'backup');
    await s.close();
    assert.equal(process.umask(), 0o022, 'the process umask is left alone');

    // As an older version left it.
    chmodSync(dataDir, 0o755);
    for (const f of readdirSync(dataDir)) chmodSync(join(dataDir, f), 0o644);
    const again = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.m', create: false });
    try {
      for (const f of readdirSync(dataDir)) assert.equal(mode(join(dataDir, f)), '600', `${f} tightened`);
      assert.equal(mode(dataDir), '700');
    } finally {
      await again.close();
    }
  } finally {
    process.umask(umask);
    dir.remove();
    await keychain.cleanup();
  }
});
