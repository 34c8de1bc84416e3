/**
 * The store's break-the-glass calls (moved from ../../glass/glass-grants.ts
 * and ../../glass/glass-record-removal.ts; the surface that decides when is
 * ../../glass/glass-surface.ts). Table glass_grants (cache migration 8):
 * which patient was reached in an emergency, until when, the reason's code,
 * and where the next fetch of its records resumes.
 *
 * - `storeGrant`: the grant and its 'break-glass' entry in one transaction,
 *   the grant first, so the entry (and every later one naming the patient
 *   while the grant is active) carries EMERGENCY_PURPOSE.
 * - `checkGrants`: ends grants whose time is over (the wall clock, and the
 *   ones the surface found over on its monotonic clock), removes every ended
 *   grant's patient as far as waiting work allows, and answers the grants
 *   still active; one transaction.
 * - `applyGlassRecords`: one slice of a fetched page of the granted
 *   patient's records, written as pulled records with their entries; the
 *   page's last slice also stores the records cursor (like applyPullPage).
 *
 * Removal: resources, search index rows, the patient row and blank drafts
 * leave, audited as a removal ('D'). Work still waiting is never dropped,
 * but it no longer keeps the record: while a change for that patient waits
 * in the outbox or a conflict, or a draft holds typed words, only that work
 * stays (the outbox row and conflict with the one resource each changes,
 * the typed drafts); when none is left the grant's row goes too.
 * Never store the reason's free text here (it lives in the audit entry
 * only), never decide a grant here (the backend grants, this remembers),
 * and never remove a patient whose grant is still active.
 */
import { AppError } from '../../../../shared/app-error';
import { EMERGENCY_PURPOSE } from '../../../../shared/audit-entry';
import type { CacheDatabase } from '../../cache-database';
import { isBlankDraftJson } from '../../drafts';
import type { StoredGrant } from '../../glass/glass-grants';
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';
import { applyPullPage } from './pull-write';

export type RemovalOutcome = 'removed' | 'kept-for-waiting-work' | 'kept-for-drafts';

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

/** Grants active at `now`: not ended, expiry ahead. */
export function activeGrants(tx: StoreTx, { now }: StoreArgs<'activeGrants'>): StoreResults['activeGrants'] {
  return (tx.db.prepare('SELECT * FROM glass_grants WHERE ended_at IS NULL AND expires_at > ? ORDER BY expires_at, patient_id').all(now) as GrantRow[]).map(fromRow);
}

/** Stores (or renews) the grant for a patient, then appends its 'break-glass' entry (which so carries the emergency purpose). */
export function storeGrant(tx: StoreTx, { grant, entry }: StoreArgs<'storeGrant'>): StoreResults['storeGrant'] {
  tx.db
    .prepare(
      `INSERT INTO glass_grants (patient_id, granted_at, expires_at, reason_code, ended_at, records_cursor) VALUES (?, ?, ?, ?, NULL, NULL)
       ON CONFLICT (patient_id) DO UPDATE SET granted_at = excluded.granted_at, expires_at = excluded.expires_at, reason_code = excluded.reason_code, ended_at = NULL, records_cursor = NULL`,
    )
    .run(grant.patientId, grant.grantedAt, grant.expiresAt, grant.reasonCode);
  const { seq } = tx.audit.append({ action: 'E', subtype: 'break-glass', patientId: grant.patientId, entities: entry.entities, query: entry.query, outcome: '0' });
  return { seq };
}

/**
 * Ends every grant whose expiry has passed by `now` and every grant made
 * after `now` (the computer's clock was set back: a grant cannot be
 * stretched that way), and the grants in `over` (over on the surface's
 * monotonic clock); then removes the ended grants' patients; answers what
 * is still active.
 */
export function checkGrants(tx: StoreTx, { now, over }: StoreArgs<'checkGrants'>): StoreResults['checkGrants'] {
  const { db } = tx;
  const due = 'ended_at IS NULL AND (expires_at <= @now OR granted_at > @now)';
  if (db.prepare(`SELECT EXISTS (SELECT 1 FROM glass_grants WHERE ${due})`).pluck().get({ now })) db.prepare(`UPDATE glass_grants SET ended_at = @now WHERE ${due}`).run({ now });
  const end = db.prepare('UPDATE glass_grants SET ended_at = ? WHERE patient_id = ? AND ended_at IS NULL');
  for (const patientId of over) end.run(now, patientId);
  const removed: Record<string, RemovalOutcome> = {};
  for (const patientId of db.prepare('SELECT patient_id FROM glass_grants WHERE ended_at IS NOT NULL ORDER BY patient_id').pluck().all() as string[]) {
    removed[patientId] = removeEndedPatient(tx, patientId);
  }
  return { active: activeGrants(tx, { now }), removed };
}

