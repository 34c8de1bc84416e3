/**
 * A patient reached by breaking the glass leaves the cache when the grant is
 * over (expired, or the backend says it ended): resources, search index rows,
 * the patient row, blank drafts, audited as a removal ('D'). Work still
 * waiting is never dropped, but it no longer keeps the record: while a change
 * for that patient waits in the outbox (sent or refused for good) or a
 * conflict, or a draft holds typed words, only that work stays (the outbox
 * row and conflict with the one resource each changes, the typed drafts);
 * the chart (the Patient resource, every other resource), the patient row
 * and the search index leave at once, so chart.open, patients.search, the
 * worklist, export and print find the patient no more (NOT_FOUND like an
 * unknown patient). What remains can only be settled or discarded (sync.waiting,
 * changes.undo, drafts.discard, conflict resolution); when none is left the
 * grant's row goes too. Never remove a patient whose grant is still active.
 */
import type { CacheSession } from '../cache-session';
import { isBlankDraftJson } from '../drafts';
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

/** Removes one ended grant's patient from the cache, all but the work that waits; call inside session.audited. */
function removeEndedPatient(session: CacheSession, patientId: string): RemovalOutcome {
  const { db } = session;
  const audit = () => session.audit.append({ action: 'D', subtype: 'delete', patientId, entities: [`Patient/${patientId}`], query: null, outcome: '0' });
  const waits = workWaitsFor(session, patientId);
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
  if (dropped + unlisted > 0) audit();
  if (waits) return 'kept-for-waiting-work';
  if (typed) return 'kept-for-drafts';
  forgetGrant(db, patientId);
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
