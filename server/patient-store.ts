/**
 * The backend's patients: FHIR bundles loaded at start (the Synthea fixtures
 * or any given), stored per resource with their patient link, and served to
 * a clinician as one collection Bundle of their assigned patients only.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseBundle } from '../shared/fhir-bundle';
import { patientIdOf } from '../shared/fhir-fields';
import type { Db } from './database';

export function bundleFiles(paths: string[]): string[] {
  return paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => f.endsWith('.json'))
          .sort()
          .map((f) => join(p, f))
      : [p],
  );
}

/**
 * Rewrites bundle-local references ("urn:uuid:…", resolved through the
 * entries' fullUrl) to server references ("Type/id"), as a FHIR server does
 * for a transaction, so resources stay linked once served outside their bundle.
 */
function resolveLocalReferences(value: unknown, local: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveLocalReferences(v, local));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === 'reference' && typeof v === 'string' && local.has(v) ? local.get(v) : resolveLocalReferences(v, local);
  }
  return out;
}

/** Loads bundles; returns the ids of the patients they hold. */
export async function loadBundles(db: Db, files: string[]): Promise<string[]> {
  const patients: string[] = [];
  for (const file of files) {
    const resources = parseBundle(readFileSync(file));
    const local = new Map(resources.filter((r) => r.fullUrl).map((r) => [r.fullUrl!, `${r.resourceType}/${r.id}`]));
    await db.transaction().execute(async (trx) => {
      for (const r of resources) {
        const resource = resolveLocalReferences({ ...r.resource, id: r.id }, local) as Record<string, unknown>;
        const patientId = patientIdOf(r.resourceType, r.id, resource, new Map());
        if (r.resourceType === 'Patient') patients.push(r.id);
        const json = JSON.stringify(resource);
        await trx
          .insertInto('resources')
          .values({ resource_type: r.resourceType, id: r.id, patient_id: patientId, json })
          .onConflict((oc) => oc.columns(['resource_type', 'id']).doUpdateSet({ patient_id: patientId, json }))
          .execute();
      }
    });
  }
  return patients;
}

export async function assignedBundle(db: Db, clinicianId: string): Promise<Record<string, unknown>> {
  const rows = await db
    .selectFrom('resources')
    .innerJoin('assignments', 'assignments.patient_id', 'resources.patient_id')
    .select(['resources.json'])
    .where('assignments.clinician_id', '=', clinicianId)
    .execute();
  return { resourceType: 'Bundle', type: 'collection', entry: rows.map((r) => ({ resource: JSON.parse(r.json) as unknown })) };
}
