/**
 * The page cache is IT's to size (policy cachePageCacheMiB, 8 to 256 MiB,
 * default 16): the value in a real Linux policy file (read as root from a
 * scratch folder standing in for /etc/clinician-desktop) reaches the
 * encrypted connection of a session opened afterwards (real keychain, real
 * file) and of a store worker; a value that cannot be right is refused with
 * a typed error and a log line naming the setting (never the value), and the
 * default is used; a size outside the bounds never reaches SQLite. A
 * session's connection lives in its store's worker thread: the session here
 * runs the app's store host in a worker that reads `PRAGMA cache_size` from
 * that connection and tells the test (./support/page-cache-worker.ts). The
 * pragmas a cache runs with are read back from a real encrypted cache file, among
 * them the memory security of freed pages, which the open asks for and this
 * build of SQLite3MultipleCiphers does not offer (README "Page cache and
 * memory").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { BroadcastChannel } from 'node:worker_threads';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AppError } from '../shared/app-error';
import { resolveAppConfig } from '../electron/services/app-config';
import { openCacheDatabase, type CacheDatabase } from '../electron/services/cache-database';
import { DATABASE_FILE } from '../electron/services/cache-profile';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import { loadDeviceKeys } from '../electron/services/device-keys';
import { effectiveSettings } from '../electron/services/policy/effective-settings';
import { readLinuxPolicyFile } from '../electron/services/policy/linux-policy-file';
import type { PolicyReading } from '../electron/services/policy/policy-reader';
import { PAGE_CACHE_KIB_DEFAULT, PAGE_CACHE_MIB_DEFAULT, pageCacheKiB, pageCacheOf, usePageCache, type PageCacheChoice } from '../electron/services/page-cache-policy';
import { openWorkerStore, type WorkerCacheStore } from '../electron/services/store/store-client';
import { ROOT } from './support/cache-cli';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';

const CONFIGURED = { backendUrl: 'https://api.hospital.example/', appOrigin: 'https://clinician.hospital.example', rpId: 'hospital.example' };

/** IT's policy file with these values (plus the required ones), read by the app's own Linux reader. */
function policyFileReading(values: Record<string, unknown>): PolicyReading {
  const dir = scratchDir('policy');
  try {
    const folder = join(dir.path, 'clinician-desktop');
    mkdirSync(folder, { mode: 0o755 });
    chmodSync(folder, 0o755);
    const file = join(folder, 'policy.json');
    writeFileSync(file, JSON.stringify({ ...CONFIGURED, ...values }));
    chmodSync(file, 0o644);
    return readLinuxPolicyFile(file);
  } finally {
    dir.remove();
  }
}

/** What main does at start: resolve the machine configuration, log its problems, choose the page cache from the effective settings, use it. */
function startLikeMain(reading: PolicyReading): { choice: PageCacheChoice; logged: string[] } {
  const resolved = resolveAppConfig({ platform: 'linux', env: {}, developmentBuild: false, policy: reading });
  const logged = resolved.problems.map((p) => `[policy] ${p}`);
  const choice = pageCacheOf(effectiveSettings(resolved.inputs));
  usePageCache(choice);
  return { choice, logged };
}

function cacheSizeKiB(db: CacheDatabase): number {
  return -Number(db.pragma('cache_size', { simple: true }));
}

/** The store worker that reads back its connection's page cache (./support/page-cache-worker.ts), and the channel it tells it on. */
const PAGE_CACHE_WORKER = join(ROOT, 'test', 'support', 'page-cache-worker.ts');
const PAGE_CACHE_CHANNEL = 'clinician-test-page-cache';

/**
 * A real cache in a scratch folder with a real keychain, its session opened
 * as the app opens it (no page cache of the caller's own), and `cacheKiB`:
 * the page cache the session's own connection, in its worker, runs with.
 */
interface ObservedCache {
  session: CacheSession;
  cacheKiB: number;
  keychain: ReturnType<typeof testKeychain>;
  /** The session closed and the cache opened again (with the process's page cache as it is now). */
  reopen(): Promise<void>;
  dispose(): Promise<void>;
}

async function openObservedCache(): Promise<ObservedCache> {
  const keychain = testKeychain();
  const dir = scratchDir('page-cache-session');
  const dataDir = join(dir.path, 'cache');
  const open = async (create: boolean): Promise<{ session: CacheSession; cacheKiB: number }> => {
    const channel = new BroadcastChannel(PAGE_CACHE_CHANNEL);
    try {
      const told = new Promise<number>((resolve) => {
        channel.onmessage = (event: unknown) => {
          const { file, cacheKiB } = (event as { data: { file: string; cacheKiB: number } }).data;
          if (file === join(dataDir, DATABASE_FILE)) resolve(cacheKiB);
        };
      });
      const session = await openCacheSession({ dataDir, secrets: keychain, actor: 'test-clinician', create, workerFile: PAGE_CACHE_WORKER });
      return { session, cacheKiB: await told };
    } finally {
      channel.close();
    }
  };
  let first: { session: CacheSession; cacheKiB: number };
  try {
    first = await open(true);
  } catch (err) {
    dir.remove();
    await keychain.cleanup();
    throw err;
  }
  const o: ObservedCache = {
    ...first,
    keychain,
    async reopen() {
      await o.session.close();
      Object.assign(o, await open(false));
    },
    async dispose() {
      await o.session.close();
      dir.remove();
      await keychain.cleanup();
    },
  };
  return o;
}

