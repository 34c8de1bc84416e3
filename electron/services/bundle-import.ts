/**
 * Imports one FHIR Bundle into the cache atomically: every resource, the
 * patient search index and one audit entry per patient touched commit in one
 * transaction, or nothing does. Resources are stored as they came (an id
 * taken from a urn:uuid fullUrl is filled in). Never log or echo a value from
 * the bundle.
 */
import { parseBundle } from '../../shared/fhir-bundle';
import type { FhirResource } from '../../shared/contract';
import type { CacheSession } from './cache-session';
import { createResourceWriter } from './resource-writer';

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
  const writer = createResourceWriter(session.db);
  return session.audited(() => {
    const touched = new Map<string, string[]>();
    const newPatients = new Set<string>();
    const byType: Record<string, number> = {};
    for (const r of resources) {
      if (r.resource.id === undefined) r.resource.id = r.id;
      const { patientId, newPatient } = writer.write(r.resource as FhirResource, { localPatients });
      byType[r.resourceType] = (byType[r.resourceType] ?? 0) + 1;
      if (newPatient) newPatients.add(r.id);
      if (patientId) {
        const refs = touched.get(patientId) ?? [];
        refs.push(`${r.resourceType}/${r.id}`);
        touched.set(patientId, refs);
      }
    }
    for (const [patientId, entities] of touched) {
      const created = newPatients.has(patientId);
      session.audit.append({
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
