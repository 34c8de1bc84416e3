/**
 * The backend's sessions: a random bearer token (only its SHA-256 hash is
 * stored), bound to what made it (the passkey's credential id, or the
 * device key for a sync-only session), with an absolute expiry (12 h) and
 * a last use for the idle expiry. Revoking a passkey deletes its sessions
 * (they answer SESSION_INVALID); revoking a device or a clinician ends them
 * with that reason, so the token keeps answering DEVICE_REVOKED /
 * CLINICIAN_REVOKED (the desktop wipes on those) until it would have
 * expired. Expired rows are purged in bounded batches. Never store, log or
 * return a token other than to the caller who signed in.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { plusMinutes, type Clock } from '../clock';
import type { Db } from '../database';
import type { SessionScope } from './caller';
import type { SessionEndReason } from './session-schema';

export const SESSION_HOURS = 12;
/** Last use is written at most this often, so a busy session costs one write a minute, not one per request. */
export const LAST_USED_WRITE_MS = 60_000;
/** Rows deleted by one purge pass; a pass runs on each new session and on the app's timer. */
export const PURGE_BATCH = 200;

export interface SessionBinding {
  clinicianId: string;
  deviceId: string;
  scope: SessionScope;
  /** The passkey that made the session; null for the device key's sync-only session. */
  credentialId: string | null;
}

export interface StoredSession extends SessionBinding {
  tokenHash: string;
  expiresAt: string;
  lastUsedAt: string;
  endReason: SessionEndReason | null;
  clinicianRevoked: boolean;
  deviceRevoked: boolean;
  credentialRevoked: boolean;
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Stores a new session and returns its token (after purging a batch of expired rows). */
export async function createSession(db: Db, binding: SessionBinding, clock: Clock): Promise<string> {
  const now = clock();
  await purgeSessions(db, now.toISOString(), null, PURGE_BATCH);
  const token = randomBytes(32).toString('base64url');
  await db
    .insertInto('sessions')
    .values({
      token_hash: tokenHash(token),
      clinician_id: binding.clinicianId,
      device_id: binding.deviceId,
      created_at: now.toISOString(),
      expires_at: plusMinutes(now, SESSION_HOURS * 60),
      scope: binding.scope,
      credential_id: binding.credentialId,
      last_used_at: now.toISOString(),
      ended_at: null,
      end_reason: null,
    })
    .execute();
  return token;
}

/** The session a token names with the state of what it is bound to, or null. */
export async function findSession(db: Db, token: string): Promise<StoredSession | null> {
  const row = await db
    .selectFrom('sessions as s')
    .leftJoin('clinicians as c', 'c.id', 's.clinician_id')
    .leftJoin('devices as d', 'd.id', 's.device_id')
    .leftJoin('credentials as k', 'k.id', 's.credential_id')
    .select(['s.token_hash', 's.clinician_id', 's.device_id', 's.scope', 's.credential_id', 's.created_at', 's.expires_at', 's.last_used_at', 's.end_reason', 'c.id as clinician_found', 'c.revoked_at as clinician_revoked_at', 'd.id as device_found', 'd.revoked_at as device_revoked_at', 'k.revoked_at as credential_revoked_at'])
    .where('s.token_hash', '=', tokenHash(token))
    .executeTakeFirst();
  if (!row) return null;
  return {
    tokenHash: row.token_hash,
    clinicianId: row.clinician_id,
    deviceId: row.device_id,
    scope: row.scope === 'sync' ? 'sync' : 'full',
    credentialId: row.credential_id,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at ?? row.created_at,
    endReason: row.end_reason === 'device' || row.end_reason === 'clinician' ? row.end_reason : null,
    clinicianRevoked: !row.clinician_found || row.clinician_revoked_at !== null,
    deviceRevoked: !row.device_found || row.device_revoked_at !== null,
    credentialRevoked: row.credential_id !== null && row.credential_revoked_at !== null,
  };
}

/** Records a use of the session, at most once a minute. */
export async function touchSession(db: Db, session: StoredSession, now: Date): Promise<void> {
  if (now.getTime() - Date.parse(session.lastUsedAt) < LAST_USED_WRITE_MS) return;
  await db.updateTable('sessions').set({ last_used_at: now.toISOString() }).where('token_hash', '=', session.tokenHash).execute();
}

/** Deletes one session (logout, idle expiry, a revoked passkey found on use); true when there was one. */
export async function deleteSession(db: Db, hash: string): Promise<boolean> {
  const r = await db.deleteFrom('sessions').where('token_hash', '=', hash).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Ends every live session made with a passkey (deleted: its token then answers SESSION_INVALID). */
export async function endPasskeySessions(db: Db, credentialId: string): Promise<number> {
  const r = await db.deleteFrom('sessions').where('credential_id', '=', credentialId).where('ended_at', 'is', null).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** Ends every live session of a device or a clinician, keeping the reason for the desktop's wipe. */
export async function endSessionsFor(db: Db, of: { deviceId: string } | { clinicianId: string }, clock: Clock): Promise<number> {
  const reason: SessionEndReason = 'deviceId' in of ? 'device' : 'clinician';
  const r = await db
    .updateTable('sessions')
    .set({ ended_at: clock().toISOString(), end_reason: reason })
    .where('deviceId' in of ? 'device_id' : 'clinician_id', '=', 'deviceId' in of ? of.deviceId : of.clinicianId)
    .where('ended_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/**
 * Deletes up to `limit` sessions that expired (absolute), and, when the idle
 * limit is given, live sessions idle longer than it. Bounded, so a purge on
 * the request path costs the same however much piled up.
 */
export async function purgeSessions(db: Db, now: string, idleCutoff: string | null, limit: number): Promise<number> {
  const expired = db.selectFrom('sessions').select('token_hash').where('expires_at', '<=', now).limit(limit);
  let n = Number((await db.deleteFrom('sessions').where('token_hash', 'in', expired).executeTakeFirst()).numDeletedRows);
  if (idleCutoff) {
    const idle = db
      .selectFrom('sessions')
      .select('token_hash')
      .where('ended_at', 'is', null)
      .where(sql<string>`coalesce(last_used_at, created_at)`, '<', idleCutoff)
      .limit(limit);
    n += Number((await db.deleteFrom('sessions').where('token_hash', 'in', idle).executeTakeFirst()).numDeletedRows);
  }
  return n;
}