/** The session closed, then the same cache opened in a store worker (key from the keychain), with no page cache of the caller's own. */
async function openStoreWorker(cache: ObservedCache): Promise<WorkerCacheStore> {
  const { profileId, databaseFile } = cache.session.profile;
  await cache.session.close();
  const keys = await loadDeviceKeys(cache.keychain, profileId);
  return openWorkerStore({
    file: databaseFile,
    key: keys.cacheKey,
    signingKey: keys.signingKey,
    publicKey: keys.publicKey,
    context: { actor: 'test-clinician', deviceId: profileId, purpose: 'TREAT' },
    create: false,
  });
}

/** Each test leaves the process's page cache as it found it (the default). */
function restoreDefault() {
  usePageCache({ mib: PAGE_CACHE_MIB_DEFAULT, kib: PAGE_CACHE_KIB_DEFAULT, source: 'default', refused: null });
}

test('unset: the default, 16 MiB, is what a session opens with and what a store worker is sent', async () => {
  const { choice, logged } = startLikeMain(policyFileReading({}));
  assert.equal(PAGE_CACHE_MIB_DEFAULT, 16);
  assert.deepEqual(choice, { mib: 16, kib: 16384, source: 'default', refused: null });
  assert.deepEqual(logged, []);
  const cache = await openObservedCache();
  try {
    assert.equal(cache.cacheKiB, 16384);
    const store = await openStoreWorker(cache);
    try {
      assert.equal(store.cacheKiB, 16384);
    } finally {
      await store.close();
    }
  } finally {
    await cache.dispose();
  }
});

test("IT's value in the policy file reaches the session's encrypted connection and a store worker's", async () => {
  try {
    const { choice, logged } = startLikeMain(policyFileReading({ cachePageCacheMiB: 24 }));
    assert.deepEqual(choice, { mib: 24, kib: 24576, source: 'policy', refused: null });
    assert.deepEqual(logged, []);
    assert.equal(pageCacheKiB(), 24576);
    // The session's open, with no page cache of its own: the policy's.
    const cache = await openObservedCache();
    try {
      assert.equal(cache.cacheKiB, 24576);
      // The store worker's open (a thread of its own, its own modules): the value travels in the open message.
      const store = await openStoreWorker(cache);
      try {
        assert.equal(store.cacheKiB, 24576);
      } finally {
        await store.close();
      }
      // The bounds are IT's too: the smallest and largest allowed reach the connection as given.
      for (const mib of [8, 256]) {
        usePageCache(pageCacheOf(effectiveSettings(resolveAppConfig({ platform: 'linux', env: {}, developmentBuild: false, policy: policyFileReading({ cachePageCacheMiB: mib }) }).inputs)));
        await cache.reopen();
        assert.equal(cache.cacheKiB, mib * 1024);
      }
    } finally {
      await cache.dispose();
    }
  } finally {
    restoreDefault();
  }
});

