/**
 * Which clinician cares for which patient: assigning and unassigning. A newly
 * assigned patient's resources get a fresh change number so they reach the
 * clinician's devices at the next pull; an unassigned one leaves them there.
 * Only the organisation's admin commands call this.
 */
import type { Db } from '../database';
import { nextChangeSeq } from '../sync/change-feed';

/**
 * Assigns patients; a newly assigned patient's resources get a fresh change
 * number so they reach the clinician's devices on their next pull.
 */
export async function assignPatients(db: Db, clinicianId: string, patientIds: string[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    let changeSeq: number | null = null;
    for (const patientId of patientIds) {
      const added = await trx
        .insertInto('assignments')
        .values({ clinician_id: clinicianId, patient_id: patientId })
        .onConflict((oc) => oc.columns(['clinician_id', 'patient_id']).doNothing())
        .executeTakeFirst();
      if (Number(added.numInsertedOrUpdatedRows ?? 0) === 0) continue;
      changeSeq ??= await nextChangeSeq(trx);
      await trx.updateTable('resources').set({ change_seq: changeSeq }).where('patient_id', '=', patientId).execute();
    }
  });
}

/** Ends assignments: the patients leave the clinician's devices at their next pull. */
export async function unassignPatients(db: Db, clinicianId: string, patientIds: string[]): Promise<void> {
  if (patientIds.length === 0) return;
  await db.deleteFrom('assignments').where('clinician_id', '=', clinicianId).where('patient_id', 'in', patientIds).execute();
}
