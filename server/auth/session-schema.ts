/**
 * Migration (schema) for session binding, idle expiry and purging: each
 * session names the passkey that made it (null for the device key's
 * sync-only session, which is bound to its device), when it was last used,
 * and whether and why it was ended (only revocations keep an ended row,
 * so its token still answers DEVICE_REVOKED / CLINICIAN_REVOKED until it
 * would have expired). Also the server's own secrets (the key that derives
 * decoy sign-in options). Portable Kysely schema builder only, so SQLite
 * and PostgreSQL get the same tables. Never store a token, only its hash.
 * Used decoy sign-in challenges are remembered here too (until they
 * expire), so every backend instance on one database refuses a replay.
 */
import type { Generated } from 'kysely';
import type { Db } from '../database';

/** Why a session ended; 'device' and 'clinician' rows are kept (the desktop wipes on their answer). */
export type SessionEndReason = 'device' | 'clinician';

export interface SessionTables {
  /** scope: 'full' after a passkey sign-in; 'sync' (push and audit upload only) from the device key alone. */
  sessions: {
    token_hash: string;
    clinician_id: string;
    device_id: string;
    created_at: string;
    expires_at: string;
    scope: Generated<string>;
    /** The passkey that made the session; null for the device key's sync-only session. */
    credential_id: string | null;
    last_used_at: string | null;
    ended_at: string | null;
    end_reason: string | null;
  };
  server_secrets: { name: string; value: string };
  /** Decoy challenges (unknown clinicians' sign-ins) already answered, until they expire; purged like challenges. */
  used_decoy_challenges: { challenge: string; expires_at: string };
}

export async function migrateSessions(db: Db): Promise<void> {
  // One column per statement: SQLite adds one column per ALTER TABLE.
  for (const column of ['credential_id', 'last_used_at', 'ended_at', 'end_reason']) {
    await db.schema.alterTable('sessions').addColumn(column, 'text').execute();
  }
  await db.updateTable('sessions').set((eb) => ({ last_used_at: eb.ref('created_at') })).execute();
  await db.schema.createIndex('sessions_by_credential').on('sessions').column('credential_id').execute();
  await db.schema.createIndex('sessions_by_device').on('sessions').column('device_id').execute();
  await db.schema.createIndex('sessions_by_clinician').on('sessions').column('clinician_id').execute();
  await db.schema.createIndex('sessions_by_expiry').on('sessions').column('expires_at').execute();
  await db.schema.createIndex('challenges_by_expiry').on('challenges').column('expires_at').execute();
  await db.schema
    .createTable('server_secrets')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
}

/** The used-decoy-challenge table (a later migration than migrateSessions). */
export async function migrateUsedDecoyChallenges(db: Db): Promise<void> {
  await db.schema
    .createTable('used_decoy_challenges')
    .addColumn('challenge', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('used_decoy_challenges_by_expiry').on('used_decoy_challenges').column('expires_at').execute();
}
