/**
 * Writes resources into the cache with their derived columns (patient link,
 * sort date, backend version) and keeps the patient search index in step
 * for Patient resources. Used by bundle import and by the pull; the caller
 * owns the transaction and the audit entries. It also answers whom the cache
 * holds a resource for, so an import can refuse an id held for another
 * patient before it writes anything. A connection has one writer, its
 * statements prepared once (a first sync of a full panel writes ten thousand
 * slices of a hundred resources).
 * Never log a value it writes.
 */
import { patientIdOf, patientIndexFields, sortDateOf } from '../../../shared/fhir-fields';
import type { FhirResource } from '../../../shared/contract';
import type { CacheDatabase } from '../cache-database';
import { perConnection } from './per-connection';

/** The fields that tell one person from another: PHI, compared in memory only, never logged or put in a message. */
export interface PatientIdentity {
  displayName: string;
  birthDate: string | null;
  mrn: string | null;
}

export interface ResourceWriter {
  /**
   * Stores `resource`; returns the patient it belongs to, whether it is a
   * Patient the cache did not hold before, and whether the cache held this
   * Type/id at all before. `patientId`, when given, is the link already
   * worked out by the caller (an import resolves it once for the bundle).
   */
  write(
    resource: FhirResource,
    options: { localPatients?: ReadonlyMap<string, string>; versionId?: string | null; patientId?: string | null; held?: HeldResource | undefined },
  ): { patientId: string | null; newPatient: boolean; created: boolean };
  /** What the cache holds for `Type/id` (pass it to write as `held`, read in the same transaction); undefined when it does not hold it. */
  held(resourceType: string, id: string): HeldResource | undefined;
  /** The patient the cache holds `Type/id` for (null: held without a patient); undefined when it does not hold it. */
  heldFor(resourceType: string, id: string): string | null | undefined;
  /** What the cache holds to tell who a patient is (index fields only); null when it does not hold the patient. */
  heldIdentity(patientId: string): PatientIdentity | null;
}

/** A stored resource's patient link and backend version (null: none). */
export interface HeldResource {
  patientId: string | null;
  versionId: string | null;
}

/** The connection's writer (made at its first use, gone with the connection). */
export const resourceWriter: (db: CacheDatabase) => ResourceWriter = perConnection((db) => createResourceWriter(db));

function createResourceWriter(db: CacheDatabase): ResourceWriter {
  const upsert = db.prepare(
    `INSERT INTO resources (resource_type, id, patient_id, sort_date, json, version_id) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (resource_type, id) DO UPDATE SET patient_id = excluded.patient_id, sort_date = excluded.sort_date, json = excluded.json,
       version_id = coalesce(excluded.version_id, version_id)`,
  );
  const patientExists = db.prepare('SELECT 1 FROM patients WHERE id = ?').pluck();
  const heldRow = db.prepare('SELECT patient_id, version_id FROM resources WHERE resource_type = ? AND id = ?');
  const held = (resourceType: string, id: string): HeldResource | undefined => {
    const row = heldRow.get(resourceType, id) as { patient_id: string | null; version_id: string | null } | undefined;
    return row === undefined ? undefined : { patientId: row.patient_id, versionId: row.version_id };
  };
  const identity = db.prepare('SELECT display_name, birth_date, mrn FROM patients WHERE id = ?');
  const upsertPatient = db.prepare(
    `INSERT INTO patients (id, display_name, birth_date, gender, mrn) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, birth_date = excluded.birth_date, gender = excluded.gender, mrn = excluded.mrn`,
  );
  const clearTerms = db.prepare('DELETE FROM patient_search_terms WHERE patient_id = ?');
  const addTerm = db.prepare('INSERT OR IGNORE INTO patient_search_terms (term, patient_id) VALUES (?, ?)');

  return {
    write(resource, options) {
      const patientId =
        options.patientId !== undefined ? options.patientId : patientIdOf(resource.resourceType, resource.id, resource, options.localPatients ?? new Map());
      const created = ('held' in options ? options.held : held(resource.resourceType, resource.id)) === undefined;
      upsert.run(resource.resourceType, resource.id, patientId, sortDateOf(resource.resourceType, resource), JSON.stringify(resource), options.versionId ?? null);
      let newPatient = false;
      if (resource.resourceType === 'Patient') {
        newPatient = !patientExists.get(resource.id);
        const fields = patientIndexFields(resource);
        upsertPatient.run(resource.id, fields.displayName, fields.birthDate, fields.gender, fields.mrn);
        clearTerms.run(resource.id);
        for (const term of fields.terms) addTerm.run(term, resource.id);
      }
      return { patientId, newPatient, created };
    },
    held,
    heldFor(resourceType, id) {
      return held(resourceType, id)?.patientId;
    },
    heldIdentity(patientId) {
      const row = identity.get(patientId) as { display_name: string; birth_date: string | null; mrn: string | null } | undefined;
      return row === undefined ? null : { displayName: row.display_name, birthDate: row.birth_date, mrn: row.mrn };
    },
  };
}
