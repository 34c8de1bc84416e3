/**
 * Imports one FHIR R4 Bundle into the cache atomically: every resource, the
 * patient search index and the audit entries commit in one transaction, or
 * nothing does. Resources are stored as they came (an id taken from the
 * fullUrl is filled in). Refuses, whole, what the cache cannot keep as it
 * came: a bundle that is not R4 (FHIR_VERSION_UNSUPPORTED), or a resource id
 * the cache holds for another patient, or a Patient id it holds for another
 * person (IMPORT_ID_COLLISION: the cache keys resources by Type/id, so storing
 * it would move another patient's record or merge two people's charts).
 * Every import is audited: per patient, and for resources without a patient
 * (Organization, Practitioner, Medication…) in entries of their own; a
 * refused import leaves one failed-import entry that names nothing from the
 * file. This module parses and refuses the file; the write is one call of
 * the cache store (./store/operations/bundle-write.ts). Holds no SQL. Never
 * log or echo a value from the bundle.
 */
import { parseBundle } from '../../shared/fhir-bundle';
import type { CacheSession } from './cache-session';
import type { ImportSummary } from './store/store-api';

export type { ImportSummary } from './store/store-api';

/**
 * Records an import that was refused or failed, in its own transaction:
 * a create that did not happen (outcome 4), naming no patient and nothing
 * from the file. Best effort: when the cache itself cannot write (locked,
 * disk full), the caller's error is what the clinician needs to see.
 */
export async function auditFailedImport(session: CacheSession): Promise<void> {
  try {
    await session.store.call('appendAudit', { records: [{ action: 'C', subtype: 'create', patientId: null, entities: [], query: null, outcome: '4' }] });
  } catch {
    // The original error is rethrown by the caller; a second one would hide it.
  }
}

export async function importBundle(session: CacheSession, input: string | Buffer): Promise<ImportSummary> {
  try {
    // Parsed and refused here (no cache needed); written, collision-checked and audited in the store.
    return await session.store.call('importResources', { resources: parseBundle(input) });
  } catch (err) {
    await auditFailedImport(session);
    throw err;
  }
}
