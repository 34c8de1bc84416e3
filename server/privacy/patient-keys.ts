/**
 * The patients' comparison keys, kept from their stored Patient resources:
 * each family name and address (normalised, ./normalise.ts), and 'vip' when
 * the record is labelled very restricted (meta.security code 'V' of
 * v3-Confidentiality), or 'vip' / 'staff' when labelled so with our own
 * system (PATIENT_FLAG_SYSTEM, in meta.security or meta.tag). Refreshed incrementally by the change feed's number
 * (only Patients changed since the last refresh are read). Never keeps
 * anything else of the record.
 */
import type { Db } from '../database';
import { addressKey, normaliseText, type AddressLike } from './normalise';

const STATE = 'patient_keys_change_seq';
const BATCH = 1000;
const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
/** Our own label of a VIP or staff patient, in Patient.meta.security or meta.tag. */
export const PATIENT_FLAG_SYSTEM = 'urn:clinician-desktop:patient-flag';

interface PatientLike {
  name?: Array<{ family?: string }>;
  address?: AddressLike[];
  meta?: { security?: Array<{ system?: string; code?: string }>; tag?: Array<{ system?: string; code?: string }> };
}

export function patientKeys(json: string): Array<{ kind: string; value: string }> {
  let patient: PatientLike;
  try {
    patient = JSON.parse(json) as PatientLike;
  } catch {
    return [];
  }
  const keys = new Map<string, { kind: string; value: string }>();
  const add = (kind: string, value: string | null) => {
    if (value) keys.set(`${kind}\n${value}`, { kind, value });
  };
  for (const n of Array.isArray(patient.name) ? patient.name : []) if (typeof n?.family === 'string') add('surname', normaliseText(n.family));
  for (const a of Array.isArray(patient.address) ? patient.address : []) if (a && typeof a === 'object') add('address', addressKey(a));
  const labels = [...(Array.isArray(patient.meta?.security) ? patient.meta.security : []), ...(Array.isArray(patient.meta?.tag) ? patient.meta.tag : [])];
  for (const s of labels) {
    if (s?.code === 'V' && s.system === CONFIDENTIALITY) add('marker', 'vip');
    if (s?.system === PATIENT_FLAG_SYSTEM && (s.code === 'vip' || s.code === 'staff')) add('marker', s.code);
  }
  return [...keys.values()];
}

/** Brings the keys up to date with the stored Patients; returns how many Patients were read. */
export async function refreshPatientKeys(db: Db): Promise<number> {
  const state = await db.selectFrom('privacy_monitor_state').select('value').where('name', '=', STATE).executeTakeFirst();
  // The position is (change_seq, id): one load or assignment gives many Patients the same change number.
  const [seqText, idText = ''] = (state?.value ?? '0').split('\n');
  let after = { seq: Number(seqText), id: idText };
  let read = 0;
  for (;;) {
    const from = after;
    const rows = await db
      .selectFrom('resources')
      .select(['id', 'json', 'change_seq'])
      .where('resource_type', '=', 'Patient')
      .where((eb) => eb.or([eb('change_seq', '>', from.seq), eb.and([eb('change_seq', '=', from.seq), eb('id', '>', from.id)])]))
      .orderBy('change_seq')
      .orderBy('id')
      .limit(BATCH)
      .execute();
    if (rows.length === 0) break;
    const ids = rows.map((r) => r.id);
    const keys = rows.flatMap((r) => patientKeys(r.json).map((k) => ({ patient_id: r.id, ...k })));
    const last = rows.at(-1)!;
    after = { seq: Number(last.change_seq), id: last.id };
    const position = `${after.seq}\n${after.id}`;
    await db.transaction().execute(async (trx) => {
      await trx.deleteFrom('privacy_patient_keys').where('patient_id', 'in', ids).execute();
      for (let i = 0; i < keys.length; i += 1000) await trx.insertInto('privacy_patient_keys').values(keys.slice(i, i + 1000)).execute();
      await trx
        .insertInto('privacy_monitor_state')
        .values({ name: STATE, value: position })
        .onConflict((oc) => oc.column('name').doUpdateSet({ value: position }))
        .execute();
    });
    read += rows.length;
  }
  return read;
}
