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
 * audited in the transaction that reads it. A page is a range scan of the
 * change index from the cursor (bounded by the page, whatever the panel's
 * size); on request it also says how many readable resources remain after it.
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

/** What a pull asks for besides its cursor. */
export interface PullOptions {
  /** Resources per page (the contract's MAX_PULL_RESOURCES; tests use fewer). */
  limit?: number;
  /** Also count what the caller may read after this page (`remaining`): asked on a sync run's first page only. */
  estimate?: boolean;
}

/** A place in the feed's order (change number, type, id): where a cursor points. */
export type FeedKey = readonly [seq: number, type: string, id: string];

function parseCursor(cursor: string): FeedKey {
  const [seq, type, id] = cursor.split('/') as [string, string, string];
  return [Number(seq), type, id];
}

/** The rows after `key` in the feed's order: a row-value comparison in the change index's own column order, so a range of it. */
const after = ([seq, type, id]: FeedKey) => sql<boolean>`(r.change_seq, r.resource_type, r.id) > (${seq}, ${type}, ${id})`;

/**
 * The query of one page: the readable rows after the cursor in the feed's
 * order, limit + 1 of them (the extra one says whether more wait). Exported
 * for the test that reads its query plan.
 */
export function feedPageQuery(db: Db, caller: Caller, cursor: string | null, limit: number) {
  const query = readableResources(db, caller, 'in-order')
    .select(['r.json', 'r.version_id', 'r.change_seq', 'r.resource_type', 'r.id', 'r.patient_id'])
    .orderBy('r.change_seq')
    .orderBy('r.resource_type')
    .orderBy('r.id')
    .limit(limit + 1);
  return cursor ? query.where(after(parseCursor(cursor))) : query;
}

/** The query counting the readable rows after `key` (all of them when null). Exported for the test that reads its query plan. */
export function readableAfterCountQuery(db: Db, caller: Caller, key: FeedKey | null) {
  const query = readableResources(db, caller, 'any-order').select((eb) => eb.fn.countAll<number | string | bigint>().as('n'));
  return key ? query.where(after(key)) : query;
}

/**
 * One page of the feed, read and audited in one transaction: the rows the
 * access policy lets the caller read, and one disclosure per patient on the
 * page (so no page is served without its audit, and no audit without the page).
 * The page is a range scan of the change index from the cursor, each row
 * kept or skipped by the policy's filter, stopped after limit + 1 rows; with
 * `estimate`, one count of the readable rows after the page through the same
 * filter (on the last page, 0 without a count).
 */
export async function pullChanges(db: Db, caller: Caller, cursor: string | null, request: PageRequest, options: PullOptions = {}): Promise<PullReply> {
  const limit = options.limit ?? MAX_PULL_RESOURCES;
  return db.transaction().execute(async (trx) => {
    const rows = await feedPageQuery(trx, caller, cursor, limit).execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const more = rows.length > limit;
    let remaining: number | undefined;
    if (options.estimate) {
      // After the page's last row; `more` implies the page has one.
      remaining = more && last ? Number((await readableAfterCountQuery(trx, caller, [Number(last.change_seq), last.resource_type, last.id]).executeTakeFirstOrThrow()).n) : 0;
    }
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
      ...(remaining === undefined ? {} : { remaining }),
    };
  });
}
