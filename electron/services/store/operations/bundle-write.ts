/**
 * The store's write of one parsed FHIR bundle (moved from
 * ../../bundle-import.ts, which parses and refuses bad files first): every
 * resource, the patient search index and the audit entries in the call's one
 * transaction, or nothing. Refuses, whole, a resource id the cache holds for
 * another patient, or a Patient id it holds for another person
 * (IMPORT_ID_COLLISION: the cache keys resources by Type/id, so storing it
 * would move another patient's record or merge two people's charts). Every
 * import is audited: per patient, and for resources without a patient
 * (Organization, Practitioner, Medication…) in entries of their own. Never
 * log or echo a value from the bundle.
 */
import { AppError } from '../../../../shared/app-error';
import type { BundleResource } from '../../../../shared/fhir-bundle';
import { patientIndexFields } from '../../../../shared/fhir-fields';
import type { FhirResource } from '../../../../shared/contract';
import { MAX_AUDIT_ENTITIES } from '../../audit-chain';
import { resourceWriter, type PatientIdentity, type ResourceWriter } from '../resource-writer';
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';

function collision(r: BundleResource, why: string): AppError {
  return new AppError(
    'IMPORT_ID_COLLISION',
    `The bundle was not imported: entry ${r.index} (${r.resourceType}/${r.id}) ${why}. Nothing from it was stored.`,
  );
}

/** A name as people compare it: Unicode-normalized, case and spacing aside. */
function comparableName(name: string): string {
  return name.normalize('NFKC').toLocaleLowerCase('en').replace(/\s+/g, ' ').trim();
}

/**
 * Whether an incoming Patient is the person the cache holds under its id.
 * Both with a medical record number: the same number (a renamed patient is
 * still the same person; two numbers are two people, whatever the names).
 * Either without one: the same name and the same birth date (a missing birth
 * date agrees only with a missing one). Compared in memory; never logged.
 */
function samePerson(held: PatientIdentity, incoming: PatientIdentity): boolean {
  if (held.mrn !== null && incoming.mrn !== null) return held.mrn === incoming.mrn;
  return comparableName(held.displayName) === comparableName(incoming.displayName) && held.birthDate === incoming.birthDate;
}

/**
 * Refuses the bundle when one of its resources is held for another patient:
 * a different patient, or none where the cache links it to one (the chart it
 * is in would lose it). A Patient id the cache holds for a different person
 * (see samePerson) is refused too: storing it would put one person's
 * record in another's chart. A resource held without a patient may gain one.
 */
function refuseCollisions(writer: ResourceWriter, resources: BundleResource[]): void {
  for (const r of resources) {
    if (r.resourceType === 'Patient') {
      const held = writer.heldIdentity(r.id);
      if (held !== null && !samePerson(held, patientIndexFields(r.resource))) {
        throw collision(r, 'has the id of a patient this cache holds, and is not the same person');
      }
      continue;
    }
    const heldFor = writer.heldFor(r.resourceType, r.id);
    if (heldFor === undefined || heldFor === null || heldFor === r.patientId) continue;
    throw collision(
      r,
      r.patientId === null
        ? 'is held in this cache for a patient, and this bundle links it to none'
        : 'has the id of a resource this cache holds for another patient',
    );
  }
}

/** Entries for resources that belong to no patient: created and updated ones apart, at most MAX_AUDIT_ENTITIES each. */
function auditWithoutPatient(tx: StoreTx, refs: { created: string[]; updated: string[] }): void {
  for (const [action, subtype, entities] of [['C', 'create', refs.created], ['U', 'update', refs.updated]] as const) {
    for (let i = 0; i < entities.length; i += MAX_AUDIT_ENTITIES) {
      tx.audit.append({ action, subtype, patientId: null, entities: entities.slice(i, i + MAX_AUDIT_ENTITIES), query: null, outcome: '0' });
    }
  }
}

export function importResources(tx: StoreTx, { resources }: StoreArgs<'importResources'>): StoreResults['importResources'] {
  const writer = resourceWriter(tx.db);
  refuseCollisions(writer, resources);
  const writes: Array<{ patientId: string | null; ref: string; newPatient: boolean }> = [];
  const withoutPatient = { created: [] as string[], updated: [] as string[] };
  const byType: Record<string, number> = {};
  for (const r of resources) {
    if (r.resource.id === undefined) r.resource.id = r.id;
    const ref = `${r.resourceType}/${r.id}`;
    const { patientId, newPatient, created } = writer.write(r.resource as FhirResource, { patientId: r.patientId });
    byType[r.resourceType] = (byType[r.resourceType] ?? 0) + 1;
    if (patientId) writes.push({ patientId, ref, newPatient });
    else (created ? withoutPatient.created : withoutPatient.updated).push(ref);
  }
  tx.audit.appendWrites(writes);
  auditWithoutPatient(tx, withoutPatient);
  // An import that wrote nothing (an empty bundle) is still an import the log should show.
  if (resources.length === 0) tx.audit.append({ action: 'C', subtype: 'create', patientId: null, entities: [], query: null, outcome: '0' });
  return { resources: resources.length, patients: new Set(writes.map((w) => w.patientId)).size, byType };
}
