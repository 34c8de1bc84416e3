/**
 * The backend's database for in-process tests and benchmarks: a migrated
 * SQLite file in a scratch folder, or a fresh PostgreSQL database on the
 * private cluster; and a device registered as enrollment leaves it (its
 * public key, a live session), for tests of what comes after sign-in.
 */
import { randomBytes } from 'node:crypto';
import { migrate, openDatabase, type Db } from '../../server/database';
import { hashSecret } from '../../server/organisation/organisation';
import type { CacheSession } from '../../electron/services/cache-session';
import { freshPostgresDatabase } from './postgres';

export async function openBackendDb(engine: 'sqlite' | 'postgres', dataDir: string): Promise<{ db: Db; close(): Promise<void> }> {
  const pg = engine === 'postgres' ? await freshPostgresDatabase() : null;
  const { db } = openDatabase({ databaseUrl: pg?.url, dataDir });
  await migrate(db);
  return {
    db,
    async close() {
      await db.destroy();
      await pg?.drop();
    },
  };
}

/** Registers the device in a running backend's database (next to its process); returns a session token for it. */
export async function registerDeviceAt(where: { dataDir: string; databaseUrl: string | undefined }, clinicianId: string, device: CacheSession): Promise<string> {
  const { db } = openDatabase(where);
  try {
    return await registerDevice(db, clinicianId, device);
  } finally {
    await db.destroy();
  }
}

/** Registers the cache's device for `clinicianId` (enrolled at `enrolledAt`, now by default) and returns a session token for it. */
export async function registerDevice(db: Db, clinicianId: string, device: CacheSession, enrolledAt = new Date()): Promise<string> {
  const now = new Date().toISOString();
  const enrolled = enrolledAt.toISOString();
  const publicKey = device.keys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64url');
  await db.insertInto('devices').values({ id: device.profile.profileId, clinician_id: clinicianId, public_key: publicKey, created_at: enrolled, last_seen_at: now, revoked_at: null }).execute();
  const token = randomBytes(32).toString('base64url');
  await db
    .insertInto('sessions')
    .values({ token_hash: hashSecret(token), clinician_id: clinicianId, device_id: device.profile.profileId, created_at: now, expires_at: '2999-01-01T00:00:00.000Z' })
    .execute();
  return token;
}
