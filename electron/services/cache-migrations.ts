/**
 * Versioned schema of the encrypted cache, tracked in PRAGMA user_version.
 * Each migration runs in its own transaction, in order, exactly once. Never
 * edit a migration that has shipped: add the next one.
 */
import type Database from 'better-sqlite3-multiple-ciphers';
import { AppError } from '../../shared/app-error';

const MIGRATIONS: readonly string[] = [
  // 1: resources, the patient search index, the audit chain.
  `
  CREATE TABLE resources (
    rowid INTEGER PRIMARY KEY,
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    patient_id TEXT,
    sort_date TEXT,
    json TEXT NOT NULL,
    UNIQUE (resource_type, id)
  );
  CREATE INDEX resources_by_patient ON resources (patient_id, resource_type, sort_date DESC);

  CREATE TABLE patients (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    birth_date TEXT,
    gender TEXT,
    mrn TEXT
  ) WITHOUT ROWID;

  CREATE TABLE patient_search_terms (
    term TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    PRIMARY KEY (term, patient_id)
  ) WITHOUT ROWID;
  CREATE INDEX patient_search_terms_by_patient ON patient_search_terms (patient_id);

  -- entry is the canonical form (shared/audit-entry.ts), the exact text that
  -- is hashed; the other columns are derived from it, so they cannot be
  -- edited apart from what the chain protects.
  CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    entry TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    recorded_at TEXT GENERATED ALWAYS AS (json_extract(entry, '$[2]')) VIRTUAL,
    actor TEXT GENERATED ALWAYS AS (json_extract(entry, '$[3]')) VIRTUAL,
    action TEXT GENERATED ALWAYS AS (json_extract(entry, '$[4]')) VIRTUAL,
    subtype TEXT GENERATED ALWAYS AS (json_extract(entry, '$[5]')) VIRTUAL,
    patient_id TEXT GENERATED ALWAYS AS (json_extract(entry, '$[6]')) VIRTUAL,
    query TEXT GENERATED ALWAYS AS (json_extract(entry, '$[8]')) VIRTUAL,
    outcome TEXT GENERATED ALWAYS AS (json_extract(entry, '$[9]')) VIRTUAL,
    device_id TEXT GENERATED ALWAYS AS (json_extract(entry, '$[10]')) VIRTUAL,
    purpose TEXT GENERATED ALWAYS AS (json_extract(entry, '$[11]')) VIRTUAL
  );
  CREATE INDEX audit_log_by_patient ON audit_log (patient_id, seq);

  CREATE TABLE audit_heads (
    seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    signature TEXT NOT NULL,
    signed_at TEXT NOT NULL
  );
  `,
  // 2: local changes waiting for the backend, changes the backend refused as
  // conflicts (both versions kept), and sync bookkeeping.
  `
  ALTER TABLE resources ADD COLUMN version_id TEXT;
  CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    base_version TEXT,
    resource TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
  );
  CREATE TABLE conflicts (
    idempotency_key TEXT PRIMARY KEY,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    mine TEXT NOT NULL,
    theirs TEXT NOT NULL,
    their_version TEXT NOT NULL,
    detected_at TEXT NOT NULL
  );
  CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  `,
  // 3: the outbox and conflicts looked up by resource (re-basing, folding,
  // the pull's "work still waiting" check) without scanning them.
  `
  CREATE INDEX outbox_by_resource ON outbox (resource_type, resource_id, seq);
  CREATE INDEX conflicts_by_resource ON conflicts (resource_type, resource_id);
  `,
  // 4: an outbox entry the backend answered "conflict" without the current
  // version (the session could not read it) is held: kept, not re-sent,
  // until a passkey session can get the answer with content.
  `
  ALTER TABLE outbox ADD COLUMN held_at TEXT;
  `,
  // 5: unfinished work saved as it is typed (never sent), the workspace the
  // clinician returns to (open chart, tab, theme, density; and display names
  // of clinicians this computer has seen), and what an outbox entry replaced
  // (the resource before the change, and whether there was one) so an unsent
  // change can be undone. And a patient's resources by their first code, so
  // the worklist finds each latest vital sign with one index seek.
  `
  CREATE INDEX resources_by_code ON resources (patient_id, resource_type, json_extract(json, '$.code.coding[0].code'), sort_date);
  CREATE TABLE drafts (
    patient_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    body_json TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, kind, target)
  ) WITHOUT ROWID;
  CREATE TABLE workspace_state (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
  ALTER TABLE outbox ADD COLUMN prior TEXT;
  ALTER TABLE outbox ADD COLUMN prior_existed INTEGER;
  `,
  // 6: changes made together (the readings of one vitals entry) are one unit
  // for undo: the group's id and how many changes it had (so an undo can
  // tell when part of it already left the outbox). NULL: a change alone.
  `
  ALTER TABLE outbox ADD COLUMN change_group TEXT;
  ALTER TABLE outbox ADD COLUMN group_size INTEGER;
  CREATE INDEX outbox_by_group ON outbox (change_group) WHERE change_group IS NOT NULL;
  `,
  // 7: every code of every Observation (not only the first coding), kept by
  // triggers in step with resources, so the worklist finds a patient's
  // readings of a vital sign newest first with one index seek whichever
  // coding carries the LOINC code. Replaces migration 5's first-code index.
  `
  DROP INDEX resources_by_code;
  CREATE TABLE observation_codes (
    resource_rowid INTEGER NOT NULL,
    patient_id TEXT NOT NULL,
    code TEXT NOT NULL,
    sort_date TEXT
  );
  CREATE INDEX observation_codes_by_code ON observation_codes (patient_id, code, sort_date DESC);
  CREATE INDEX observation_codes_by_resource ON observation_codes (resource_rowid);
  CREATE TRIGGER observation_codes_insert AFTER INSERT ON resources
    WHEN new.resource_type = 'Observation' AND new.patient_id IS NOT NULL
  BEGIN
    INSERT INTO observation_codes (resource_rowid, patient_id, code, sort_date)
      SELECT DISTINCT new.rowid, new.patient_id, json_extract(c.value, '$.code'), new.sort_date
        FROM json_each(new.json, '$.code.coding') c WHERE c.type = 'object' AND json_extract(c.value, '$.code') IS NOT NULL;
  END;
  CREATE TRIGGER observation_codes_update AFTER UPDATE OF resource_type, patient_id, sort_date, json ON resources
  BEGIN
    DELETE FROM observation_codes WHERE resource_rowid = old.rowid;
    INSERT INTO observation_codes (resource_rowid, patient_id, code, sort_date)
      SELECT DISTINCT new.rowid, new.patient_id, json_extract(c.value, '$.code'), new.sort_date
        FROM json_each(new.json, '$.code.coding') c
       WHERE new.resource_type = 'Observation' AND new.patient_id IS NOT NULL AND c.type = 'object' AND json_extract(c.value, '$.code') IS NOT NULL;
  END;
  CREATE TRIGGER observation_codes_delete AFTER DELETE ON resources
  BEGIN
    DELETE FROM observation_codes WHERE resource_rowid = old.rowid;
  END;
  INSERT INTO observation_codes (resource_rowid, patient_id, code, sort_date)
    SELECT DISTINCT r.rowid, r.patient_id, json_extract(c.value, '$.code'), r.sort_date
      FROM resources r, json_each(r.json, '$.code.coding') c
     WHERE r.resource_type = 'Observation' AND r.patient_id IS NOT NULL AND c.type = 'object' AND json_extract(c.value, '$.code') IS NOT NULL;
  `,
  // 8: break-the-glass grants (issue 13): one row per patient reached in an
  // emergency, with when it ends and the reason's code. ended_at is set when
  // the grant expired or the backend ended it; the row (and the patient's
  // records) leave once no work on that patient waits (./glass/).
  // records_cursor: where the next fetch of the patient's records resumes.
  `
  CREATE TABLE glass_grants (
    patient_id TEXT PRIMARY KEY,
    granted_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    reason_code TEXT NOT NULL,
    ended_at TEXT,
    records_cursor TEXT
  ) WITHOUT ROWID;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function applyMigrations(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new AppError('CACHE_NOT_OPEN', 'The patient cache was written by a newer version of the app. Update the app to open it.');
  }
  for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
    const sql = MIGRATIONS[version - 1]!;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version}`);
    })();
  }
}
