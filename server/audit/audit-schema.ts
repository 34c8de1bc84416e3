/**
 * Migration (schema) for the backend's own disclosure audit chain and the assignment history.
 * Tables declared here are merged into the backend's Tables type in
 * ../database.ts. Portable Kysely schema builder only, so SQLite and
 * PostgreSQL get the same tables.
 */
import type { Db } from '../database';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AuditLedgerTables {}

export async function migrateAuditLedger(_db: Db): Promise<void> {
  // filled in by the feature's work
}
