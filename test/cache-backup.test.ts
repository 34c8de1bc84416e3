/**
 * Backup and restore for IT, against a real second process writing to the
 * cache (test/support/cache-writer-child.ts), real encrypted cache files and
 * gnome-keyring. A backup taken while the app writes is always a whole
 * database, still encrypted with the same key; restore replaces the database
 * only while nothing has the cache open, atomically, and leaves the old one
 * when the backup is not this cache's or not a database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../shared/app-error';
import { backupCache, backupOpenCache, restoreCache } from '../electron/services/cache-backup';
import { checkCacheIntegrity, openCacheDatabase } from '../electron/services/cache-database';
import { openCacheSession } from '../electron/services/cache-session';
import { outboxSize, recordChange } from '../electron/services/outbox';
import { readProfile } from '../electron/services/cache-profile';
import { loadDeviceKeys } from '../electron/services/device-keys';
import { runCli } from './support/cache-cli';
import { startCacheChild } from './support/cache-child';
import { folderEvents } from './support/folder-events';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';

const BACKUPS = 12;
const code = (c: string) => (e: unknown) => e instanceof AppError && e.code === c;

function observation(n: number, text = 'Heart rate') {
  return { resourceType: 'Observation', id: `obs-${n}`, status: 'final', code: { text }, subject: { reference: 'Patient/p1' }, valueQuantity: { value: 60 + n, unit: '/min' } };
}

test(`${BACKUPS} backups taken while another process writes: each opens with the key only, passes integrity_check, holds no plaintext, and none goes back in time`, { timeout: 180_000 }, async () => {
  const keychain = testKeychain();
  const dir = scratchDir('backup-live');
  const dataDir = join(dir.path, 'cache');
  const marker = `PLAINTEXT-MARKER-${randomBytes(6).toString('hex')}`;
  await (await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.b', create: true })).close();
  const writer = startCacheChild({ dataDir, keychainService: keychain.service, mode: 'write', marker });
  try {
    const keys = await loadDeviceKeys(keychain, readProfile(dataDir)!.profileId);
    await writer.line(/^open$/);
    let previous = -1;
    for (let i = 0; i < BACKUPS; i++) {
      await writer.line(/^wrote \d+$/); // the writer is mid-stream
      const out = join(dir.path, `backup-${i}.db`);
      if (i % 4 === 3) {
        const cli = runCli(['backup', '--data-dir', dataDir, '--out', out], { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service });
        assert.equal(cli.status, 0, `backup by the command line beside the writer: ${cli.stderr}`);
      } else {
        await backupCache(dataDir, keychain, out);
      }
      const bytes = readFileSync(out);
      assert.equal(bytes.includes(marker), false, `backup ${i} holds no plaintext`);
      assert.equal(bytes.includes('SQLite format 3'), false, `backup ${i} has no plaintext header`);
      assert.throws(() => openCacheDatabase(out, randomBytes(32), { create: false, readonly: true }), code('CACHE_KEY_WRONG'), 'another key does not open it');
      const copy = openCacheDatabase(out, keys.cacheKey, { create: false, readonly: true });
      try {
        checkCacheIntegrity(copy);
        const changes = copy.prepare('SELECT count(*) FROM outbox').pluck().get() as number;
        const entries = copy.prepare('SELECT count(*) FROM audit_log').pluck().get() as number;
        assert.ok(changes >= previous, `backup ${i} is not older than the one before (${changes} < ${previous})`);
        assert.ok(entries >= changes, 'each change came with its audit entry');
        previous = changes;
      } finally {
        copy.close();
      }
    }
    assert.ok(previous > 0, 'the backups hold the writer\'s changes');
    assert.deepEqual(readdirSync(dir.path).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
  } finally {
    await writer.kill();
    dir.remove();
    await keychain.cleanup();
  }
});

test('restore round-trips; it is refused while the cache is open (CACHE_IN_USE) and keeps the old database when the backup is another cache\'s or not a database', { timeout: 60_000 }, async () => {
  const keychain = testKeychain();
  const dir = scratchDir('restore');
  const dataDir = join(dir.path, 'cache');
  const otherDir = join(dir.path, 'other');
  try {
    const s = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.r', create: true });
    for (let n = 0; n < 10; n++) await recordChange(s, observation(n));
    const backup = join(dir.path, 'yesterday.db');
    await backupCache(dataDir, keychain, backup); // beside the open session
    for (let n = 10; n < 15; n++) await recordChange(s, observation(n));

    await assert.rejects(restoreCache(dataDir, keychain, backup), code('CACHE_IN_USE'), 'not while the cache is open');
    await assert.rejects(backupCache(dataDir, keychain, join(dataDir, 'cache.db')), code('INVALID_INPUT'), 'a backup never lands in the cache folder');
    assert.equal(await outboxSize(s), 15, 'the open cache is untouched');
    await s.close();

    // Another cache's backup (another key): refused, the old database stays.
    const other = await openCacheSession({ dataDir: otherDir, secrets: keychain, actor: 'dr.o', create: true });
    await recordChange(other, observation(99));
    await other.close();
    const foreign = join(dir.path, 'foreign.db');
    await backupCache(otherDir, keychain, foreign);
    await assert.rejects(restoreCache(dataDir, keychain, foreign), (e: unknown) => code('CACHE_KEY_WRONG')(e) && /not a backup of this patient cache: it belongs to another cache/.test((e as Error).message) && !/damaged/.test((e as Error).message));
    const garbage = join(dir.path, 'garbage.db');
    writeFileSync(garbage, randomBytes(64 * 1024));
    await assert.rejects(restoreCache(dataDir, keychain, garbage), code('CACHE_KEY_WRONG'));
    const still = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.r', create: false });
    assert.equal(await outboxSize(still), 15, 'old database kept after refused restores');
    await recordChange(still, observation(15)); // a commit that may still sit in the WAL when the restore runs
    await still.close();
    assert.deepEqual(readdirSync(dataDir).filter((f) => f.includes('restore') || f.endsWith('.tmp')), [], 'no temp file left in the folder');

    const cli = runCli(['restore', '--data-dir', dataDir, '--from', backup], { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service });
    assert.equal(cli.status, 0, cli.stderr);
    const restored = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.r', create: false });
    try {
      assert.equal(await outboxSize(restored), 10, 'the backup\'s ten changes, and only those');
      await restored.store.call('integrityCheck', {});
      await recordChange(restored, observation(20));
      assert.equal(await outboxSize(restored), 11, 'the restored cache takes new changes');
    } finally {
      await restored.close();
    }
    assert.deepEqual(readdirSync(dataDir).filter((f) => f.includes('restore') || f.endsWith('.tmp')), []);
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});

test('a cache bound to the passkey: the command line\'s backup is refused with a plain reason; the signed-in app backs up through its open session, and the copy opens only with the key', async () => {
  const keychain = testKeychain();
  const dir = scratchDir('backup-bound');
  const dataDir = join(dir.path, 'cache');
  const prfOutput = randomBytes(32);
  try {
    const s = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.p', create: true, binding: { prfOutput, credentialId: 'cred-1' } });
    try {
      await recordChange(s, observation(1));
      const cli = runCli(['backup', '--data-dir', dataDir, '--out', join(dir.path, 'cli.db')], { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service });
      assert.equal(cli.status, 1);
      assert.match(cli.stderr, /^error LOCKED: This cache's key is bound to the clinician's passkey, so only the signed-in app can read it/m);
      const out = join(dir.path, 'app.db');
      await backupOpenCache(s, out);
      // The key, as the signed-in app unwraps it with the passkey (the session's is only in its store's worker).
      const keys = await loadDeviceKeys(keychain, s.profile.profileId, prfOutput);
      const copy = openCacheDatabase(out, keys.cacheKey, { create: false, readonly: true });
      try {
        assert.equal(copy.prepare('SELECT count(*) FROM outbox').pluck().get(), 1);
      } finally {
        copy.close();
      }
      assert.throws(() => openCacheDatabase(out, randomBytes(32), { create: false, readonly: true }), code('CACHE_KEY_WRONG'));
    } finally {
      await s.close();
    }
    // With the passkey's PRF output (a signed-in app), backupCache works beside nothing too.
    await backupCache(dataDir, keychain, join(dir.path, 'prf.db'), { prfOutput });
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});

test('restore over a cache whose writer was SIGKILLed (its -wal still full of commits): the old WAL is never replayed onto the restored file', { timeout: 60_000 }, async () => {
  const keychain = testKeychain();
  const dir = scratchDir('restore-wal');
  const dataDir = join(dir.path, 'cache');
  try {
    const s = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.w', create: true });
    for (let n = 0; n < 5; n++) await recordChange(s, observation(n));
    await s.close();
    const backup = join(dir.path, 'backup.db');
    await backupCache(dataDir, keychain, backup);
    const writer = startCacheChild({ dataDir, keychainService: keychain.service, mode: 'write', marker: 'x' });
    await writer.line(/^wrote [1-9]\d\d+$/);
    await writer.kill();
    assert.ok(readdirSync(dataDir).includes('cache.db-wal'), 'the killed writer left its WAL');

    await restoreCache(dataDir, keychain, backup);
    assert.equal(readdirSync(dataDir).includes('cache.db-wal'), false);
    const restored = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.w', create: false });
    try {
      await restored.store.call('integrityCheck', {});
      assert.equal(await outboxSize(restored), 5, 'exactly the backup, nothing of the old WAL');
    } finally {
      await restored.close();
    }
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});

test('a backup never replaces a cache\'s file: --out <another open cache>/cache.db, <another cache>/profile.json, a cache file name or an existing file that is not a backup of this cache are refused (exit 1) and both caches stay whole; a previous backup is replaced', { timeout: 120_000 }, async () => {
  const keychain = testKeychain();
  const dir = scratchDir('backup-target');
  const a = join(dir.path, 'a');
  const b = join(dir.path, 'b');
  const c = join(dir.path, 'c');
  const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service };
  try {
    const sa = await openCacheSession({ dataDir: a, secrets: keychain, actor: 'dr.a', create: true });
    await recordChange(sa, observation(1));
    await sa.close();
    const sc = await openCacheSession({ dataDir: c, secrets: keychain, actor: 'dr.c', create: true });
    await sc.close();
    const sb = await openCacheSession({ dataDir: b, secrets: keychain, actor: 'dr.b', create: true });
    for (let n = 0; n < 10; n++) await recordChange(sb, observation(n));
    const notes = join(dir.path, 'notes.txt');
    writeFileSync(notes, 'not a backup');
    for (const out of [join(b, 'cache.db'), join(c, 'profile.json'), join(dir.path, 'cache.db'), join(dir.path, 'x.db-wal'), notes]) {
      const r = runCli(['backup', '--data-dir', a, '--out', out], env);
      assert.equal(r.status, 1, `${out}: ${r.stderr}`);
      assert.match(r.stderr, /^error INVALID_INPUT: Write the backup to a new file outside every cache folder/m);
    }
    assert.equal(readFileSync(notes, 'utf8'), 'not a backup');
    for (let n = 10; n < 15; n++) await recordChange(sb, observation(n));
    await sb.close();
    const again = await openCacheSession({ dataDir: b, secrets: keychain, actor: 'dr.b', create: false });
    assert.equal(await outboxSize(again), 15);
    await again.close();
    await (await openCacheSession({ dataDir: c, secrets: keychain, actor: 'dr.c', create: false })).close();
    const out = join(dir.path, 'a-backup.db');
    assert.equal(runCli(['backup', '--data-dir', a, '--out', out], env).status, 0);
    const twice = runCli(['backup', '--data-dir', a, '--out', out], env);
    assert.equal(twice.status, 0, twice.stderr);
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});

test('cache.db-wal and -shm deleted under the open app: a backup is refused while the journal is missing (it would miss commits); the app folds its commits into cache.db at once (folder watch), after which a backup holds every change and nothing is lost', { timeout: 120_000 }, async () => {
  const keychain = testKeychain();
  const dir = scratchDir('backup-wal-deleted');
  const dataDir = join(dir.path, 'cache');
  const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service };
  try {
    const events = folderEvents();
    const s = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.w', create: true, onFolderEvent: events.on });
    for (let n = 0; n < 50; n++) await recordChange(s, observation(n));
    const journalRestored = events.next('journal-restored');
    rmSync(join(dataDir, 'cache.db-wal'));
    rmSync(join(dataDir, 'cache.db-shm'));
    // The command line runs before the app's event loop sees the deletion: its 50 commits are only in the deleted journal.
    const refused = runCli(['backup', '--out', join(dir.path, 'early.db'), '--data-dir', dataDir], env);
    assert.equal(refused.status, 75, refused.stderr);
    assert.match(refused.stderr, /^error CACHE_IN_USE: The cache's journal file \(cache\.db-wal\) is missing/m);
    assert.equal(existsSync(join(dir.path, 'early.db')), false);
    // The folder watch folds them into cache.db and makes a new journal.
    await journalRestored;
    assert.equal(existsSync(join(dataDir, 'cache.db-wal')), true);
    // Deleted again, and the app writes before its watch runs: the write itself restores the journal first.
    rmSync(join(dataDir, 'cache.db-wal'));
    rmSync(join(dataDir, 'cache.db-shm'));
    for (let n = 50; n < 100; n++) await recordChange(s, observation(n));
    assert.equal(existsSync(join(dataDir, 'cache.db-wal')), true);
    const out = join(dir.path, 'b.db');
    const ok = runCli(['backup', '--out', out, '--data-dir', dataDir], env);
    assert.equal(ok.status, 0, ok.stderr);
    const keys = await loadDeviceKeys(keychain, readProfile(dataDir)!.profileId);
    const copy = openCacheDatabase(out, keys.cacheKey, { create: false, readonly: true });
    try {
      assert.equal(copy.prepare('SELECT count(*) FROM outbox').pluck().get(), 100, 'the backup holds every committed change');
    } finally {
      copy.close();
    }
    for (let n = 100; n < 120; n++) await recordChange(s, observation(n));
    await s.close();
    const again = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.w', create: false });
    try {
      assert.equal(await outboxSize(again), 120);
      await again.store.call('integrityCheck', {});
    } finally {
      await again.close();
    }
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});
