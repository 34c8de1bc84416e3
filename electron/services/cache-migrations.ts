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

  CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subtype TEXT NOT NULL,
    patient_id TEXT,
    entities TEXT NOT NULL,
    query TEXT,
    outcome TEXT NOT NULL,
    device_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX audit_log_by_patient ON audit_log (patient_id, seq);

  CREATE TABLE audit_heads (
    seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    signature TEXT NOT NULL,
    signed_at TEXT NOT NULL
  );
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
