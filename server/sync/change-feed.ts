/**
 * The change feed a device pulls from. Every write to a resource stamps it
 * with a change number taken from one counter row inside the writing
 * transaction; the row lock makes transactions commit in change-number order,
 * so a reader never sees number n+1 before n and a cursor never skips a
 * write. A pull returns, for the clinician's assigned patients only, the
 * current version of each resource changed after the cursor, in (number,
 * type, id) order, and with the last page the list of patients assigned now
 * (so devices drop the others). Which rows a caller may read is the access
 * policy's answer (readableResources), never this file's; every page is
 * audited in the transaction that reads it.
 */
import { sql } from 'kysely';
import { MAX_PULL_RESOURCES, type PullReply } from '../../shared/sync-api';
import type { Db } from '../database';
import type { Caller } from '../auth/caller';
import type { Clock } from '../clock';
import { readableResources } from '../authorization/access-policy';
import { recordDisclosures } from '../audit/disclosure-ledger';
import { disclosuresByPatient } from './served-disclosures';

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

/** Where a page was asked for and when: the server audit records the query as received. */
export interface PageRequest {
  /** The request path with its query string. */
  query: string;
  clock: Clock;
}

/**
 * One page of the feed, read and audited in one transaction: the rows the
 * access policy lets the caller read, and one disclosure per patient on the
 * page (so no page is served without its audit, and no audit without the page).
 */
export async function pullChanges(db: Db, caller: Caller, cursor: string | null, request: PageRequest, limit = MAX_PULL_RESOURCES): Promise<PullReply> {
  return db.transaction().execute(async (trx) => {
    let query = readableResources(trx, caller)
      .select(['r.json', 'r.version_id', 'r.change_seq', 'r.resource_type', 'r.id', 'r.patient_id'])
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
    const byPatient = new Map<string, string[]>();
    for (const r of page) {
      const refs = byPatient.get(r.patient_id!);
      if (refs) refs.push(`${r.resource_type}/${r.id}`);
      else byPatient.set(r.patient_id!, [`${r.resource_type}/${r.id}`]);
    }
    const assigned = more ? null : await trx.selectFrom('assignments').select('patient_id').where('clinician_id', '=', caller.clinicianId).orderBy('patient_id').execute();
    // Last in the transaction: the audit chain's head stays locked until commit.
    if (byPatient.size > 0) await recordDisclosures(trx, caller, disclosuresByPatient(byPatient, { action: 'E', subtype: 'search-type', query: request.query }), request.clock);
    return {
      resources: page.map((r) => servedResource(r.json, Number(r.version_id))) as PullReply['resources'],
      cursor: last ? `${Number(last.change_seq)}/${last.resource_type}/${last.id}` : cursor,
      more,
      ...(assigned ? { assignedPatients: assigned.map((a) => a.patient_id) } : {}),
    };
  });
}
