/**
 * The store's write of one slice of a pulled page (moved from
 * ../../sync-pull.ts, which fetches pages and cuts them into slices): the
 * slice's resources and their audit entries (per patient touched) in the
 * call's one transaction; the page's last slice also moves the cursor and
 * removes patients no longer assigned. A slice cut off by a lock leaves the
 * cursor where it was, so the page is pulled again, and what committed
 * before it is skipped then (same version). A resource with local work
 * still waiting (in the outbox or a conflict) is left as the clinician made
 * it (the newer version is kept beside it: ./pulled-versions.ts). A version
 * the cache already holds, or an older one, is not written; the cursor
 * never moves back, and a page whose cursor is behind the one held removes
 * no patient. Never overwrite unsent local work.
 */
import type { DraftKind, FhirResource } from '../../../../shared/contract';
import { draftTargetRef, isBlankDraftJson } from '../../drafts';
import { resourceWriter } from '../resource-writer';
import { perConnection } from '../per-connection';
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';
import { keepPulledWhileQueued } from './pulled-versions';

/** sync_state key of the pull's cursor. */
export const CURSOR_KEY = 'pull_cursor';

/** Whether pulled version `a` is later than the held `b` (backend versions are whole numbers as text; any other held value only differs). */
function isNewer(a: string, b: string): boolean {
  return /^\d{1,30}$/.test(b) ? BigInt(a) > BigInt(b) : a !== b;
}

/**
 * Whether `cursor` lies before `than` in the backend's change order. Only the
 * change number is compared: the backend orders type and id within one
 * change number by its database's collation, which the device cannot know.
 */
export function cursorBehind(cursor: string, than: string | null): boolean {
  if (than === null) return false;
  return BigInt(cursor.split('/')[0]!) < BigInt(than.split('/')[0]!);
}

export function pullCursor(tx: StoreTx): string | null {
  return (tx.db.prepare('SELECT value FROM sync_state WHERE key = ?').pluck().get(CURSOR_KEY) as string | undefined) ?? null;
}

/** The per-resource statements of a slice, prepared once per connection. */
const pullStatements = perConnection((db) => ({
  // Any local work at all: with none (a first sync), no resource needs the check below.
  waiting: db.prepare('SELECT EXISTS (SELECT 1 FROM outbox) OR EXISTS (SELECT 1 FROM conflicts)').pluck(),
  pendingOf: db
    .prepare(
      'SELECT EXISTS (SELECT 1 FROM outbox WHERE resource_type = @type AND resource_id = @id) OR EXISTS (SELECT 1 FROM conflicts WHERE resource_type = @type AND resource_id = @id)',
    )
    .pluck(),
}));

export function applyPullPage(tx: StoreTx, { resources, cursor, assignedPatients, last }: StoreArgs<'applyPullPage'>): StoreResults['applyPullPage'] {
  const { db } = tx;
  const writer = resourceWriter(db);
  const { waiting, pendingOf } = pullStatements(db);
  const anyWaiting = waiting.get() === 1;
  const writes: Array<{ patientId: string | null; ref: string; newPatient: boolean }> = [];
  let written = 0;
  for (const resource of resources) {
    const held = writer.held(resource.resourceType, resource.id);
    if (held?.versionId != null && !isNewer(resource.meta.versionId, held.versionId)) continue;
    if (anyWaiting && pendingOf.get({ type: resource.resourceType, id: resource.id })) {
      // Kept beside the queue: an undo of the queued work puts it in place (the cursor moves past it).
      keepPulledWhileQueued(tx, resource as FhirResource, resource.meta.versionId);
      continue;
    }
    const { patientId, newPatient } = writer.write(resource as FhirResource, { versionId: resource.meta.versionId, held });
    written++;
    writes.push({ patientId, ref: `${resource.resourceType}/${resource.id}`, newPatient });
  }
  tx.audit.appendWrites(writes);
  if (last) {
    const held = pullCursor(tx);
    // A page behind the cursor (replayed, from a lagging instance) may predate an assignment: its list removes nobody.
    const behind = cursor === null ? held !== null : cursorBehind(cursor, held);
    if (assignedPatients && !behind) dropUnassigned(tx, assignedPatients);
    if (cursor && !behind) db.prepare('INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(CURSOR_KEY, cursor);
  }
  // The distinct patients this slice wrote to (the first sync's progress counts them); ids only, never content.
  const patients = [...new Set(writes.map((w) => w.patientId).filter((id): id is string => id !== null))];
  return { written, patients };
}

/**
 * Removes from the cache every patient no longer assigned to the clinician,
 * with all their resources, auditing each removal, unless the clinician has
 * work on them still waiting to be sent or resolved, or a draft with
 * something typed in it (typed work kept on this computer): that is never
 * dropped. A patient kept only for drafts keeps only what the drafts need
 * (the patient and the note or problem each draft edits); the rest of the
 * record goes, audited. Blank drafts keep nothing and go with the patient.
 * A patient reached by breaking the glass is never in the assigned list:
 * ./glass/ owns when it leaves (at the grant's end, unless work waits).
 */
function dropUnassigned(tx: StoreTx, assigned: string[]): void {
  const { db } = tx;
  const unassigned = db
    .prepare(
      `SELECT p.id FROM patients p WHERE p.id NOT IN (SELECT value FROM json_each(?))
         AND NOT EXISTS (SELECT 1 FROM outbox o JOIN resources r ON r.resource_type = o.resource_type AND r.id = o.resource_id WHERE r.patient_id = p.id)
         AND NOT EXISTS (SELECT 1 FROM conflicts c JOIN resources r ON r.resource_type = c.resource_type AND r.id = c.resource_id WHERE r.patient_id = p.id)
         AND NOT EXISTS (SELECT 1 FROM glass_grants g WHERE g.patient_id = p.id)`,
    )
    .pluck()
    .all(JSON.stringify(assigned)) as string[];
  if (unassigned.length === 0) return;
  const draftsOf = db.prepare('SELECT kind, target, body_json FROM drafts WHERE patient_id = ?');
  const dropResources = db.prepare('DELETE FROM resources WHERE patient_id = ?');
  const keepOnly = db.prepare(
    "DELETE FROM resources WHERE patient_id = ? AND resource_type != 'Patient' AND resource_type || '/' || id NOT IN (SELECT value FROM json_each(?))",
  );
  const dropDrafts = db.prepare('DELETE FROM drafts WHERE patient_id = ?');
  const dropTerms = db.prepare('DELETE FROM patient_search_terms WHERE patient_id = ?');
  const dropPatient = db.prepare('DELETE FROM patients WHERE id = ?');
  const audit = (patientId: string) =>
    tx.audit.append({ action: 'D', subtype: 'delete', patientId, entities: [`Patient/${patientId}`], query: null, outcome: '0' });
  for (const patientId of unassigned) {
    const typed = (draftsOf.all(patientId) as Array<{ kind: DraftKind; target: string; body_json: string }>).filter((d) => !isBlankDraftJson(d.body_json));
    if (typed.length > 0) {
      const needed = typed.map((d) => draftTargetRef(d.kind, d.target)).filter((r): r is string => r !== null);
      if (keepOnly.run(patientId, JSON.stringify(needed)).changes > 0) audit(patientId);
      continue;
    }
    dropResources.run(patientId);
    dropDrafts.run(patientId);
    dropTerms.run(patientId);
    dropPatient.run(patientId);
    audit(patientId);
  }
}
