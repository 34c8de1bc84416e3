/**
 * The granted patient's records, page by page, for the desktop to write
 * into its cache with its pull writer: every resource of the patient, its
 * current version, in change-feed order after the cursor. Served only
 * while the caller's clinician holds an active grant for the patient AND
 * the access policy lets the caller read it (one authorization point);
 * otherwise null, the same whether the grant expired, never existed or the
 * patient does not exist. Each page is recorded in the backend's
 * disclosure ledger in the transaction that reads it (purpose ETREAT, as
 * the ledger gives every disclosure under an active grant).
 */
import { sql } from 'kysely';
import { GLASS_RECORDS_PAGE_MAX, type GlassRecordsReply } from '../../shared/glass-api';
import type { PullReply } from '../../shared/sync-api';
import type { Caller } from '../auth/caller';
import type { Clock } from '../clock';
import type { Db } from '../database';
import { mayAccessPatient } from '../authorization/access-policy';
import { recordDisclosures } from '../audit/disclosure-ledger';
import { servedResource } from '../sync/change-feed';
import { disclosuresByPatient } from '../sync/served-disclosures';
import { grantEnd } from './grant-store';

export async function grantedRecordsPage(
  db: Db,
  caller: Caller,
  patientId: string,
  cursor: string | null,
  request: { query: string; clock: Clock },
  limit = GLASS_RECORDS_PAGE_MAX,
): Promise<GlassRecordsReply | null> {
  return db.transaction().execute(async (trx) => {
    const expiresAt = await grantEnd(trx, caller.clinicianId, patientId, request.clock());
    if (expiresAt === null || !(await mayAccessPatient(trx, caller, 'read', patientId, request.clock))) return null;
    let query = trx
      .selectFrom('resources as r')
      .select(['r.json', 'r.version_id', 'r.change_seq', 'r.resource_type', 'r.id'])
      .where('r.patient_id', '=', patientId)
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
    if (page.length > 0) {
      const refs = new Map([[patientId, page.map((r) => `${r.resource_type}/${r.id}`)]]);
      await recordDisclosures(trx, caller, disclosuresByPatient(refs, { action: 'E', subtype: 'search-type', query: request.query }), request.clock);
    }
    return {
      resources: page.map((r) => servedResource(r.json, Number(r.version_id))) as PullReply['resources'],
      cursor: last ? `${Number(last.change_seq)}/${last.resource_type}/${last.id}` : cursor,
      more: rows.length > limit,
      expiresAt,
    };
  });
}