/** Whether changes for this patient still wait for the backend (outbox or conflicts). */
function workWaitsFor(db: CacheDatabase, patientId: string): boolean {
  return !!db
    .prepare(
      `SELECT EXISTS (SELECT 1 FROM outbox o JOIN resources r ON r.resource_type = o.resource_type AND r.id = o.resource_id WHERE r.patient_id = @p)
           OR EXISTS (SELECT 1 FROM conflicts c JOIN resources r ON r.resource_type = c.resource_type AND r.id = c.resource_id WHERE r.patient_id = @p)`,
    )
    .pluck()
    .get({ p: patientId });
}

/** Removes one ended grant's patient from the cache, all but the work that waits. */
function removeEndedPatient(tx: StoreTx, patientId: string): RemovalOutcome {
  const { db } = tx;
  const waits = workWaitsFor(db, patientId);
  const typed = (db.prepare('SELECT body_json FROM drafts WHERE patient_id = ?').pluck().all(patientId) as string[]).some((body) => !isBlankDraftJson(body));
  // The resources a waiting change or conflict is about stay with it (the clinician's own change); nothing else does.
  const dropped = db
    .prepare(
      `DELETE FROM resources WHERE (patient_id = @p OR (resource_type = 'Patient' AND id = @p))
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.resource_type = resources.resource_type AND o.resource_id = resources.id)
         AND NOT EXISTS (SELECT 1 FROM conflicts c WHERE c.resource_type = resources.resource_type AND c.resource_id = resources.id)`,
    )
    .run({ p: patientId }).changes;
  const unlisted =
    db.prepare('DELETE FROM patient_search_terms WHERE patient_id = ?').run(patientId).changes + db.prepare('DELETE FROM patients WHERE id = ?').run(patientId).changes;
  if (!typed) db.prepare('DELETE FROM drafts WHERE patient_id = ?').run(patientId);
  if (dropped + unlisted > 0) tx.audit.append({ action: 'D', subtype: 'delete', patientId, entities: [`Patient/${patientId}`], query: null, outcome: '0' });
  if (waits) return 'kept-for-waiting-work';
  if (typed) return 'kept-for-drafts';
  db.prepare('DELETE FROM glass_grants WHERE patient_id = ?').run(patientId);
  return 'removed';
}

/** Where the next fetch of a granted patient's records resumes (null: from the start). */
export function recordsCursor(tx: StoreTx, { patientId }: StoreArgs<'recordsCursor'>): StoreResults['recordsCursor'] {
  return (tx.db.prepare('SELECT records_cursor FROM glass_grants WHERE patient_id = ?').pluck().get(patientId) as string | null | undefined) ?? null;
}

/**
 * One slice of a page of the granted patient's records (the surface keeps
 * only the patient's own), written as pulled records with their entries;
 * with the page's last slice the records cursor moves. A lock between
 * slices leaves the cursor: the page is fetched again and what committed is
 * skipped (same version). A slice for a patient whose grant is not active
 * at `now` is refused whole (GLASS_REFUSED).
 */
export function applyGlassRecords(tx: StoreTx, { patientId, resources, cursor, last, now }: StoreArgs<'applyGlassRecords'>): StoreResults['applyGlassRecords'] {
  // Records that arrive after the grant ended (between two pages or two slices) would stay for good: no patient row, no grant row.
  const active = tx.db.prepare('SELECT 1 FROM glass_grants WHERE patient_id = ? AND ended_at IS NULL AND expires_at > ?').pluck().get(patientId, now);
  if (!active) throw new AppError('GLASS_REFUSED', 'Emergency access to this patient has ended.');
  const { written } = applyPullPage(tx, { resources, cursor: null, assignedPatients: null, last: false });
  if (last && cursor) tx.db.prepare('UPDATE glass_grants SET records_cursor = ? WHERE patient_id = ?').run(cursor, patientId);
  return { written };
}

/**
 * For the audit chain: the purpose of an entry naming `patientId` recorded at
 * `recordedAt` (ISO): EMERGENCY_PURPOSE while a grant for that patient is
 * active then, else null (the session's purpose). Built by each host on its
 * own connection.
 */
export function emergencyPurposeFor(db: CacheDatabase): (patientId: string, recordedAt: string) => string | null {
  const active = db.prepare('SELECT 1 FROM glass_grants WHERE patient_id = ? AND ended_at IS NULL AND expires_at > ?').pluck();
  return (patientId, recordedAt) => (active.get(patientId, recordedAt) ? EMERGENCY_PURPOSE : null);
}