test("main uses IT's page cache from the settings it resolved, before sign-in can open a cache (the binary cannot run here, so its source is read)", () => {
  const main = readFileSync(join(ROOT, 'electron', 'main.ts'), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
  const resolved = main.indexOf('settingsInputs = resolved.inputs;');
  const used = main.search(/usePageCache\(\s*pageCacheOf\(\s*effectiveSettings\(\s*settingsInputs\s*\)\s*\)\s*\)/);
  assert.ok(resolved > 0, 'main resolves its settings');
  assert.ok(used > resolved, 'main applies the page cache of the settings it resolved');
  for (const later of ['new AuthService(', 'auth.start()', 'bindRegistry(']) {
    assert.ok(main.indexOf(later) > used, `${later} comes after the page cache is set`);
  }
  // Settings are resolved once at start: no later resolve would need the page cache set again.
  assert.equal(main.match(/resolveAppConfig\(/g)?.length, 1);
});

test('a value that cannot be right is refused with a typed error and a log line naming the setting, never the value; the default is used', async () => {
  try {
    for (const bad of [4, 257, 1_000_000, 16.5, -64, '32', 'lots', true, ['64'], { mib: 64 }]) {
      const { choice, logged } = startLikeMain(policyFileReading({ cachePageCacheMiB: bad }));
      assert.equal(choice.kib, 16384, `default used for ${JSON.stringify(bad)}`);
      assert.equal(choice.source, 'default');
      assert.ok(choice.refused instanceof AppError, 'a typed error');
      assert.equal(choice.refused.code, 'INVALID_INPUT');
      assert.match(choice.refused.message, /^Cache memory \(cachePageCacheMiB\) must be a whole number from 8 to 256/);
      assert.equal(logged.length, 1);
      assert.match(logged[0]!, /^\[policy\] Cache memory \(cachePageCacheMiB\) must be a whole number from 8 to 256.*the safest value is used\.$/);
      const shown = typeof bad === 'object' ? JSON.stringify(bad) : String(bad);
      assert.ok(!logged[0]!.includes(shown) && !choice.refused.message.includes(shown), `the value ${shown} is not echoed`);
      assert.equal(pageCacheKiB(), 16384);
    }
    // A value the OS store holds in a form that cannot be right (a REG_SZ where a REG_QWORD belongs): refused the same way.
    const windows: PolicyReading = { values: { ...CONFIGURED }, source: 'Windows Group Policy (test)', present: true, problems: [], invalid: { cachePageCacheMiB: 'Cache memory (cachePageCacheMiB) must be a number (REG_QWORD; the ADMX template writes one)' } };
    const { choice } = startLikeMain(windows);
    assert.equal(choice.kib, 16384);
    assert.equal(choice.refused?.code, 'INVALID_INPUT');
    // And the session opened after a refusal runs with the default.
    const { choice: junk } = startLikeMain(policyFileReading({ cachePageCacheMiB: 'lots' }));
    assert.ok(junk.refused);
    const cache = await openObservedCache();
    try {
      assert.equal(cache.cacheKiB, 16384);
    } finally {
      await cache.dispose();
    }
  } finally {
    restoreDefault();
  }
});

test('a page cache outside the bounds never reaches SQLite: refused before the file is touched', () => {
  const dir = scratchDir('page-cache');
  try {
    const file = join(dir.path, 'cache.db');
    for (const bad of [0, 1024, 8191, 256 * 1024 + 1, 4 * 1024 * 1024, 16384.5, Number.NaN, Infinity, '16384; PRAGMA key = 0' as unknown as number]) {
      assert.throws(() => openCacheDatabase(file, randomBytes(32), { create: true, cacheKiB: bad }), (e: unknown) => e instanceof AppError && e.code === 'INVALID_INPUT' && /8 to 256 MiB/.test(e.message), String(bad));
      assert.equal(existsSync(file), false, 'nothing was created');
    }
    assert.throws(() => usePageCache({ mib: 1, kib: 1024, source: 'policy', refused: null }), (e: unknown) => e instanceof AppError && e.code === 'INVALID_INPUT');
    assert.equal(pageCacheKiB(), 16384);
  } finally {
    dir.remove();
  }
});

test('a real encrypted cache file opened as the app opens it runs with the chosen pragmas (read back), and this library offers no memory security for freed pages', () => {
  const dir = scratchDir('page-cache');
  const key = randomBytes(32);
  try {
    const file = join(dir.path, 'cache.db');
    const created = openCacheDatabase(file, key, { create: true, cacheKiB: 40 * 1024 });
    created.close();
    const db = openCacheDatabase(file, key, { create: false, cacheKiB: 40 * 1024 });
    try {
      const one = (pragma: string) => db.pragma(pragma, { simple: true });
      assert.equal(cacheSizeKiB(db), 40 * 1024);
      assert.equal(one('cipher'), 'aegis');
      assert.equal(one('journal_mode'), 'wal');
      assert.equal(one('synchronous'), 1, 'NORMAL');
      assert.equal(one('temp_store'), 2, 'MEMORY: no plaintext temp file');
      assert.equal(one('foreign_keys'), 1);
      // SQLite3MultipleCiphers turns secure_delete on for an encrypted file: deleted rows are overwritten on disk, not left in free pages.
      assert.equal(one('secure_delete'), 1);
      // The open asked for memory_security = fill, but this build has no wiping of freed memory (SQLITE3MC_SECURE_MEMORY is not
      // compiled into better-sqlite3-multiple-ciphers): neither SQLite3MultipleCiphers' pragma nor SQLCipher's answers.
      // A build that answers fails here: then assert it reads back 1 (fill) and update README "Page cache and memory".
      assert.deepEqual(db.pragma('memory_security'), []);
      assert.deepEqual(db.pragma('cipher_memory_security'), []);
      assert.match(String(db.prepare('SELECT sqlite3mc_version()').pluck().get()), /^SQLite3 Multiple Ciphers 2\./);
    } finally {
      db.close();
    }
    // The file holds no plaintext: another key does not open it.
    assert.throws(() => openCacheDatabase(file, randomBytes(32), { create: false }), (e: unknown) => e instanceof AppError && e.code === 'CACHE_KEY_WRONG');
  } finally {
    key.fill(0);
    dir.remove();
  }
});
