/**
 * Migration (schema) for the change feed's index: the feed's order
 * (change_seq, resource_type, id) with the row's patient after it, so a
 * pull page is a range scan of this index from the cursor that decides each
 * row's readability from the index entry (the access policy's filter reads
 * r.patient_id) and fetches only the rows it serves, and the count of what
 * remains reads the index alone. Replaces resources_by_change (the same
 * order without the patient). Portable Kysely schema builder only, so SQLite
 * and PostgreSQL get the same index. Holds no rule about who reads what.
 */
import type { Db } from '../database';

export async function migrateChangeFeedIndex(db: Db): Promise<void> {
  await db.schema.createIndex('resources_by_change_patient').on('resources').columns(['change_seq', 'resource_type', 'id', 'patient_id']).execute();
  await db.schema.dropIndex('resources_by_change').execute();
}
