/**
 * Applies pushed changes exactly once. Each change is looked up by (device,
 * idempotency key) first: a repeat gets the stored answer and writes
 * nothing. A new change writes only if the resource is still at the version
 * the device saw (a conditional update, safe under concurrency on SQLite and
 * PostgreSQL); otherwise the answer is a conflict carrying the current
 * version, never an overwrite. Changes to patients not assigned to the
 * clinician are refused, as is any change to a signed note (status final).
 * Every answer is stored under its key.
 */
import { patientIdOf } from '../../shared/fhir-fields';
import { changeResultSchema, type Change, type ChangeResult } from '../../shared/sync-api';
import type { Clock } from '../clock';
import type { Db } from '../database';
import { nextChangeSeq } from './change-feed';

async function storedResult(db: Db, deviceId: string, key: string): Promise<ChangeResult | null> {
  const row = await db.selectFrom('applied_changes').select('result').where('device_id', '=', deviceId).where('idempotency_key', '=', key).executeTakeFirst();
  return row ? changeResultSchema.parse(JSON.parse(row.result)) : null;
}

/** Patients assigned to the clinician, looked up once per push. */
type AssignedCheck = (patientId: string) => Promise<boolean>;
/** The push's change number, taken at its first write. */
type ChangeSeq = () => Promise<number>;

async function applyOne(db: Db, who: { clinicianId: string; deviceId: string }, change: Change, clock: Clock, assigned: AssignedCheck, changeSeq: ChangeSeq): Promise<ChangeResult> {
  const seen = await storedResult(db, who.deviceId, change.idempotencyKey);
  if (seen) return seen;
  const result = await decide(db, change, clock, assigned, changeSeq);
  await db
    .insertInto('applied_changes')
    .values({ device_id: who.deviceId, idempotency_key: change.idempotencyKey, result: JSON.stringify(result), created_at: clock().toISOString() })
    .execute();
  return result;
}

async function decide(db: Db, change: Change, clock: Clock, isAssigned: AssignedCheck, changeSeq: ChangeSeq): Promise<ChangeResult> {
  const key = change.idempotencyKey;
  if (change.resource.resourceType !== change.resourceType || change.resource.id !== change.id) {
    return { idempotencyKey: key, status: 'refused', reason: 'The change does not match its resource.' };
  }
  const patientId = patientIdOf(change.resourceType, change.id, change.resource, new Map());
  if (!patientId || !(await isAssigned(patientId))) return { idempotencyKey: key, status: 'refused', reason: 'The patient is not assigned to you.' };

  const current = await db.selectFrom('resources').select(['json', 'version_id']).where('resource_type', '=', change.resourceType).where('id', '=', change.id).executeTakeFirst();
  const conflict = (row: { json: string; version_id: number }): ChangeResult => ({
    idempotencyKey: key,
    status: 'conflict',
    current: JSON.parse(row.json) as { resourceType: string; id: string },
    currentVersion: String(row.version_id),
  });
  const nextVersion = current ? Number(current.version_id) + 1 : 1;
  const stored = JSON.stringify({ ...change.resource, meta: { ...(change.resource.meta as object | undefined), versionId: String(nextVersion), lastUpdated: clock().toISOString() } });

  if (!current) {
    if (change.baseVersion !== null) return { idempotencyKey: key, status: 'refused', reason: 'The resource does not exist on the server.' };
    const inserted = await db
      .insertInto('resources')
      .values({ resource_type: change.resourceType, id: change.id, patient_id: patientId, json: stored, version_id: 1, change_seq: await changeSeq() })
      .onConflict((oc) => oc.columns(['resource_type', 'id']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return { idempotencyKey: key, status: 'applied', versionId: '1' };
    const raced = await db.selectFrom('resources').select(['json', 'version_id']).where('resource_type', '=', change.resourceType).where('id', '=', change.id).executeTakeFirstOrThrow();
    return conflict(raced);
  }
  if (change.resourceType === 'Composition' && (JSON.parse(current.json) as { status?: string }).status === 'final') {
    // A signed note never changes, so it never conflicts: corrections are addenda (new resources).
    return { idempotencyKey: key, status: 'refused', reason: 'A signed note cannot change; add an addendum.' };
  }
  if (change.baseVersion !== String(current.version_id)) return conflict(current);
  const updated = await db
    .updateTable('resources')
    .set({ json: stored, version_id: nextVersion, patient_id: patientId, change_seq: await changeSeq() })
    .where('resource_type', '=', change.resourceType)
    .where('id', '=', change.id)
    .where('version_id', '=', Number(change.baseVersion))
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 1) return { idempotencyKey: key, status: 'applied', versionId: String(nextVersion) };
  const raced = await db.selectFrom('resources').select(['json', 'version_id']).where('resource_type', '=', change.resourceType).where('id', '=', change.id).executeTakeFirstOrThrow();
  return conflict(raced);
}

/**
 * Applies a push in order, in one transaction: the writes and their stored
 * answers commit together before the reply is sent, so an answer lost on the
 * way back is found again by the retry. Should two pushes with the same key
 * race, the loser fails on the primary key, rolls back whole, and its retry
 * gets the stored answer.
 */
export async function applyChanges(db: Db, who: { clinicianId: string; deviceId: string }, changes: Change[], clock: Clock): Promise<ChangeResult[]> {
  return db.transaction().execute(async (trx) => {
    const known = new Map<string, boolean>();
    const assigned: AssignedCheck = async (patientId) => {
      let yes = known.get(patientId);
      if (yes === undefined) {
        yes = !!(await trx.selectFrom('assignments').select('patient_id').where('clinician_id', '=', who.clinicianId).where('patient_id', '=', patientId).executeTakeFirst());
        known.set(patientId, yes);
      }
      return yes;
    };
    let seq: Promise<number> | null = null;
    const changeSeq: ChangeSeq = () => (seq ??= nextChangeSeq(trx));
    const results: ChangeResult[] = [];
    for (const change of changes) results.push(await applyOne(trx, who, change, clock, assigned, changeSeq));
    return results;
  });
}
