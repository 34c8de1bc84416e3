/**
 * What the scale benchmark does to a cache, shared by bench/scale-bench.ts and
 * its page-cache sizing children (bench/scale-cache-child.ts): the plaintext
 * baseline session (plain better-sqlite3 with the app's schema, pragmas and
 * services, so only the encryption differs), random reads by id and chart
 * opens of random patients. Reads go through the services (openChart,
 * searchPatients) except the read by id, which no service offers: that one
 * statement is in readById alone, so the move of the SQL into one store
 * changes one line here. Benchmarks only: never imported by the app, the
 * backend or the tests; it asserts nothing.
 */
import { generateKeyPairSync, randomBytes, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import BaselineDatabase from 'better-sqlite3';
import { AuditChain } from '../electron/services/audit-chain';
import { sessionFrom, type CacheSession } from '../electron/services/cache-session';
import type { CacheDatabase } from '../electron/services/cache-database';
import { applyMigrations } from '../electron/services/cache-migrations';
import { emergencyPurposeFor } from '../electron/services/glass/glass-grants';
import { patientId, randomResource } from './scale-data';
import { ms } from './bench-stats';
import { PAGE_CACHE_KIB_DEFAULT } from '../electron/services/page-cache-policy';

/** The app's page cache (the default of policy cachePageCacheMiB, electron/services/page-cache-policy.ts), in KiB. */
export const APP_CACHE_KIB = PAGE_CACHE_KIB_DEFAULT;

/**
 * A plaintext cache in `dir` (made or reopened) with the pragmas
 * openCacheDatabase sets (WAL, synchronous NORMAL, temp_store MEMORY,
 * foreign keys, the page cache) and the session the app builds around it
 * (audit chain, emergency-purpose lookup), only without SQLCipher and the
 * folder's writer lock.
 */
export function baselineSession(dir: string, profileId: string, cacheKiB = APP_CACHE_KIB): CacheSession {
  const file = join(dir, 'plain.db');
  const db = new BaselineDatabase(file) as unknown as CacheDatabase;
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('temp_store = MEMORY');
  db.pragma('foreign_keys = ON');
  db.pragma(`cache_size = -${cacheKiB}`);
  applyMigrations(db);
  const { privateKey } = generateKeyPairSync('ed25519');
  const context = { actor: 'dr.scale', deviceId: profileId, purpose: 'TREAT', purposeFor: emergencyPurposeFor(db) };
  return sessionFrom({
    profile: { dataDir: dir, profileId, databaseFile: file },
    db,
    keys: { cacheKey: randomBytes(32), signingKey: privateKey, publicKey: createPublicKey(privateKey) },
    context,
    audit: new AuditChain(db, privateKey, context),
  });
}

/**
 * A resource's JSON by type and id. The one SQL statement of the benchmark:
 * no service reads one resource by id (the cache store's read goes here).
 */
export function readById(session: CacheSession): (type: string, id: string) => string | undefined {
  const get = session.db.prepare('SELECT json FROM resources WHERE resource_type = ? AND id = ?').pluck();
  return (type, id) => get.get(type, id) as string | undefined;
}

/** `count` reads of random resources of the panel; reads per second. */
export function randomReads(session: CacheSession, patients: number, count: number): number {
  const read = readById(session);
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const r = randomResource(patients);
    if (read(r.type, r.id) === undefined) throw new Error('bench: a resource of the panel is missing');
  }
  return Math.round(count / (ms(start) / 1000));
}

/** Opens `count` charts of random patients; per-open times in ms. */
export async function chartOpens(session: CacheSession, patients: number, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = patientId(Math.floor(Math.random() * patients));
    const start = process.hrtime.bigint();
    await session.store.call('openChart', { patientId: id });
    samples.push(ms(start));
  }
  return samples;
}

/** Resident set now and at its peak, in MB. */
export function rssMb(): { rss_mb: number; max_rss_mb: number } {
  return { rss_mb: Math.round(process.memoryUsage().rss / 1048576), max_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) };
}
