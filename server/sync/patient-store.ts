/**
 * The backend's patients: FHIR bundles loaded at start (the Synthea fixtures
 * or any given), stored per resource with their patient link and a change
 * number, so devices pull them (see change-feed).
 * Loading only adds resources the server does not hold: it never overwrites
 * what clinicians have since changed.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseBundle } from '../../shared/fhir-bundle';
import { patientIdOf } from '../../shared/fhir-fields';
import type { Db } from '../database';
import { nextChangeSeq } from './change-feed';

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
      // Inserted unnumbered, numbered last: the change counter's row lock is taken after the writes, as a push
      // takes it (one order for every writer, so a load beside running pushes cannot deadlock with them).
      const unnumbered = -1;
      for (const r of resources) {
        const resource = resolveLocalReferences({ ...r.resource, id: r.id }, local) as Record<string, unknown>;
        const patientId = patientIdOf(r.resourceType, r.id, resource, new Map());
        if (r.resourceType === 'Patient') patients.push(r.id);
        const json = JSON.stringify(resource);
        await trx
          .insertInto('resources')
          .values({ resource_type: r.resourceType, id: r.id, patient_id: patientId, json, change_seq: unnumbered })
          .onConflict((oc) => oc.columns(['resource_type', 'id']).doNothing())
          .execute();
      }
      // Only this transaction's rows are unnumbered (every writer numbers its rows before it commits).
      const changeSeq = await nextChangeSeq(trx);
      await trx.updateTable('resources').set({ change_seq: changeSeq }).where('change_seq', '=', unnumbered).execute();
    });
  }
  return patients;
}
