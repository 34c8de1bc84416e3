/**
 * The change feed a device pulls from. Every write to a resource stamps it
 * with a change number taken from one counter row inside the writing
 * transaction; the row lock makes transactions commit in change-number order,
 * so a reader never sees number n+1 before n and a cursor never skips a
 * write. A pull returns, for the clinician's assigned patients only, the
 * current version of each resource changed after the cursor, in (number,
 * type, id) order, and with the last page the list of patients assigned now
 * (so devices drop the others). Never serve a resource of a patient not
 * assigned.
 */
import { sql } from 'kysely';
import { MAX_PULL_RESOURCES, type PullReply } from '../../shared/sync-api';
import type { Db } from '../database';

/** Takes the next change number; call inside the transaction that writes. */
export async function nextChangeSeq(trx: Db): Promise<number> {
  const row = await trx
    .updateTable('counters')
    .set((eb) => ({ value: eb('value', '+', 1) }))
    .where('name', '=', 'change_seq')
    .returning('value')
    .executeTakeFirstOrThrow();
  return Number(row.value);
}

/** A resource as served: its stored JSON with meta.versionId set from the version column. */
export function servedResource(json: string, versionId: number): Record<string, unknown> {
  const resource = JSON.parse(json) as Record<string, unknown>;
  return { ...resource, meta: { ...(resource.meta as object | undefined), versionId: String(versionId) } };
}

/** The resources (as `r`) of the patients assigned to `clinicianId`: the only ones ever served to them. */
export function assignedResources(db: Db, clinicianId: string) {
  return db.selectFrom('resources as r').innerJoin('assignments as a', (join) => join.onRef('a.patient_id', '=', 'r.patient_id').on('a.clinician_id', '=', clinicianId));
}

export async function pullChanges(db: Db, clinicianId: string, cursor: string | null, limit = MAX_PULL_RESOURCES): Promise<PullReply> {
  let query = assignedResources(db, clinicianId)
    .select(['r.json', 'r.version_id', 'r.change_seq', 'r.resource_type', 'r.id'])
    .orderBy('r.change_seq')
    .orderBy('r.resource_type')
    .orderBy('r.id')
    .limit(limit + 1);
  if (cursor) {
    const [seq, type, id] = cursor.split('/') as [string, string, string];
    query = query.where(sql<boolean>`(r.change_seq, r.resource_type, r.id) > (${Number(seq)}, ${type}, ${id})`);
  }
  const rows = await query.execute();
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const more = rows.length > limit;
  const assigned = more ? null : await db.selectFrom('assignments').select('patient_id').where('clinician_id', '=', clinicianId).orderBy('patient_id').execute();
  return {
    resources: page.map((r) => servedResource(r.json, Number(r.version_id))) as PullReply['resources'],
    cursor: last ? `${Number(last.change_seq)}/${last.resource_type}/${last.id}` : cursor,
    more,
    ...(assigned ? { assignedPatients: assigned.map((a) => a.patient_id) } : {}),
  };
}
