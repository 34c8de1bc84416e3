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

/** Loads bundles; returns the ids of the patients they hold. */
export async function loadBundles(db: Db, files: string[]): Promise<string[]> {
  const patients: string[] = [];
  for (const file of files) {
    const resources = parseBundle(readFileSync(file));
    const local = new Map(resources.filter((r) => r.resourceType === 'Patient' && r.fullUrl).map((r) => [r.fullUrl!, r.id]));
    await db.transaction().execute(async (trx) => {
      for (const r of resources) {
        const patientId = patientIdOf(r.resourceType, r.id, r.resource, local);
        if (r.resourceType === 'Patient') patients.push(r.id);
        await trx
          .insertInto('resources')
          .values({ resource_type: r.resourceType, id: r.id, patient_id: patientId, json: JSON.stringify({ ...r.resource, id: r.id }) })
          .onConflict((oc) => oc.columns(['resource_type', 'id']).doUpdateSet({ patient_id: patientId, json: JSON.stringify({ ...r.resource, id: r.id }) }))
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
