/**
 * Migration (schema) for unusual-access monitoring: the flags, the access
 * facts the rules read (one row per audit entry, the fields the rules need
 * taken out of the canonical text once, by SQL), the staff-directory facts
 * an admin sets (a clinician's surname and address, normalised), the
 * patients' normalised surnames and addresses, the patients an admin marked
 * VIP or staff, and the runner's state. Tables declared here are merged into
 * the backend's Tables type in ../database.ts. Portable Kysely schema
 * builder only. Never store resource content or search text here.
 */
import type { Db } from '../database';

export interface PrivacyTables {
  /** One flag per dedupe key; acknowledged with a note by a privacy officer. */
  privacy_flags: {
    id: string;
    rule: string;
    clinician_id: string;
    patient_id: string | null;
    explanation: string;
    /** JSON of FlagEvidence (shared/privacy-api.ts). */
    evidence: string;
    dedupe_key: string;
    /** When the access happened (ISO). */
    activity_at: string;
    raised_at: string;
    status: string;
    ack_by: string | null;
    ack_at: string | null;
    ack_note: string | null;
  };
  /**
   * One row per audit entry the rules read: source 'device' (device_id, seq
   * of audit_entries) or 'backend' (device_id the requesting device, seq of
   * disclosure_events). at_epoch: recorded time in whole seconds since 1970 UTC.
   */
  privacy_access_facts: {
    source: string;
    device_id: string;
    seq: number;
    clinician_id: string;
    patient_id: string | null;
    recorded_at: string;
    at_epoch: number;
    action: string;
    subtype: string;
    purpose: string;
    network: string | null;
    outcome: string;
  };
  /** Staff-directory facts (admin command): kind 'surname' | 'address', value normalised (./normalise.ts). */
  privacy_staff_keys: { clinician_id: string; kind: string; value: string };
  /** The same facts of patients, from their stored Patient resource. */
  privacy_patient_keys: { patient_id: string; kind: string; value: string };
  /** Patients an admin marked 'vip' or 'staff'. */
  privacy_patient_markers: { patient_id: string; marker: string; set_at: string };
  /** The runner's state by name (e.g. how far patient keys were refreshed). */
  privacy_monitor_state: { name: string; value: string };
}

export async function migratePrivacy(db: Db): Promise<void> {
  await db.schema
    .createTable('privacy_flags')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('rule', 'text', (c) => c.notNull())
    .addColumn('clinician_id', 'text', (c) => c.notNull())
    .addColumn('patient_id', 'text')
    .addColumn('explanation', 'text', (c) => c.notNull())
    .addColumn('evidence', 'text', (c) => c.notNull())
    .addColumn('dedupe_key', 'text', (c) => c.notNull().unique())
    .addColumn('activity_at', 'text', (c) => c.notNull())
    .addColumn('raised_at', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('ack_by', 'text')
    .addColumn('ack_at', 'text')
    .addColumn('ack_note', 'text')
    .execute();
  await db.schema.createIndex('privacy_flags_by_status').on('privacy_flags').columns(['status', 'activity_at', 'id']).execute();

  await db.schema
    .createTable('privacy_access_facts')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('clinician_id', 'text', (c) => c.notNull())
    .addColumn('patient_id', 'text')
    .addColumn('recorded_at', 'text', (c) => c.notNull())
    .addColumn('at_epoch', 'bigint', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('subtype', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('network', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('privacy_access_facts_pk', ['source', 'device_id', 'seq'])
    .execute();
  await db.schema.createIndex('privacy_access_facts_by_clinician').on('privacy_access_facts').columns(['clinician_id', 'at_epoch']).execute();
  await db.schema.createIndex('privacy_access_facts_by_time').on('privacy_access_facts').columns(['at_epoch']).execute();

  await db.schema
    .createTable('privacy_staff_keys')
    .addColumn('clinician_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('privacy_staff_keys_pk', ['clinician_id', 'kind', 'value'])
    .execute();
  await db.schema
    .createTable('privacy_patient_keys')
    .addColumn('patient_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('privacy_patient_keys_pk', ['patient_id', 'kind', 'value'])
    .execute();
  await db.schema.createIndex('privacy_patient_keys_by_value').on('privacy_patient_keys').columns(['kind', 'value']).execute();
  await db.schema
    .createTable('privacy_patient_markers')
    .addColumn('patient_id', 'text', (c) => c.notNull())
    .addColumn('marker', 'text', (c) => c.notNull())
    .addColumn('set_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('privacy_patient_markers_pk', ['patient_id', 'marker'])
    .execute();
  await db.schema
    .createTable('privacy_monitor_state')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
}
