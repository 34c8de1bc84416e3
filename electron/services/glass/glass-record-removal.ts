/**
 * A patient reached by breaking the glass leaves the cache when the grant is
 * over (expired, or the backend says it ended): resources, search index rows,
 * the patient row, blank drafts, audited as a removal ('D'). Work still
 * waiting is never dropped: while a change for that patient waits in the
 * outbox or a conflict, the record stays whole until it is settled; a draft
 * with something typed in it (the clinician's own unsent work, never sent to
 * the server) keeps the patient and what the draft edits, as for a patient
 * no longer assigned (./sync-pull.ts). The grant's row goes with the last
 * of the record. Never remove a patient whose grant is still active.
 */
import type { DraftKind } from '../../../shared/contract';
import type { CacheSession } from '../cache-session';
import { draftTargetRef, isBlankDraftJson } from '../drafts';
import { endedGrants, forgetGrant } from './glass-grants';

export type RemovalOutcome = 'removed' | 'kept-for-waiting-work' | 'kept-for-drafts';

/** Whether changes for this patient still wait for the backend (outbox or conflicts). */
export function workWaitsFor(session: CacheSession, patientId: string): boolean {
  return !!session.db
    .prepare(
      `SELECT EXISTS (SELECT 1 FROM outbox o JOIN resources r ON r.resource_type = o.resource_type AND r.id = o.resource_id WHERE r.patient_id = @p)
           OR EXISTS (SELECT 1 FROM conflicts c JOIN resources r ON r.resource_type = c.resource_type AND r.id = c.resource_id WHERE r.patient_id = @p)`,
    )
    .pluck()
    .get({ p: patientId });
}

/** Removes one ended grant's patient from the cache as far as waiting work allows; call inside session.audited. */
function removeEndedPatient(session: CacheSession, patientId: string): RemovalOutcome {
  const { db } = session;
  if (workWaitsFor(session, patientId)) return 'kept-for-waiting-work';
  const audit = () => session.audit.append({ action: 'D', subtype: 'delete', patientId, entities: [`Patient/${patientId}`], query: null, outcome: '0' });
  const typed = (db.prepare('SELECT kind, target, body_json FROM drafts WHERE patient_id = ?').all(patientId) as Array<{ kind: DraftKind; target: string; body_json: string }>).filter(
    (d) => !isBlankDraftJson(d.body_json),
  );
  if (typed.length > 0) {
    const needed = typed.map((d) => draftTargetRef(d.kind, d.target)).filter((r): r is string => r !== null);
    const dropped = db
      .prepare("DELETE FROM resources WHERE patient_id = ? AND resource_type != 'Patient' AND resource_type || '/' || id NOT IN (SELECT value FROM json_each(?))")
      .run(patientId, JSON.stringify(needed)).changes;
    if (dropped > 0) audit();
    return 'kept-for-drafts';
  }
  const held = db.prepare('SELECT EXISTS (SELECT 1 FROM patients WHERE id = ?) OR EXISTS (SELECT 1 FROM resources WHERE patient_id = ?)').pluck().get(patientId, patientId);
  db.prepare('DELETE FROM resources WHERE patient_id = ?').run(patientId);
  db.prepare("DELETE FROM resources WHERE resource_type = 'Patient' AND id = ?").run(patientId);
  db.prepare('DELETE FROM drafts WHERE patient_id = ?').run(patientId);
  db.prepare('DELETE FROM patient_search_terms WHERE patient_id = ?').run(patientId);
  db.prepare('DELETE FROM patients WHERE id = ?').run(patientId);
  forgetGrant(db, patientId);
  if (held) audit();
  return 'removed';
}

/** Every ended grant's patient, removed as far as waiting work allows (one transaction). */
export function removeEndedGrantPatients(session: CacheSession): Map<string, RemovalOutcome> {
  const outcomes = new Map<string, RemovalOutcome>();
  if (endedGrants(session.db).length === 0) return outcomes;
  session.audited(() => {
    for (const patientId of endedGrants(session.db)) outcomes.set(patientId, removeEndedPatient(session, patientId));
  });
  return outcomes;
}
