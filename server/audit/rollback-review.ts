/**
 * The privacy officer's list of devices whose cache was found rolled back (a
 * restored older copy, a lost WAL, entries lost before the backend saw
 * them): each accepted rollback entry, newest first, page by page, with the
 * device, the clinician, when, and where its chain continued. It reads the
 * backend's own flags (audit_flags, set only when the backend checked and
 * stored a rollback entry), never a search over entry text, which the
 * clinician controls (searches for "rollback-detected" must not crowd the
 * list). Seqs and ids only: a rollback entry names no patient.
 */
import { lostRangeFacts, parseCanonicalAuditEntry, rollbackFacts } from '../../shared/audit-entry';
import type { Db } from '../database';
import { ROLLBACK_FLAG } from './audit-schema';

export interface RollbackReviewItem {
  deviceId: string;
  clinicianId: string;
  seq: number;
  recordedAt: string;
  /** 'backend-ahead': the backend held entries the device lost; 'entries-lost': the device's own kept head says entries were lost (the backend may never have seen them). */
  kind: 'backend-ahead' | 'entries-lost';
  /** The last entry the device still held. */
  keptSeq: number;
  /** backend-ahead: the backend's entry the rollback follows; else null. */
  backendSeq: number | null;
  /** backend-ahead: how many entries were re-chained behind it; else 0. */
  rechained: number;
  /** entries-lost: the head the device had kept (entries after keptSeq up to it were lost); else null. */
  lostSeq: number | null;
}

/** Where a page ends: the next page starts after this item. */
export interface RollbackReviewCursor {
  recordedAt: string;
  deviceId: string;
  seq: number;
}

export const ROLLBACK_REVIEW_MAX = 200;

export async function rollbackReview(db: Db, options: { limit?: number; before?: RollbackReviewCursor } = {}): Promise<RollbackReviewItem[]> {
  const limit = Math.min(options.limit ?? ROLLBACK_REVIEW_MAX, ROLLBACK_REVIEW_MAX);
  let query = db
    .selectFrom('audit_flags as f')
    .innerJoin('audit_entries as e', (j) => j.onRef('e.device_id', '=', 'f.device_id').onRef('e.seq', '=', 'f.seq'))
    .select(['f.device_id', 'f.seq', 'f.recorded_at', 'e.entry'])
    .where('f.flag', '=', ROLLBACK_FLAG);
  const b = options.before;
  if (b) {
    query = query.where((eb) =>
      eb.or([
        eb('f.recorded_at', '<', b.recordedAt),
        eb.and([eb('f.recorded_at', '=', b.recordedAt), eb('f.device_id', '<', b.deviceId)]),
        eb.and([eb('f.recorded_at', '=', b.recordedAt), eb('f.device_id', '=', b.deviceId), eb('f.seq', '<', b.seq)]),
      ]),
    );
  }
  const rows = await query.orderBy('f.recorded_at', 'desc').orderBy('f.device_id', 'desc').orderBy('f.seq', 'desc').limit(limit).execute();
  const items: RollbackReviewItem[] = [];
  for (const row of rows) {
    const entry = parseCanonicalAuditEntry(row.entry);
    if (!entry) continue;
    const base = { deviceId: row.device_id, clinicianId: entry.actor, seq: Number(row.seq), recordedAt: row.recorded_at };
    const facts = rollbackFacts(entry);
    const lost = facts ? null : lostRangeFacts(entry);
    if (facts) items.push({ ...base, kind: 'backend-ahead', keptSeq: facts.keptSeq, backendSeq: facts.backendSeq, rechained: facts.rechained, lostSeq: null });
    else if (lost) items.push({ ...base, kind: 'entries-lost', keptSeq: lost.keptSeq, backendSeq: null, rechained: 0, lostSeq: lost.lostSeq });
  }
  return items;
}
