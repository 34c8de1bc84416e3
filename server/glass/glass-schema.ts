/**
 * Migration (schema) for break the glass: the restricted-search handles
 * (stored only as a SHA-256 hash, bound to the clinician and device that
 * searched, short-lived, used once) and the grants (who, which patient, from
 * which device, why, from when until when). Tables declared here are merged
 * into the backend's Tables type in ../database.ts. Portable Kysely schema
 * builder only, so SQLite and PostgreSQL get the same tables. Never delete
 * a grant row: the grants are what uploaded audit entries are checked
 * against, and the privacy officer's evidence.
 */
import type { Db } from '../database';

export interface GlassTables {
  /** One row per restricted match handed out; the handle itself is never stored. */
  glass_handles: { handle_hash: string; clinician_id: string; device_id: string; patient_id: string; created_at: string; expires_at: string; used_at: string | null };
  /** One row per break of the glass; active while granted_at <= now < expires_at. */
  glass_grants: {
    id: string;
    clinician_id: string;
    device_id: string;
    patient_id: string;
    reason_code: string;
    reason_text: string;
    granted_at: string;
    expires_at: string;
  };
}

export async function migrateGlass(db: Db): Promise<void> {
  await db.schema
    .createTable('glass_handles')
    .addColumn('handle_hash', 'text', (c) => c.primaryKey())
    .addColumn('clinician_id', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('patient_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();
  await db.schema.createIndex('glass_handles_by_expiry').on('glass_handles').columns(['expires_at']).execute();
  await db.schema
    .createTable('glass_grants')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('clinician_id', 'text', (c) => c.notNull().references('clinicians.id'))
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('patient_id', 'text', (c) => c.notNull())
    .addColumn('reason_code', 'text', (c) => c.notNull())
    .addColumn('reason_text', 'text', (c) => c.notNull())
    .addColumn('granted_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('glass_grants_by_clinician').on('glass_grants').columns(['clinician_id', 'patient_id', 'expires_at']).execute();
  await db.schema.createIndex('glass_grants_by_patient').on('glass_grants').columns(['patient_id', 'expires_at']).execute();
}
