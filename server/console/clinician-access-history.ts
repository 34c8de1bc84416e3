/**
 * A clinician's access history for the privacy console: what the
 * clinician's own desktops recorded (their uploaded chains) and what the
 * backend disclosed to the clinician (its own chain), newest first. Reads
 * only; callers authorize and audit in the same transaction. The backend's
 * chain has no actor column, so its rows are found by the canonical entry's
 * actor field (LIKE with the id's wildcards escaped) and then checked by
 * parsing the entry, never trusted from the pattern alone.
 */
import { sql } from 'kysely';
import type { Db } from '../database';
import { parseCanonicalAuditEntry } from '../../shared/audit-entry';
import type { DisclosureRow } from '../../shared/privacy-console-api';
import { disclosureRow } from './disclosure-rows';

export const HISTORY_ROWS = 300;

type Json = Record<string, unknown>;

export async function clinicianHistory(db: Db, clinicianId: string, limit = HISTORY_ROWS): Promise<{ rows: DisclosureRow[]; more: boolean }> {
  const take = limit + 1;
  const fromDevices = await db
    .selectFrom('audit_entry_times as t')
    .innerJoin('devices as d', 'd.id', 't.device_id')
    .innerJoin('audit_entries as e', (j) => j.onRef('e.device_id', '=', 't.device_id').onRef('e.seq', '=', 't.seq'))
    .select(['t.recorded_at', 'e.entry', 'e.event'])
    .where('d.clinician_id', '=', clinicianId)
    .orderBy('t.recorded_at', 'desc')
    .orderBy('t.device_id', 'desc')
    .orderBy('t.seq', 'desc')
    .limit(take)
    .execute();
  const escaped = clinicianId.replace(/[\\%_]/g, (c) => `\\${c}`);
  const pattern = `[%,"%","${escaped}",%`;
  const fromServer = await db
    .selectFrom('disclosure_events')
    .select(['recorded_at', 'entry', 'event'])
    .where(sql<boolean>`entry like ${pattern} escape '\\'`)
    .orderBy('recorded_at', 'desc')
    .orderBy('seq', 'desc')
    .limit(take)
    .execute();
  const merged = [...fromDevices, ...fromServer]
    .filter((r) => parseCanonicalAuditEntry(r.entry)?.actor === clinicianId)
    .sort((a, b) => (a.recorded_at < b.recorded_at ? 1 : a.recorded_at > b.recorded_at ? -1 : 0));
  const rows = merged.slice(0, limit).map((r) => {
    const row = disclosureRow(JSON.parse(r.event) as Json);
    // A search's text may name other patients: the history shows that a search happened, not what was typed.
    return row.what === 'search-type' ? { ...row, reason: '' } : row;
  });
  return { rows, more: merged.length > limit };
}
