/**
 * The admin's facts the monitoring rules need and the records do not hold:
 * a clinician's surname and home address (staff directory; stored only as
 * normalised comparison keys, never shown back), and patients marked VIP or
 * staff. Set by admin commands only (server/main.ts); no route changes them.
 */
import type { Db } from '../database';
import type { Clock } from '../clock';
import { addressKey, normaliseText, type AddressLike } from './normalise';

export const PATIENT_MARKERS = ['vip', 'staff'] as const;
export type PatientMarker = (typeof PATIENT_MARKERS)[number];

/** Replaces the clinician's surname and address keys (null/undefined: that fact is removed). */
export async function setStaffDetails(db: Db, clinicianId: string, details: { surname?: string | null | undefined; address?: AddressLike | null | undefined }): Promise<void> {
  const clinician = await db.selectFrom('clinicians').select('id').where('id', '=', clinicianId).executeTakeFirst();
  if (!clinician) throw new Error('no such clinician');
  const keys: Array<{ clinician_id: string; kind: string; value: string }> = [];
  const surname = details.surname ? normaliseText(details.surname) : '';
  if (surname) keys.push({ clinician_id: clinicianId, kind: 'surname', value: surname });
  const address = details.address ? addressKey(details.address) : null;
  if (details.address && !address) throw new Error('the address has no street line');
  if (address) keys.push({ clinician_id: clinicianId, kind: 'address', value: address });
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('privacy_staff_keys').where('clinician_id', '=', clinicianId).execute();
    if (keys.length > 0) await trx.insertInto('privacy_staff_keys').values(keys).execute();
  });
}

/** Marks (or, with on=false, unmarks) a patient as VIP or staff. */
export async function setPatientMarker(db: Db, patientId: string, marker: PatientMarker, on: boolean, clock: Clock): Promise<void> {
  if (!on) {
    await db.deleteFrom('privacy_patient_markers').where('patient_id', '=', patientId).where('marker', '=', marker).execute();
    return;
  }
  await db
    .insertInto('privacy_patient_markers')
    .values({ patient_id: patientId, marker, set_at: clock().toISOString() })
    .onConflict((oc) => oc.columns(['patient_id', 'marker']).doNothing())
    .execute();
}
