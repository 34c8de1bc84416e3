/**
 * The privacy officer's list of devices whose cache was found rolled back (a
 * restored older copy, a lost WAL): each accepted rollback entry, newest
 * first, with the device, the clinician, when, and where its chain
 * continued (the last entry shared with the backend, the backend's entry it
 * follows, how many entries the device re-chained behind it). Seqs and ids
 * only: a rollback entry names no patient, and nothing else is read here.
 */
import { parseCanonicalAuditEntry, rollbackFacts } from '../../shared/audit-entry';
import type { Db } from '../database';

export interface RollbackReviewItem {
  deviceId: string;
  clinicianId: string;
  seq: number;
  recordedAt: string;
  keptSeq: number;
  backendSeq: number;
  rechained: number;
}

export const ROLLBACK_REVIEW_MAX = 200;

export async function rollbackReview(db: Db, limit = ROLLBACK_REVIEW_MAX): Promise<RollbackReviewItem[]> {
  // Rollback entries name no patient; the patient index narrows the scan to such entries.
  const rows = await db
    .selectFrom('audit_entries as e')
    .innerJoin('audit_entry_times as t', (j) => j.onRef('t.device_id', '=', 'e.device_id').onRef('t.seq', '=', 'e.seq'))
    .select(['e.device_id', 'e.seq', 'e.entry', 't.recorded_at'])
    .where('e.patient_id', 'is', null)
    .where('e.entry', 'like', '%"rollback-detected"%')
    .orderBy('t.recorded_at', 'desc')
    .limit(limit)
    .execute();
  const items: RollbackReviewItem[] = [];
  for (const row of rows) {
    const entry = parseCanonicalAuditEntry(row.entry);
    const facts = entry ? rollbackFacts(entry) : null;
    if (!entry || !facts) continue;
    items.push({ deviceId: row.device_id, clinicianId: entry.actor, seq: Number(row.seq), recordedAt: row.recorded_at, keptSeq: facts.keptSeq, backendSeq: facts.backendSeq, rechained: facts.rechained });
  }
  return items;
}
