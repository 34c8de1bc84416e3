/**
 * Imports one FHIR Bundle into the cache atomically: every resource, the
 * patient search index and one audit entry per patient touched commit in one
 * transaction, or nothing does. Resources are stored as they came (an id
 * taken from a urn:uuid fullUrl is filled in). Never log or echo a value from
 * the bundle.
 */
import { parseBundle } from '../../shared/fhir-bundle';
import { patientIdOf, patientIndexFields, sortDateOf } from '../../shared/fhir-fields';
import type { CacheSession } from './cache-session';

export interface ImportSummary {
  resources: number;
  patients: number;
  byType: Record<string, number>;
}

export function importBundle(session: CacheSession, input: string | Buffer): ImportSummary {
  const resources = parseBundle(input);
  const localPatients = new Map<string, string>();
  for (const r of resources) {
    if (r.resourceType === 'Patient' && r.fullUrl) localPatients.set(r.fullUrl, r.id);
  }
  const { db, audit } = session;
  const upsert = db.prepare(
    `INSERT INTO resources (resource_type, id, patient_id, sort_date, json) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (resource_type, id) DO UPDATE SET patient_id = excluded.patient_id, sort_date = excluded.sort_date, json = excluded.json`,
  );
  const patientExists = db.prepare('SELECT 1 FROM patients WHERE id = ?').pluck();
  const upsertPatient = db.prepare(
    `INSERT INTO patients (id, display_name, birth_date, gender, mrn) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, birth_date = excluded.birth_date, gender = excluded.gender, mrn = excluded.mrn`,
  );
  const clearTerms = db.prepare('DELETE FROM patient_search_terms WHERE patient_id = ?');
  const addTerm = db.prepare('INSERT OR IGNORE INTO patient_search_terms (term, patient_id) VALUES (?, ?)');

  return session.audited(() => {
    const touched = new Map<string, string[]>();
    const newPatients = new Set<string>();
    const byType: Record<string, number> = {};
    for (const r of resources) {
      if (r.resource.id === undefined) r.resource.id = r.id;
      const patientId = patientIdOf(r.resourceType, r.id, r.resource, localPatients);
      upsert.run(r.resourceType, r.id, patientId, sortDateOf(r.resourceType, r.resource), JSON.stringify(r.resource));
      byType[r.resourceType] = (byType[r.resourceType] ?? 0) + 1;
      if (r.resourceType === 'Patient') {
        if (!patientExists.get(r.id)) newPatients.add(r.id);
        const fields = patientIndexFields(r.resource);
        upsertPatient.run(r.id, fields.displayName, fields.birthDate, fields.gender, fields.mrn);
        clearTerms.run(r.id);
        for (const term of fields.terms) addTerm.run(term, r.id);
      }
      if (patientId) {
        const refs = touched.get(patientId) ?? [];
        refs.push(`${r.resourceType}/${r.id}`);
        touched.set(patientId, refs);
      }
    }
    for (const [patientId, entities] of touched) {
      const created = newPatients.has(patientId);
      audit.append({
        action: created ? 'C' : 'U',
        subtype: created ? 'create' : 'update',
        patientId,
        entities,
        query: null,
        outcome: '0',
      });
    }
    return { resources: resources.length, patients: touched.size, byType };
  });
}
