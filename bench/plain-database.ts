/**
 * The benchmarks' plaintext baseline database: opens a plain better-sqlite3
 * file (no encryption) with the pragmas openCacheDatabase sets (WAL,
 * synchronous NORMAL, temp_store MEMORY, foreign keys, the page cache from
 * the cacheKiB option within the policy's bounds) and brings the app's
 * schema up to date, so the only difference from the app's open is the
 * encryption. It has openCacheDatabase's signature (the store host's
 * DatabaseOpener) and ignores the key. Used by the baseline's store worker
 * (./plain-store-worker.ts) and by the benchmarks' own connection for reads
 * by id. Benchmarks only: never imported by the app, the backend or the
 * tests; never used for a cache that holds real data.
 */
import BaselineDatabase from 'better-sqlite3';
import { prepareCacheConnection, type CacheDatabase, type OpenOptions } from '../electron/services/cache-database';
import { isPageCacheKiB, PAGE_CACHE_KIB_DEFAULT, pageCacheOutOfBounds } from '../electron/services/page-cache-policy';

export function openPlainDatabase(file: string, _key: Buffer, options: OpenOptions): CacheDatabase {
  const cacheKiB = options.cacheKiB ?? PAGE_CACHE_KIB_DEFAULT;
  if (!isPageCacheKiB(cacheKiB)) throw pageCacheOutOfBounds();
  const readonly = options.readonly === true;
  const db = new BaselineDatabase(file, { fileMustExist: !options.create || readonly, readonly }) as unknown as CacheDatabase;
  // The same first read openCacheDatabase makes (there, it decrypts page 1).
  db.prepare('SELECT count(*) FROM sqlite_master').get();
  try {
    prepareCacheConnection(db, cacheKiB, options);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
