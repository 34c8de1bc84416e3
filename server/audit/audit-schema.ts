/**
 * Migration (schema) for the backend's own disclosure audit chain, the
 * recorded time of uploaded device entries (so trails order by time across
 * devices) and the assignment history (who could see which patient when).
 * Tables declared here are merged into the backend's Tables type in
 * ../database.ts. Portable Kysely schema builder only, so SQLite and
 * PostgreSQL get the same tables. Never drop or rewrite a chain row here.
 */
import { AUDIT_GENESIS_HASH, ROLLBACK_SUBTYPE, lostRangeFacts, parseCanonicalAuditEntry, rollbackFacts } from '../../shared/audit-entry';
import type { Db } from '../database';

export interface AuditLedgerTables {
  /** The server's own chain: one row per disclosure event, gap-free seq. */
  disclosure_events: { seq: number; recorded_at: string; patient_id: string | null; entry: string; prev_hash: string; hash: string; event: string };
  /** One row (id 1): the chain head, the serialization point of appends; a truncated tail shows against it. */
  disclosure_head: { id: number; seq: number; hash: string };
  /** Periods during which a clinician was assigned a patient; unassigned_at null while it lasts. */
  assignment_periods: { clinician_id: string; patient_id: string; assigned_at: string; unassigned_at: string | null };
  /** The recorded time of each uploaded device entry (from its canonical text), for time-ordered trails. */
  audit_entry_times: { device_id: string; seq: number; patient_id: string | null; recorded_at: string };
  /**
   * Flags the backend itself set on stored device entries (e.g. a rollback
   * entry it checked and accepted): what the privacy officer's review reads,
   * never the entry text, which a clinician controls.
   */
  audit_flags: { device_id: string; seq: number; flag: string; recorded_at: string };
}

/** The flag of an accepted rollback entry (either form). */
export const ROLLBACK_FLAG = 'rollback-detected';

/** Start of assignments that existed before history was kept: unknown, so as early as possible. */
export const UNKNOWN_ASSIGNMENT_START = new Date(0).toISOString();

export async function migrateAuditLedger(db: Db): Promise<void> {
  await db.schema
    .createTable('disclosure_events')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('recorded_at', 'text', (c) => c.notNull())
    .addColumn('patient_id', 'text')
    .addColumn('entry', 'text', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('disclosure_events_by_patient').on('disclosure_events').columns(['patient_id', 'recorded_at', 'seq']).execute();
  await db.schema
    .createTable('disclosure_head')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  await db.insertInto('disclosure_head').values({ id: 1, seq: 0, hash: AUDIT_GENESIS_HASH }).execute();

  await db.schema
    .createTable('assignment_periods')
    .addColumn('clinician_id', 'text', (c) => c.notNull())
    .addColumn('patient_id', 'text', (c) => c.notNull())
    .addColumn('assigned_at', 'text', (c) => c.notNull())
    .addColumn('unassigned_at', 'text')
    .execute();
  await db.schema.createIndex('assignment_periods_by_pair').on('assignment_periods').columns(['clinician_id', 'patient_id']).execute();
  const current = await db.selectFrom('assignments').select(['clinician_id', 'patient_id']).execute();
  for (let i = 0; i < current.length; i += 1000) {
    await db
      .insertInto('assignment_periods')
      .values(current.slice(i, i + 1000).map((a) => ({ ...a, assigned_at: UNKNOWN_ASSIGNMENT_START, unassigned_at: null })))
      .execute();
  }

  await db.schema
    .createTable('audit_entry_times')
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('patient_id', 'text')
    .addColumn('recorded_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('audit_entry_times_pk', ['device_id', 'seq'])
    .execute();
  await db.schema.createIndex('audit_entry_times_by_patient').on('audit_entry_times').columns(['patient_id', 'recorded_at', 'device_id', 'seq']).execute();
  // Entries uploaded before times were kept: their time is inside their canonical text.
  await forEachStoredEntryBatch(db, { withoutPatientOnly: false }, async (batch) => {
    await db
      .insertInto('audit_entry_times')
      .values(batch.map((r) => ({ device_id: r.device_id, seq: Number(r.seq), patient_id: r.patient_id, recorded_at: String((JSON.parse(r.entry) as unknown[])[2]) })))
      .execute();
  });
}

/** Walks the uploaded device entries in (device, seq) order, 1,000 at a time (backfills of later migrations). */
async function forEachStoredEntryBatch(
  db: Db,
  { withoutPatientOnly }: { withoutPatientOnly: boolean },
  fn: (batch: Array<{ device_id: string; seq: number; patient_id: string | null; entry: string }>) => Promise<void>,
): Promise<void> {
  let after = { device: '', seq: 0 };
  for (;;) {
    let query = db
      .selectFrom('audit_entries')
      .select(['device_id', 'seq', 'patient_id', 'entry'])
      .where((eb) => eb.or([eb('device_id', '>', after.device), eb.and([eb('device_id', '=', after.device), eb('seq', '>', after.seq)])]));
    if (withoutPatientOnly) query = query.where('patient_id', 'is', null);
    const batch = await query.orderBy('device_id').orderBy('seq').limit(1000).execute();
    if (batch.length === 0) return;
    await fn(batch);
    const last = batch.at(-1)!;
    after = { device: last.device_id, seq: Number(last.seq) };
  }
}

/**
 * Migration: the flags table, and flags for rollback entries accepted
 * before it existed (found by parsing each candidate entry: only a real
 * rollback entry, which the backend checked when it stored it, is flagged).
 */
export async function migrateAuditFlags(db: Db): Promise<void> {
  await db.schema
    .createTable('audit_flags')
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('flag', 'text', (c) => c.notNull())
    .addColumn('recorded_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('audit_flags_pk', ['device_id', 'seq', 'flag'])
    .execute();
  await db.schema.createIndex('audit_flags_by_flag').on('audit_flags').columns(['flag', 'recorded_at', 'device_id', 'seq']).execute();
  await forEachStoredEntryBatch(db, { withoutPatientOnly: true }, async (batch) => {
    const flags = [];
    for (const r of batch) {
      const entry = parseCanonicalAuditEntry(r.entry);
      if (entry && entry.subtype === ROLLBACK_SUBTYPE && (rollbackFacts(entry) || lostRangeFacts(entry))) {
        flags.push({ device_id: r.device_id, seq: Number(r.seq), flag: ROLLBACK_FLAG, recorded_at: entry.recordedAt });
      }
    }
    if (flags.length > 0) await db.insertInto('audit_flags').values(flags).execute();
  });
}
