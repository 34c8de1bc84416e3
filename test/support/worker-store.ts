/**
 * The cache store as its tests drive it: a real encrypted cache made by the
 * app's own first run (openTestCache, with a real keychain), its session
 * closed, then the same file opened in the store's worker thread with the
 * keys loaded from the keychain, plus a connection of the test's own to that
 * file (to arrange faults and look at what committed).
 *
 * Never a mock: the store is the real worker over the real encrypted file.
 * Never reuse a cache across tests: every call makes a fresh cache, and the
 * test disposes of it (store, its own connection and the cache) when done.
 */
import assert from 'node:assert/strict';
import { AppError } from '../../shared/app-error';
import { parseBundle } from '../../shared/fhir-bundle';
import { openCacheDatabase, type CacheDatabase } from '../../electron/services/cache-database';
import { loadDeviceKeys, type DeviceKeys } from '../../electron/services/device-keys';
import type { StoreOpenArgs } from '../../electron/services/store/store-api';
import { openWorkerStore, type WorkerCacheStore } from '../../electron/services/store/store-client';
import { openTestCache, type TestCache } from './open-test-cache';
import { syntheticPatientBundle } from './synthetic-bundles';

export interface WorkerTestStore {
  cache: TestCache;
  store: WorkerCacheStore;
  /** A connection of the test's own to the same file (to arrange faults and look at what committed). */
  db: CacheDatabase;
  /** The device keys, loaded on their own (the store's copy of the cache key is transferred to its worker). */
  keys: DeviceKeys;
  deviceId: string;
  dispose(): Promise<void>;
}

export interface WorkerTestStoreOptions {
  actor: string;
  /** Left out of the store's context when not given. */
  actorName?: string;
  /** What the store is told of the network; 'online' when not given. */
  network?: 'online' | 'offline';
  /** Run on the app's session (the cache as its first run left it) before the session closes. */
  arrange?: (cache: TestCache) => void | Promise<void>;
}

/** A cache the app's first run made, its session closed, with keys of the test's own (loaded from the keychain). */
export interface ClosedTestCache {
  cache: TestCache;
  profileId: string;
  databaseFile: string;
  keys: DeviceKeys;
  /** What a StoreHost run in the test's own thread is opened with: a fresh copy of the cache key (zeroed by the host at close) in `key`. */
  hostOpen(): { key: ArrayBuffer; open: StoreOpenArgs };
}

/**
 * A fresh cache made by the app's first run (`arrange` runs on its session
 * first), the session closed, and the device keys loaded for the test: for
 * tests that open the file themselves (a StoreHost in their own thread, a
 * store worker from a module of their own).
 */
export async function closedTestCache(actor: string, arrange?: (cache: TestCache) => void | Promise<void>): Promise<ClosedTestCache> {
  const cache = await openTestCache(actor);
  if (arrange) await arrange(cache);
  const { profileId, databaseFile } = cache.session.profile;
  await cache.session.close();
  const keys = await loadDeviceKeys(cache.keychain, profileId);
  return {
    cache,
    profileId,
    databaseFile,
    keys,
    hostOpen() {
      const key = new ArrayBuffer(32);
      new Uint8Array(key).set(keys.cacheKey);
      const context = { actor, deviceId: profileId, purpose: 'TREAT' };
      return { key, open: { file: databaseFile, key, signingKey: keys.signingKey, publicKey: keys.publicKey, context, create: false } };
    },
  };
}

/** A fresh cache made by the app's first run, then opened in a store worker with the keys from the keychain, plus a connection of the test's own. */
export async function openWorkerTestStore(options: WorkerTestStoreOptions): Promise<WorkerTestStore> {
  const { actor, actorName, network = 'online', arrange } = options;
  // The store's keys are loaded for it alone: its cache key buffer is transferred to the worker.
  const { cache, profileId, databaseFile, keys: storeKeys } = await closedTestCache(actor, arrange);
  const store = await openWorkerStore({
    file: databaseFile,
    key: storeKeys.cacheKey,
    signingKey: storeKeys.signingKey,
    publicKey: storeKeys.publicKey,
    context: { actor, ...(actorName === undefined ? {} : { actorName }), deviceId: profileId, purpose: 'TREAT' },
    create: false,
    network: () => network,
  });
  const keys = await loadDeviceKeys(cache.keychain, profileId);
  const db = openCacheDatabase(databaseFile, Buffer.from(keys.cacheKey), { create: false });
  return {
    cache,
    store,
    db,
    keys,
    deviceId: profileId,
    async dispose() {
      await store.close().catch(() => undefined);
      db.close();
      await cache.dispose();
    },
  };
}

/** Awaits `promise`, which must reject with an AppError of `code`; answers that error. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<AppError> {
  const err = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AppError, `a typed error, not ${String(err)}`);
  assert.equal(err.code, code);
  return err;
}

/** The number of entries in the audit log. */
export function auditCount(db: CacheDatabase): number {
  return db.prepare('SELECT count(*) FROM audit_log').pluck().get() as number;
}

/** The number of a patient's resources in the cache, its Patient resource included. */
export function resourceCount(db: CacheDatabase, patientId: string): number {
  return db.prepare('SELECT count(*) FROM resources WHERE patient_id = ? OR (resource_type = ? AND id = ?)').pluck().get(patientId, 'Patient', patientId) as number;
}

/** A synthetic patient's bundle as the import hands it to the store. */
export function bundleResources(patientId: string, observations: number) {
  return parseBundle(JSON.stringify(syntheticPatientBundle({ patientId, observations })));
}

/** Any audit entry whose text holds `marker` is refused by SQLite: a real failing statement inside the store's transaction. */
export function refuseAuditEntriesNaming(db: CacheDatabase, marker: string): void {
  db.exec(`CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_log WHEN instr(NEW.entry, '${marker}') > 0 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
}
