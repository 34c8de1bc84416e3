/**
 * The access facts the rules read: one row per audit entry (devices'
 * uploaded entries, and the backend's own disclosures that name a patient),
 * the fields the rules need (clinician, patient, time in epoch seconds,
 * action, subtype, purpose, network, outcome) taken out of the canonical
 * entry text by the database itself (one INSERT … SELECT, no row through
 * JS). Incremental: only entries not yet taken. Entries of the cache
 * command line (actor 'cli:…', an OS account) are not a clinician's access
 * and are left out. An entry whose time is not a plain valid UTC time
 * (YYYY-MM-DDTHH:MM:SS[.fff]Z, a real calendar day), or that lacks a field
 * the rules need, is skipped and counted, never copied: one bad row (an old
 * one, or one that reached the ledger by another path) must never make the
 * copy, and so every run, fail. Never copies search text or entities.
 */
import { sql, type RawBuilder } from 'kysely';
import { engineOf, type Db } from '../database';

export interface Ingested {
  /** New facts taken in this call. */
  count: number;
  /** New facts outside the judged window [notBefore, notAfter] (taken, but never judged by a run). */
  outside: number;
  /** Epoch seconds of the earliest and latest new fact inside the window (null when none). */
  fromEpoch: number | null;
  toEpoch: number | null;
  /** Device entries left out because their time or fields cannot be read (all such rows, counted again each run). */
  skipped: number;
}

/** SQLite: the text is a strict UTC time of a real calendar day (strftime normalises 31 February; the round trip catches it). */
const sqliteValidTime = (t: RawBuilder<unknown>) =>
  sql`(${t} glob '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]*Z' and length(${t}) between 20 and 24
       and strftime('%Y-%m-%dT%H:%M:%S', ${t}) = substr(${t}, 1, 19))`;

/** PostgreSQL: the same test, in an order (CASE) that never casts a text that would fail the cast. */
const postgresValidTime = (t: RawBuilder<unknown>) =>
  sql`(case when ${t} ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,3})?Z$' and substr(${t}, 1, 4) <> '0000'
        then extract(month from make_date(substr(${t}, 1, 4)::int, substr(${t}, 6, 2)::int, 1) + (substr(${t}, 9, 2)::int - 1)) = substr(${t}, 6, 2)::int
        else false end)`;

/** Both engines: the fields the rules need are present (NOT NULL columns). */
const sqliteFields = (e: RawBuilder<unknown>) =>
  sql`json_extract(${e}, '$[3]') is not null and json_extract(${e}, '$[4]') is not null and json_extract(${e}, '$[5]') is not null and json_extract(${e}, '$[9]') is not null and json_extract(${e}, '$[11]') is not null`;
const postgresFields = (j: RawBuilder<unknown>) => sql`${j}->>3 is not null and ${j}->>4 is not null and ${j}->>5 is not null and ${j}->>9 is not null and ${j}->>11 is not null`;

const COLUMNS = sql`(source, device_id, seq, clinician_id, patient_id, recorded_at, at_epoch, action, subtype, purpose, network, outcome)`;

