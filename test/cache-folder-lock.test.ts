/**
 * One writer per cache data folder: a real OS lock, held while a cache is
 * open, released by the OS when the holder dies. Real second processes
 * (test/support/cache-writer-child.ts, the cache command line), real
 * encrypted cache files and gnome-keyring. The reproduction from issue 9: `cache
 * wipe` while the app had the cache open exited 0 and every unsynced change
 * was lost; now it is refused with CACHE_IN_USE and nothing goes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../shared/app-error';
import { openCacheSession } from '../electron/services/cache-session';
import { outboxSize, recordChange } from '../electron/services/outbox';
import { readProfile } from '../electron/services/cache-profile';
import { cacheKeyAccount, dropKeys, loadDeviceKeys, signingKeyAccount } from '../electron/services/device-keys';
import { openCacheDatabase } from '../electron/services/cache-database';
import { wipeCache } from '../electron/services/cache-maintenance';
import { acquireFolderLock } from '../electron/services/cache-folder-lock';
import { backupCache } from '../electron/services/cache-backup';
import { setSyncState, syncState } from '../electron/services/sync-state';
import { randomBytes } from 'node:crypto';
import { inspectCache } from './support/cache-inspect';
import { folderEvents } from './support/folder-events';
import { runCli } from './support/cache-cli';
import { startCacheChild } from './support/cache-child';
import { scratchDir } from './support/scratch';
import { syntheticPatientBundle } from './support/synthetic-bundles';
import { testKeychain } from './support/test-keychain';

const inUse = (e: unknown) => e instanceof AppError && e.code === 'CACHE_IN_USE' && /open in another Clinician Desktop window or program/.test(e.message);

function observation(n: number) {
  return { resourceType: 'Observation', id: `obs-${n}`, status: 'final', code: { text: 'Heart rate' }, subject: { reference: 'Patient/p1' }, valueQuantity: { value: 60 + n, unit: '/min' } };
}

test('a cache open in another process: a second open, `cache wipe`, `import` and `restore` are refused with CACHE_IN_USE and every unsynced change stays; after the holder is SIGKILLed the folder opens again', { timeout: 120_000 }, async () => {
  const keychain = testKeychain();
  const dir = scratchDir('lock');
  const dataDir = join(dir.path, 'cache');
  const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service };
  const child = (() => {
    let c: ReturnType<typeof startCacheChild> | null = null;
    return { set: (x: ReturnType<typeof startCacheChild>) => (c = x), kill: () => c?.kill() };
  })();
  try {
    const first = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.lock', create: true });
    for (let n = 0; n < 25; n++) await recordChange(first, observation(n));
    assert.equal(await outboxSize(first), 25);
    await first.close();
    const profileId = readProfile(dataDir)!.profileId;

    const holder = child.set(startCacheChild({ dataDir, keychainService: keychain.service, mode: 'hold' }));
    await holder.line(/^open$/);

    await assert.rejects(openCacheSession({ dataDir, secrets: keychain, actor: 'dr.lock', create: false }), inUse, 'a second open in this process');

    const wipe = runCli(['wipe', '--data-dir', dataDir], env);
    assert.equal(wipe.status, 75, `wipe exit code: ${wipe.stderr}`);
    assert.match(wipe.stderr, /^error CACHE_IN_USE: This patient cache is open in another Clinician Desktop window or program\. Close it and try again\./m);
    assert.equal(wipe.stdout, '');

    const bundle = join(dir.path, 'bundle.json');
    writeFileSync(bundle, JSON.stringify(syntheticPatientBundle({ patientId: 'p2', observations: 3 })));
    const imported = runCli(['import', bundle, '--data-dir', dataDir], env);
    assert.equal(imported.status, 75, `import exit code: ${imported.stderr}`);
    assert.match(imported.stderr, /CACHE_IN_USE/);

    const restored = runCli(['restore', '--from', bundle, '--data-dir', dataDir], env);
    assert.equal(restored.status, 75, `restore exit code: ${restored.stderr}`);

    await assert.rejects(wipeCache(dataDir, keychain, { waitMs: 0 }), inUse, 'the app\'s wipe refuses too');

    for (const name of ['cache.db', 'profile.json']) assert.ok(existsSync(join(dataDir, name)), `${name} is still there`);
    assert.notEqual(await keychain.get(cacheKeyAccount(profileId)), null, 'cache key still in the keychain');
    assert.notEqual(await keychain.get(signingKeyAccount(profileId)), null, 'signing key still in the keychain');

    await holder.kill();
    const again = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.lock', create: false });
    try {
      assert.equal(await outboxSize(again), 25, 'every unsynced change survived');
      const db = await inspectCache(again, keychain);
      assert.equal(db.prepare("SELECT count(*) FROM resources WHERE id LIKE 'obs-%'").pluck().get(), 25);
    } finally {
      await again.close();
    }
    // With nothing open, the command line may wipe.
    const wiped = runCli(['wipe', '--data-dir', dataDir], env);
    assert.equal(wiped.status, 0, wiped.stderr);
    assert.equal(existsSync(dataDir), false, 'folder gone, lock file included');
  } finally {
    await child.kill();
    dir.remove();
    await keychain.cleanup();
  }
});

test('two opens racing in one process (folder with a non-ASCII path): exactly one wins, the other is CACHE_IN_USE; closing releases the lock', async () => {
  const keychain = testKeychain();
  const dir = scratchDir('lock-race');
  const dataDir = join(dir.path, 'Ärztin 東京 🩺', 'cache');
  try {
    await (await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.lock', create: true })).close();
    const results = await Promise.allSettled([0, 1, 2].map(() => openCacheSession({ dataDir, secrets: keychain, actor: 'dr.lock', create: false })));
    const opened = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(opened.length, 1, 'one writer');
    assert.equal(refused.length, 2);
    for (const r of refused) assert.ok(inUse(r.reason), String(r.reason));
    await opened[0]!.value.close();
    const next = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.lock', create: false, lockWaitMs: 0 });
    await next.close();
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});

test('an open that fails (no key in this keychain) releases the lock: the right keychain opens at once', async () => {
  const keychain = testKeychain();
  const other = testKeychain();
  const dir = scratchDir('lock-fail');
  const dataDir = join(dir.path, 'cache');
  try {
    await (await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.lock', create: true })).close();
    await assert.rejects(openCacheSession({ dataDir, secrets: other, actor: 'dr.lock', create: false }), (e: unknown) => e instanceof AppError && e.code === 'CACHE_KEY_MISSING');
    const s = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.lock', create: false, lockWaitMs: 0 });
    await s.close();
  } finally {
    dir.remove();
    await keychain.cleanup();
    await other.cleanup();
  }
});

test('the lock file deleted while a cache is open: never two writers (the holder re-locks before writing, or stops writing when another opener took the new lock)', async () => {
  const keychain = testKeychain();
  const dir = scratchDir('lock-deleted');
  const dataDir = join(dir.path, 'cache');
  try {
    const a = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.a', create: true });
    // Deleted, then the holder writes first: it takes a new lock, so a second opener is refused.
    rmSync(join(dataDir, 'cache.lock'));
    await recordChange(a, observation(1));
    await assert.rejects(openCacheSession({ dataDir, secrets: keychain, actor: 'dr.b', create: false }), inUse);

    // Deleted, then a second opener comes first: it gets the new lock and the old holder may no longer write.
    rmSync(join(dataDir, 'cache.lock'));
    const b = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.b', create: false });
    await assert.rejects(async () => await recordChange(a, observation(2)), inUse);
    await recordChange(b, observation(3));
    await a.close();
    await b.close();
    const c = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.c', create: false });
    try {
      const db = await inspectCache(c, keychain);
      assert.deepEqual(db.prepare("SELECT id FROM resources WHERE id LIKE 'obs-%' ORDER BY id").pluck().all(), ['obs-1', 'obs-3']);
      assert.deepEqual(readdirSync(dataDir).sort(), ['cache.db', 'cache.db-shm', 'cache.db-wal', 'cache.lock', 'profile.json']);
    } finally {
      await c.close();
    }
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});

test('an open that starts while this process is still closing the cache (an unlock just aborted) waits for the lock instead of reporting another window', async () => {
  const keychain = testKeychain();
  const dir = scratchDir('lock-handover');
  const dataDir = join(dir.path, 'cache');
  try {
    const first = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.a', create: true });
    const second = openCacheSession({ dataDir, secrets: keychain, actor: 'dr.a', create: false });
    // Not awaited: the second open starts while the first session's worker is still closing.
    const closed = first.close();
    const s = await second;
    await closed;
    await s.close();
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});

test('cache.lock deleted by hand while the app has the cache open with unsynced changes: `cache wipe` and `restore` of an older backup are refused (exit 75) and nothing is lost; after the app closed, --force runs them', { timeout: 120_000 }, async () => {
  const keychain = testKeychain();
  const dir = scratchDir('lock-deleted-cli');
  const dataDir = join(dir.path, 'cache');
  const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service };
  try {
    const app = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.a', create: true });
    for (let n = 0; n < 5; n++) await recordChange(app, observation(n));
    const backup = join(dir.path, 'old.db');
    await backupCache(dataDir, keychain, backup);
    for (let n = 5; n < 20; n++) await recordChange(app, observation(n));
    rmSync(join(dataDir, 'cache.lock'));
    const wipe = runCli(['wipe', '--data-dir', dataDir], env);
    assert.equal(wipe.status, 75, wipe.stderr);
    assert.match(wipe.stderr, /^error CACHE_IN_USE: The lock file of this patient cache \(cache\.lock\) was deleted.*--force\./m);
    const restore = runCli(['restore', '--from', backup, '--data-dir', dataDir], env);
    assert.equal(restore.status, 75, restore.stderr);
    for (let n = 20; n < 30; n++) await recordChange(app, observation(n));
    assert.equal(await outboxSize(app), 30);
    await app.close();
    const again = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.a', create: false });
    assert.equal(await outboxSize(again), 30, 'every change the app accepted is still there');
    await again.close();

    // Closed, the lock file deleted again: the operator knows nothing has it open and forces.
    rmSync(join(dataDir, 'cache.lock'));
    const forced = runCli(['restore', '--force', '--from', backup, '--data-dir', dataDir], env);
    assert.equal(forced.status, 0, forced.stderr);
    const restored = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.a', create: false });
    assert.equal(await outboxSize(restored), 5);
    await restored.close();
    rmSync(join(dataDir, 'cache.lock'));
    const forcedWipe = runCli(['wipe', '--force', '--data-dir', dataDir], env);
    assert.equal(forcedWipe.status, 0, forcedWipe.stderr);
    assert.equal(existsSync(dataDir), false);
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});

test('cache.lock deleted while open: the app re-takes it at once (folder watch), so a second process is refused; when another opener took it first, the first session\'s writes that bypass audited() (sync state, outbox settle) are refused too', { timeout: 120_000 }, async () => {
  const keychain = testKeychain();
  const dir = scratchDir('lock-deleted-watch');
  const dataDir = join(dir.path, 'cache');
  let child: ReturnType<typeof startCacheChild> | null = null;
  try {
    const events = folderEvents();
    const a = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.a', create: true, onFolderEvent: events.on });
    // The test's own connection to A's file: what committed, seen beside the worker.
    const db = await inspectCache(a, keychain);
    await recordChange(a, observation(0));
    const relocked = events.next('relocked');
    rmSync(join(dataDir, 'cache.lock'));
    await relocked;
    assert.equal(existsSync(join(dataDir, 'cache.lock')), true, 'the lock file is back');
    child = startCacheChild({ dataDir, keychainService: keychain.service, mode: 'write' });
    assert.equal(await child.line(/^open$|^refused/), 'refused CACHE_IN_USE', 'the second process is refused');
    await setSyncState(a, 'probe', 'a-still-writes');
    assert.equal(await syncState(a, 'probe'), 'a-still-writes');

    // Another opener wins the new lock before the watch fires: A stops writing on every path.
    const lost = events.next('writer-lost');
    rmSync(join(dataDir, 'cache.lock'));
    const other = acquireFolderLock(dataDir, { create: false });
    await lost;
    const committed = (on: typeof db) => ({
      probe: on.prepare("SELECT value FROM sync_state WHERE key = 'probe'").pluck().get(),
      entries: on.prepare('SELECT count(*) FROM audit_log').pluck().get(),
      heads: on.prepare('SELECT count(*) FROM audit_heads').pluck().get(),
      outbox: on.prepare('SELECT count(*) FROM outbox').pluck().get(),
    });
    const atLoss = committed(db);
    await assert.rejects(setSyncState(a, 'probe', 'two-writers'), inUse, 'sync state is not written beside the other writer');
    await assert.rejects(async () => await recordChange(a, observation(1)), inUse);
    // Sync state goes through the cache store, whose every call is one write transaction: refused too; the value stayed.
    await assert.rejects(syncState(a, 'probe'), inUse);
    assert.equal(db.prepare("SELECT value FROM sync_state WHERE key = 'probe'").pluck().get(), 'a-still-writes', 'the refused write left nothing');
    assert.deepEqual(committed(db), atLoss, 'nothing committed beside the other writer');
    await a.close();
    // A session that lost the folder writes nothing at close either, not even its signed head.
    const keys = await loadDeviceKeys(keychain, a.profile.profileId);
    const afterClose = openCacheDatabase(a.profile.databaseFile, keys.cacheKey, { create: false, readonly: true });
    try {
      assert.deepEqual(committed(afterClose), atLoss, 'the close committed nothing beside the other writer');
    } finally {
      afterClose.close();
      dropKeys(keys);
    }
    other.release();
    const c = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.c', create: false });
    try {
      assert.equal(await syncState(c, 'probe'), 'a-still-writes');
      assert.equal(await outboxSize(c), 1);
    } finally {
      await c.close();
    }
  } finally {
    await child?.kill();
    dir.remove();
    await keychain.cleanup();
  }
});

test('junk in cache.lock (a faulty disk, a tool that wrote into it): the app opens, `verify` and `wipe` run; nobody holds a lock on it, so it is emptied once', { timeout: 120_000 }, async () => {
  const keychain = testKeychain();
  const dir = scratchDir('lock-junk');
  const dataDir = join(dir.path, 'cache');
  const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service };
  try {
    const s = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.x', create: true });
    await recordChange(s, observation(1));
    await s.close();
    writeFileSync(join(dataDir, 'cache.lock'), randomBytes(4096));
    const again = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.x', create: false });
    assert.equal(await outboxSize(again), 1);
    // Held: junk written again is still no way into the folder for a second opener.
    await assert.rejects(openCacheSession({ dataDir, secrets: keychain, actor: 'dr.y', create: false, lockWaitMs: 0 }), inUse);
    await again.close();
    writeFileSync(join(dataDir, 'cache.lock'), randomBytes(4096));
    const verify = runCli(['verify', '--data-dir', dataDir], env);
    assert.equal(verify.status, 0, verify.stderr);
    writeFileSync(join(dataDir, 'cache.lock'), randomBytes(4096));
    const wipe = runCli(['wipe', '--data-dir', dataDir], env);
    assert.equal(wipe.status, 0, wipe.stderr);
    assert.equal(existsSync(dataDir), false);
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});
