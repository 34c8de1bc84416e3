/**
 * The backend's one authorization point: may this caller do this action on
 * this patient? Decided from stored facts only (the session's clinician and
 * scope, the patient's current assignment, the clinician's roles), never
 * from what a request body claims. Every route that reads or writes patient
 * data asks here. A refusal discloses nothing.
 *
 * SKELETON (issue 8 in progress): the signature is fixed; the rules are
 * being completed.
 */
import type { Db } from '../database';
import type { Caller } from '../auth/caller';

/**
 * read: a resource's content (GET, pull, a conflict's current version);
 * write: change or create a resource of the patient (push, PUT);
 * trail: the patient's access trail (without search text);
 * trail-full: the trail with search text (privacy role only).
 */
export type PatientAction = 'read' | 'write' | 'trail' | 'trail-full';

export async function mayAccessPatient(db: Db, caller: Caller, action: PatientAction, patientId: string): Promise<boolean> {
  if (caller.scope !== 'full' && action !== 'write') return false;
  const assigned = await db
    .selectFrom('assignments')
    .select('patient_id')
    .where('clinician_id', '=', caller.clinicianId)
    .where('patient_id', '=', patientId)
    .executeTakeFirst();
  return !!assigned && action !== 'trail-full';
}
