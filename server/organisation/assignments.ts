/**
 * Which clinician cares for which patient: assigning and unassigning, and the
 * history of it (assignment periods), so an audit entry recorded while a
 * patient was assigned is still accepted after the assignment ended. A newly
 * assigned patient's resources get a fresh change number so they reach the
 * clinician's devices at the next pull (one number per patient, so a first
 * sync of a whole panel brings patient after patient, each whole with its
 * Patient resource, rather than every patient's Patient last); an unassigned
 * one leaves them there.
 * Only the organisation's admin commands call this. Never delete a period:
 * the history is what uploaded audit entries are checked against.
 */
import type { Db } from '../database';
import { systemClock, type Clock } from '../clock';
import { nextChangeSeq } from '../sync/change-feed';

/**
 * Assigns patients; a newly assigned patient's resources get a fresh change
 * number so they reach the clinician's devices on their next pull.
 */
export async function assignPatients(db: Db, clinicianId: string, patientIds: string[], clock: Clock = systemClock): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const now = clock().toISOString();
    for (const patientId of patientIds) {
      const added = await trx
        .insertInto('assignments')
        .values({ clinician_id: clinicianId, patient_id: patientId })
        .onConflict((oc) => oc.columns(['clinician_id', 'patient_id']).doNothing())
        .executeTakeFirst();
      if (Number(added.numInsertedOrUpdatedRows ?? 0) === 0) continue;
      await trx.insertInto('assignment_periods').values({ clinician_id: clinicianId, patient_id: patientId, assigned_at: now, unassigned_at: null }).execute();
      const changeSeq = await nextChangeSeq(trx);
      await trx.updateTable('resources').set({ change_seq: changeSeq }).where('patient_id', '=', patientId).execute();
    }
  });
}

/** Ends assignments: the patients leave the clinician's devices at their next pull; the periods are closed, not deleted. */
export async function unassignPatients(db: Db, clinicianId: string, patientIds: string[], clock: Clock = systemClock): Promise<void> {
  if (patientIds.length === 0) return;
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('assignment_periods')
      .set({ unassigned_at: clock().toISOString() })
      .where('clinician_id', '=', clinicianId)
      .where('patient_id', 'in', patientIds)
      .where('unassigned_at', 'is', null)
      .execute();
    await trx.deleteFrom('assignments').where('clinician_id', '=', clinicianId).where('patient_id', 'in', patientIds).execute();
  });
}

/** Each patient of `patientIds` mapped to the periods during which `clinicianId` was assigned it. */
export async function assignmentPeriods(db: Db, clinicianId: string, patientIds: string[]): Promise<Map<string, Array<{ from: string; until: string | null }>>> {
  const periods = new Map<string, Array<{ from: string; until: string | null }>>();
  for (let i = 0; i < patientIds.length; i += 1000) {
    const rows = await db
      .selectFrom('assignment_periods')
      .select(['patient_id', 'assigned_at', 'unassigned_at'])
      .where('clinician_id', '=', clinicianId)
      .where('patient_id', 'in', patientIds.slice(i, i + 1000))
      .execute();
    for (const r of rows) {
      const list = periods.get(r.patient_id) ?? [];
      list.push({ from: r.assigned_at, until: r.unassigned_at });
      periods.set(r.patient_id, list);
    }
  }
  return periods;
}
