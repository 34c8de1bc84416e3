/**
 * Break-the-glass grants as the encrypted cache keeps them (table
 * glass_grants, cache migration 8): which patient was reached in an
 * emergency, until when, and the reason's code. A grant is active while it
 * has not ended and its expiry lies ahead; the audit chain asks
 * `emergencyPurposeFor` for every entry so entries naming a patient under an
 * active grant carry EMERGENCY_PURPOSE. An ended grant keeps its row until
 * the patient's records have left the cache (./glass-record-removal.ts).
 * Never store the reason's free text here (it lives in the audit entry only),
 * and never decide a grant here: the backend grants, this only remembers.
 */
import { EMERGENCY_PURPOSE } from '../../../shared/audit-entry';
import type { CacheDatabase } from '../cache-database';

export interface StoredGrant {
  patientId: string;
  grantedAt: string;
  expiresAt: string;
  reasonCode: string;
  endedAt: string | null;
}

interface GrantRow {
  patient_id: string;
  granted_at: string;
  expires_at: string;
  reason_code: string;
  ended_at: string | null;
}

function fromRow(r: GrantRow): StoredGrant {
  return { patientId: r.patient_id, grantedAt: r.granted_at, expiresAt: r.expires_at, reasonCode: r.reason_code, endedAt: r.ended_at };
}

/** An instant as the chain writes it (toISOString), so stored times compare as text. */
export function isoInstant(value: string | Date): string {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) throw new Error('not a time');
  return d.toISOString();
}

/** Stores (or renews) the grant for a patient; call it inside the transaction that audits it. */
export function storeGrant(db: CacheDatabase, grant: Omit<StoredGrant, 'endedAt'>): void {
  db.prepare(
    `INSERT INTO glass_grants (patient_id, granted_at, expires_at, reason_code, ended_at, records_cursor) VALUES (?, ?, ?, ?, NULL, NULL)
     ON CONFLICT (patient_id) DO UPDATE SET granted_at = excluded.granted_at, expires_at = excluded.expires_at, reason_code = excluded.reason_code, ended_at = NULL, records_cursor = NULL`,
  ).run(grant.patientId, isoInstant(grant.grantedAt), isoInstant(grant.expiresAt), grant.reasonCode);
}

/** Grants active at `now`: not ended, expiry ahead. */
export function activeGrants(db: CacheDatabase, now: Date): StoredGrant[] {
  return (db.prepare('SELECT * FROM glass_grants WHERE ended_at IS NULL AND expires_at > ? ORDER BY expires_at, patient_id').all(now.toISOString()) as GrantRow[]).map(fromRow);
}

/**
 * Marks every grant whose expiry has passed by `now` as ended, and every
 * grant made after `now` (the computer's clock was set back: a grant cannot
 * be stretched that way); returns their patients.
 */
export function endExpiredGrants(db: CacheDatabase, now: Date): string[] {
  const iso = now.toISOString();
  const over = 'ended_at IS NULL AND (expires_at <= @now OR granted_at > @now)';
  const ids = db.prepare(`SELECT patient_id FROM glass_grants WHERE ${over}`).pluck().all({ now: iso }) as string[];
  if (ids.length > 0) db.prepare(`UPDATE glass_grants SET ended_at = @now WHERE ${over}`).run({ now: iso });
  return ids;
}

/** Whether some active grant has ended by `now` (cheap: checked before every access). */
export function anyGrantOver(db: CacheDatabase, now: Date): boolean {
  const iso = now.toISOString();
  return !!db.prepare('SELECT EXISTS (SELECT 1 FROM glass_grants WHERE ended_at IS NULL AND (expires_at <= @now OR granted_at > @now))').pluck().get({ now: iso });
}

/** Ends the grant for a patient now (the backend says it expired or was revoked). */
export function endGrant(db: CacheDatabase, patientId: string, now: Date): boolean {
  return db.prepare('UPDATE glass_grants SET ended_at = ? WHERE patient_id = ? AND ended_at IS NULL').run(now.toISOString(), patientId).changes > 0;
}

/** Ended grants whose patient may still be in the cache (records wait for outbox work or typed drafts). */
export function endedGrants(db: CacheDatabase): string[] {
  return db.prepare('SELECT patient_id FROM glass_grants WHERE ended_at IS NOT NULL ORDER BY patient_id').pluck().all() as string[];
}

export function forgetGrant(db: CacheDatabase, patientId: string): void {
  db.prepare('DELETE FROM glass_grants WHERE patient_id = ?').run(patientId);
}

/**
 * For the audit chain: the purpose of an entry naming `patientId` recorded at
 * `recordedAt` (ISO): EMERGENCY_PURPOSE while a grant for that patient is
 * active then, else null (the session's purpose).
 */
export function emergencyPurposeFor(db: CacheDatabase): (patientId: string, recordedAt: string) => string | null {
  const active = db.prepare('SELECT 1 FROM glass_grants WHERE patient_id = ? AND ended_at IS NULL AND expires_at > ?').pluck();
  return (patientId, recordedAt) => (active.get(patientId, recordedAt) ? EMERGENCY_PURPOSE : null);
}

/** Where the next fetch of a granted patient's records resumes (null: from the start). */
export function recordsCursor(db: CacheDatabase, patientId: string): string | null {
  return (db.prepare('SELECT records_cursor FROM glass_grants WHERE patient_id = ?').pluck().get(patientId) as string | null | undefined) ?? null;
}

export function setRecordsCursor(db: CacheDatabase, patientId: string, cursor: string): void {
  db.prepare('UPDATE glass_grants SET records_cursor = ? WHERE patient_id = ?').run(cursor, patientId);
}
