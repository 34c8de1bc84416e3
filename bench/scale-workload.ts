/**
 * What the scale benchmark does to a cache, shared by bench/scale-bench.ts,
 * its page-cache sizing children (bench/scale-cache-child.ts), its device
 * children (bench/scale-device-child.ts) and bench/cache-bench.ts: the two
 * sessions (encrypted, and the plaintext baseline: the same openCacheSession
 * with its store worker over a plain file, bench/plain-store-worker.ts, so
 * only the encryption differs), the bench's own connection to a session's
 * file, random reads by id and chart opens of random patients. Everything
 * the app does goes through session.store.call (its worker included); the
 * read by id, which no store call offers, is a measurement of the database
 * itself and runs on the bench's own connection to the same file, opened as
 * the worker opens it (encrypted, with the key from the keychain, or the
 * plain opener) with the same page cache. Benchmarks only: never imported
 * by the app, the backend or the tests; it asserts nothing.
 */
import { join } from 'node:path';
import { openCacheDatabase, type CacheDatabase } from '../electron/services/cache-database';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import { openChart } from '../electron/services/patient-records';
import { dropKeys, loadDeviceKeys } from '../electron/services/device-keys';
import type { SecretStore } from '../electron/services/secret-store';
import { PAGE_CACHE_KIB_DEFAULT } from '../electron/services/page-cache-policy';
import { openPlainDatabase } from './plain-database';
import { patientId, randomResource } from './scale-data';
import { ms } from './bench-stats';

/** The app's page cache (the default of policy cachePageCacheMiB, electron/services/page-cache-policy.ts), in KiB. */
export const APP_CACHE_KIB = PAGE_CACHE_KIB_DEFAULT;

/**
 * The store workers: bundled as the app bundles its own (bench/bundle-workers.mjs, which
 * bench/run-bench.sh runs into BENCH_STORE_WORKERS), so a worker's heap holds what the app's does,
 * not tsx's loader and compiled modules; from the .ts sources under tsx when the bench runs without it.
 */
const BUNDLED = process.env.BENCH_STORE_WORKERS;
export const STORE_WORKER: { encrypted?: string; plaintext: string; how: string } = BUNDLED
  ? { encrypted: join(BUNDLED, 'cache-store-worker.cjs'), plaintext: join(BUNDLED, 'plain-store-worker.cjs'), how: 'bundled (as the app)' }
  : { plaintext: join(import.meta.dirname, 'plain-store-worker.ts'), how: 'TypeScript sources under tsx' };

export type CacheKind = 'encrypted' | 'plaintext';

export interface BenchSessionOptions {
  kind: CacheKind;
  dataDir: string;
  /** The real keychain: both kinds keep their device keys there (the plaintext worker ignores the cache key). */
  secrets: SecretStore;
  actor: string;
  create: boolean;
  cacheKiB?: number;
}

/**
 * A session as the app opens it (openCacheSession: folder lock, keys from the
 * keychain, the store in its worker); the plaintext one only with the
 * baseline's worker module.
 */
export function openBenchSession(options: BenchSessionOptions): Promise<CacheSession> {
  return openCacheSession({
    dataDir: options.dataDir,
    secrets: options.secrets,
    actor: options.actor,
    create: options.create,
    cacheKiB: options.cacheKiB ?? APP_CACHE_KIB,
    ...(options.kind === 'plaintext' ? { workerFile: STORE_WORKER.plaintext } : STORE_WORKER.encrypted ? { workerFile: STORE_WORKER.encrypted } : {}),
  });
}

/**
 * The bench's own connection to an open session's file, for measurements of
 * the database itself (reads by id): opened as the session's worker opened it
 * (encrypted, with the cache key loaded again from the keychain, or the plain
 * opener) with the same page cache. Close it before the session.
 */
export async function openOwnConnection(session: CacheSession, kind: CacheKind, secrets: SecretStore, cacheKiB = APP_CACHE_KIB): Promise<CacheDatabase> {
  const file = session.profile.databaseFile;
  if (kind === 'plaintext') return openPlainDatabase(file, Buffer.alloc(32), { create: false, cacheKiB });
  const keys = await loadDeviceKeys(secrets, session.profile.profileId);
  try {
    return openCacheDatabase(file, keys.cacheKey, { create: false, cacheKiB });
  } finally {
    dropKeys(keys);
  }
}

/**
 * A resource's JSON by type and id, on the bench's own connection. The one
 * SQL statement of the benchmark: no store call reads one resource by id.
 */
export function readById(db: CacheDatabase): (type: string, id: string) => string | undefined {
  const get = db.prepare('SELECT json FROM resources WHERE resource_type = ? AND id = ?').pluck();
  return (type, id) => get.get(type, id) as string | undefined;
}

/** `count` reads of random resources of the panel on the bench's own connection; reads per second. */
export function randomReads(db: CacheDatabase, patients: number, count: number): number {
  const read = readById(db);
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const r = randomResource(patients);
    if (read(r.type, r.id) === undefined) throw new Error('bench: a resource of the panel is missing');
  }
  return Math.round(count / (ms(start) / 1000));
}

/** Opens `count` charts of random patients through the session's store (its worker); per-open times in ms. */
export async function chartOpens(session: CacheSession, patients: number, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = patientId(Math.floor(Math.random() * patients));
    const start = process.hrtime.bigint();
    await openChart(session, id);
    samples.push(ms(start));
  }
  return samples;
}

/** Resident set now and at its peak, in MB (the process's: main and the store's worker thread together). */
export function rssMb(): { rss_mb: number; max_rss_mb: number } {
  return { rss_mb: Math.round(process.memoryUsage().rss / 1048576), max_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) };
}
