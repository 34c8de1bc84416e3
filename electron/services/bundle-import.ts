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
    const writes: Array<{ patientId: string | null; ref: string; newPatient: boolean }> = [];
    const byType: Record<string, number> = {};
    for (const r of resources) {
      if (r.resource.id === undefined) r.resource.id = r.id;
      const { patientId, newPatient } = writer.write(r.resource as FhirResource, { localPatients });
      byType[r.resourceType] = (byType[r.resourceType] ?? 0) + 1;
      writes.push({ patientId, ref: `${r.resourceType}/${r.id}`, newPatient });
    }
    session.audit.appendWrites(writes);
    return { resources: resources.length, patients: new Set(writes.map((w) => w.patientId).filter(Boolean)).size, byType };
  });
}
