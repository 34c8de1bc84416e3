/**
 * The access facts the rules read: one row per audit entry (devices'
 * uploaded entries, and the backend's own disclosures that name a patient),
 * the fields the rules need (clinician, patient, time in epoch seconds,
 * action, subtype, purpose, network, outcome) taken out of the canonical
 * entry text by the database itself (one INSERT … SELECT, no row through
 * JS). Incremental: only entries not yet taken. Entries of the cache
 * command line (actor 'cli:…', an OS account) are not a clinician's access
 * and are left out. Never copies search text or entities.
 */
import { sql } from 'kysely';
import { engineOf, type Db } from '../database';

export interface Ingested {
  /** New facts taken in this call. */
  count: number;
  /** Epoch seconds of the earliest and latest new fact (null when none). */
  fromEpoch: number | null;
  toEpoch: number | null;
}

const COLUMNS = sql`(source, device_id, seq, clinician_id, patient_id, recorded_at, at_epoch, action, subtype, purpose, network, outcome)`;

/** Takes every audit entry not yet in privacy_access_facts. */
export async function ingestAccessFacts(db: Db): Promise<Ingested> {
  const postgres = engineOf(db) === 'postgres';
  const device = postgres
    ? sql`insert into privacy_access_facts ${COLUMNS}
        select 'device', e.device_id, e.seq, e.j->>3, e.patient_id, e.j->>2, floor(extract(epoch from (e.j->>2)::timestamptz))::bigint,
               e.j->>4, e.j->>5, e.j->>11, e.j->>12, e.j->>9
        from (select a.device_id, a.seq, a.patient_id, a.entry::jsonb as j from audit_entries a
              where not exists (select 1 from privacy_access_facts f where f.source = 'device' and f.device_id = a.device_id and f.seq = a.seq)) e
        where e.j->>3 not like 'cli:%'
        on conflict do nothing
        returning at_epoch`
    : sql`insert into privacy_access_facts ${COLUMNS}
        select 'device', a.device_id, a.seq, json_extract(a.entry, '$[3]'), a.patient_id, json_extract(a.entry, '$[2]'),
               cast(strftime('%s', json_extract(a.entry, '$[2]')) as integer),
               json_extract(a.entry, '$[4]'), json_extract(a.entry, '$[5]'), json_extract(a.entry, '$[11]'), json_extract(a.entry, '$[12]'), json_extract(a.entry, '$[9]')
        from audit_entries a
        where not exists (select 1 from privacy_access_facts f where f.source = 'device' and f.device_id = a.device_id and f.seq = a.seq)
          and json_extract(a.entry, '$[3]') not like 'cli:%'
        on conflict do nothing
        returning at_epoch`;
  // Backend disclosures: only those naming a patient; seq is the backend chain's.
  const backend = postgres
    ? sql`insert into privacy_access_facts ${COLUMNS}
        select 'backend', e.j->>10, e.seq, e.j->>3, e.patient_id, e.j->>2, floor(extract(epoch from (e.j->>2)::timestamptz))::bigint,
               e.j->>4, e.j->>5, e.j->>11, e.j->>12, e.j->>9
        from (select d.seq, d.patient_id, d.entry::jsonb as j from disclosure_events d
              where d.patient_id is not null
                and d.seq > coalesce((select max(f.seq) from privacy_access_facts f where f.source = 'backend'), 0)) e
        on conflict do nothing
        returning at_epoch`
    : sql`insert into privacy_access_facts ${COLUMNS}
        select 'backend', json_extract(d.entry, '$[10]'), d.seq, json_extract(d.entry, '$[3]'), d.patient_id, json_extract(d.entry, '$[2]'),
               cast(strftime('%s', json_extract(d.entry, '$[2]')) as integer),
               json_extract(d.entry, '$[4]'), json_extract(d.entry, '$[5]'), json_extract(d.entry, '$[11]'), json_extract(d.entry, '$[12]'), json_extract(d.entry, '$[9]')
        from disclosure_events d
        where d.patient_id is not null
          and d.seq > coalesce((select max(f.seq) from privacy_access_facts f where f.source = 'backend'), 0)
        on conflict do nothing
        returning at_epoch`;
  let count = 0;
  let fromEpoch: number | null = null;
  let toEpoch: number | null = null;
  for (const statement of [device, backend]) {
    // PostgreSQL: the extremes are computed in the database (a month is a million rows); SQLite returns the column.
    if (postgres) {
      const r = await sql<{ n: string; lo: string | null; hi: string | null }>`with ins as (${statement}) select count(*) as n, min(at_epoch) as lo, max(at_epoch) as hi from ins`.execute(db);
      const row = r.rows[0]!;
      count += Number(row.n);
      if (row.lo !== null) fromEpoch = Math.min(fromEpoch ?? Number.POSITIVE_INFINITY, Number(row.lo));
      if (row.hi !== null) toEpoch = Math.max(toEpoch ?? Number.NEGATIVE_INFINITY, Number(row.hi));
    } else {
      const r = await statement.execute(db);
      for (const row of r.rows as Array<{ at_epoch: number }>) {
        const t = Number(row.at_epoch);
        count++;
        fromEpoch = Math.min(fromEpoch ?? t, t);
        toEpoch = Math.max(toEpoch ?? t, t);
      }
    }
  }
  return { count, fromEpoch, toEpoch };
}
