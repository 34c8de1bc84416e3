/**
 * Migration (schema) of the consultation signaling tables: calls bound to an
 * Encounter of a patient, invitations (a link guest's one-time token is
 * stored only as its SHA-256), participants with their public call keys, and
 * the per-call ordered event log every backend instance relays from. Merged
 * into the backend's Tables type in ../database.ts. Portable Kysely schema
 * builder only (SQLite and PostgreSQL get the same tables). Never store a
 * token, a media key or a private key here: only public keys and ciphertext.
 */
import type { Generated } from 'kysely';
import type { Db } from '../database';

export interface SignalingTables {
  /** One consultation; room_seq is the last event seq (the serialization point of the call's events). */
  consult_calls: {
    id: string;
    patient_id: string;
    encounter_id: string;
    started_by: string;
    started_at: string;
    ended_at: string | null;
    room_seq: Generated<number>;
  };
  /** kind 'clinician' names a clinician; the link kinds hold the token's SHA-256 (hex) and are used once. */
  consult_invitations: {
    id: string;
    call_id: string;
    kind: string;
    clinician_id: string | null;
    token_hash: string | null;
    created_by: string;
    created_at: string;
    expires_at: string;
    used_at: string | null;
  };
  /** Everyone who joined a call; left_at null while connected; sender_index unique within the call. */
  consult_participants: {
    participant_id: string;
    call_id: string;
    role: string;
    display_name: string;
    clinician_id: string | null;
    device_id: string | null;
    public_key: string;
    signature: string | null;
    device_public_key: string | null;
    sender_index: number;
    joined_at: string;
    left_at: string | null;
    published_at: string | null;
  };
  /** The call's relayed events in seq order; recipient null = everyone. payload is the server message as sent. */
  consult_events: { call_id: string; seq: number; recipient: string | null; payload: string; created_at: string };
}

export async function migrateSignaling(db: Db): Promise<void> {
  await db.schema
    .createTable('consult_calls')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('patient_id', 'text', (c) => c.notNull())
    .addColumn('encounter_id', 'text', (c) => c.notNull())
    .addColumn('started_by', 'text', (c) => c.notNull().references('clinicians.id'))
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('ended_at', 'text')
    .addColumn('room_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable('consult_invitations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('call_id', 'text', (c) => c.notNull().references('consult_calls.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('clinician_id', 'text')
    .addColumn('token_hash', 'text', (c) => c.unique())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();
  await db.schema.createIndex('consult_invitations_by_clinician').on('consult_invitations').columns(['clinician_id', 'call_id']).execute();
  await db.schema
    .createTable('consult_participants')
    .addColumn('participant_id', 'text', (c) => c.primaryKey())
    .addColumn('call_id', 'text', (c) => c.notNull().references('consult_calls.id'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('clinician_id', 'text')
    .addColumn('device_id', 'text')
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('signature', 'text')
    .addColumn('device_public_key', 'text')
    .addColumn('sender_index', 'integer', (c) => c.notNull())
    .addColumn('joined_at', 'text', (c) => c.notNull())
    .addColumn('left_at', 'text')
    .addColumn('published_at', 'text')
    .addUniqueConstraint('consult_participants_sender', ['call_id', 'sender_index'])
    .execute();
  await db.schema
    .createTable('consult_events')
    .addColumn('call_id', 'text', (c) => c.notNull().references('consult_calls.id'))
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('recipient', 'text')
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('consult_events_pk', ['call_id', 'seq'])
    .execute();
}
