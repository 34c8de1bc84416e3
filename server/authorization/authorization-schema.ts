/**
 * Migration (schema) for roles (who may see what beyond their own assignments).
 * Tables declared here are merged into the backend's Tables type in
 * ../database.ts. Portable Kysely schema builder only, so SQLite and
 * PostgreSQL get the same tables.
 */
import type { Db } from '../database';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AuthorizationTables {}

export async function migrateAuthorization(_db: Db): Promise<void> {
  // filled in by the feature's work
}