/** Takes every audit entry not yet in privacy_access_facts; extremes are of those inside the judged window (epoch seconds). */
export async function ingestAccessFacts(db: Db, window: { notBefore: number; notAfter: number } = { notBefore: Number.MIN_SAFE_INTEGER, notAfter: Number.MAX_SAFE_INTEGER }): Promise<Ingested> {
  const postgres = engineOf(db) === 'postgres';
  const device = postgres
    ? sql`insert into privacy_access_facts ${COLUMNS}
        select 'device', e.device_id, e.seq, e.j->>3, e.patient_id, e.j->>2, floor(extract(epoch from (e.j->>2)::timestamptz))::bigint,
               e.j->>4, e.j->>5, e.j->>11, e.j->>12, e.j->>9
        from (select a.device_id, a.seq, a.patient_id, a.entry::jsonb as j from audit_entries a
              where not exists (select 1 from privacy_access_facts f where f.source = 'device' and f.device_id = a.device_id and f.seq = a.seq)) e
        where e.j->>3 not like 'cli:%' and ${postgresValidTime(sql`(e.j->>2)`)} and ${postgresFields(sql`e.j`)}
        on conflict do nothing
        returning at_epoch`
    : sql`insert into privacy_access_facts ${COLUMNS}
        select 'device', a.device_id, a.seq, json_extract(a.entry, '$[3]'), a.patient_id, json_extract(a.entry, '$[2]'),
               cast(strftime('%s', json_extract(a.entry, '$[2]')) as integer),
               json_extract(a.entry, '$[4]'), json_extract(a.entry, '$[5]'), json_extract(a.entry, '$[11]'), json_extract(a.entry, '$[12]'), json_extract(a.entry, '$[9]')
        from audit_entries a
        where not exists (select 1 from privacy_access_facts f where f.source = 'device' and f.device_id = a.device_id and f.seq = a.seq)
          and json_extract(a.entry, '$[3]') not like 'cli:%'
          and ${sqliteValidTime(sql`json_extract(a.entry, '$[2]')`)} and ${sqliteFields(sql`a.entry`)}
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
        where ${postgresValidTime(sql`(e.j->>2)`)} and ${postgresFields(sql`e.j`)} and e.j->>10 is not null
        on conflict do nothing
        returning at_epoch`
    : sql`insert into privacy_access_facts ${COLUMNS}
        select 'backend', json_extract(d.entry, '$[10]'), d.seq, json_extract(d.entry, '$[3]'), d.patient_id, json_extract(d.entry, '$[2]'),
               cast(strftime('%s', json_extract(d.entry, '$[2]')) as integer),
               json_extract(d.entry, '$[4]'), json_extract(d.entry, '$[5]'), json_extract(d.entry, '$[11]'), json_extract(d.entry, '$[12]'), json_extract(d.entry, '$[9]')
        from disclosure_events d
        where d.patient_id is not null
          and d.seq > coalesce((select max(f.seq) from privacy_access_facts f where f.source = 'backend'), 0)
          and ${sqliteValidTime(sql`json_extract(d.entry, '$[2]')`)} and ${sqliteFields(sql`d.entry`)} and json_extract(d.entry, '$[10]') is not null
        on conflict do nothing
        returning at_epoch`;
  let count = 0;
  let outside = 0;
  let fromEpoch: number | null = null;
  let toEpoch: number | null = null;
  for (const statement of [device, backend]) {
    // PostgreSQL: the extremes are computed in the database (a month is a million rows); SQLite returns the column.
    if (postgres) {
      const inside = sql`at_epoch >= ${sql.lit(Math.trunc(window.notBefore))} and at_epoch <= ${sql.lit(Math.trunc(window.notAfter))}`;
      const r = await sql<{ n: string; out: string | null; lo: string | null; hi: string | null }>`with ins as (${statement})
        select count(*) as n, sum(case when ${inside} then 0 else 1 end) as out,
               min(case when ${inside} then at_epoch end) as lo, max(case when ${inside} then at_epoch end) as hi from ins`.execute(db);
      const row = r.rows[0]!;
      count += Number(row.n);
      outside += Number(row.out ?? 0);
      if (row.lo !== null) fromEpoch = Math.min(fromEpoch ?? Number.POSITIVE_INFINITY, Number(row.lo));
      if (row.hi !== null) toEpoch = Math.max(toEpoch ?? Number.NEGATIVE_INFINITY, Number(row.hi));
    } else {
      const r = await statement.execute(db);
      for (const row of r.rows as Array<{ at_epoch: number }>) {
        const t = Number(row.at_epoch);
        count++;
        if (t < window.notBefore || t > window.notAfter) {
          outside++;
          continue;
        }
        fromEpoch = Math.min(fromEpoch ?? t, t);
        toEpoch = Math.max(toEpoch ?? t, t);
      }
    }
  }
  // The device entries left out (not yet taken, not the command line's, unreadable): counted, never blocking.
  const skippedSql = postgres
    ? sql<{ n: string | number }>`select count(*) as n from (select a.entry::jsonb as j from audit_entries a
        where not exists (select 1 from privacy_access_facts f where f.source = 'device' and f.device_id = a.device_id and f.seq = a.seq)) e
        where coalesce(e.j->>3, '') not like 'cli:%' and not (${postgresValidTime(sql`(e.j->>2)`)} and ${postgresFields(sql`e.j`)})`
    : sql<{ n: string | number }>`select count(*) as n from audit_entries a
        where not exists (select 1 from privacy_access_facts f where f.source = 'device' and f.device_id = a.device_id and f.seq = a.seq)
          and coalesce(json_extract(a.entry, '$[3]'), '') not like 'cli:%'
          and not coalesce(${sqliteValidTime(sql`json_extract(a.entry, '$[2]')`)} and ${sqliteFields(sql`a.entry`)}, 0)`;
  const skipped = Number((await skippedSql.execute(db)).rows[0]?.n ?? 0);
  return { count, outside, fromEpoch, toEpoch, skipped };
}
