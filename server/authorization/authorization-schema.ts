/**
 * Migration (schema) for roles: what a clinician may see beyond their own
 * assignments (today one role, 'privacy-officer', who reads any patient's
 * access trail with its search text, and no patient record). Granted and
 * revoked only by the organisation's admin commands. Tables declared here
 * are merged into the backend's Tables type in ../database.ts. Portable
 * Kysely schema builder only, so SQLite and PostgreSQL get the same tables.
 */
import type { Db } from '../database';

export interface AuthorizationTables {
  /** One row per role held; no row, no role. */
  roles: { clinician_id: string; role: string };
}

export async function migrateAuthorization(db: Db): Promise<void> {
  await db.schema
    .createTable('roles')
    .ifNotExists()
    .addColumn('clinician_id', 'text', (c) => c.notNull().references('clinicians.id'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('roles_pk', ['clinician_id', 'role'])
    .execute();
}
