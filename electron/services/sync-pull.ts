/**
 * Pulls what changed on the backend since the device's cursor into the
 * cache, page by page. Each page, its audit entries (per patient touched)
 * and the new cursor commit in one transaction, so a crash or a cut
 * connection repeats a page rather than skipping one. A resource with local
 * changes still waiting (in the outbox or in a conflict) is left as the
 * clinician made it: the push that follows decides. A version the cache
 * already holds (its own push coming back) is not written again, and a
 * version older than the one it holds (a replayed page, a lagging backend
 * instance, a second process's pull that started earlier) is skipped: the
 * pull never goes backwards, neither a record nor the cursor, and a page
 * whose cursor is behind the one held removes no patient (its assigned list
 * may predate an assignment whose records the device already has). Never
 * overwrite unsent local work.
 */
import { AppError } from '../../shared/app-error';
import type { DraftKind, FhirResource } from '../../shared/contract';
import type { PullReply } from '../../shared/sync-api';
import type { BackendClient } from './backend-client';
import type { CacheSession } from './cache-session';
import { createResourceWriter } from './resource-writer';
import { stateGet, stateSet } from './sync-state';
import { keepPulledWhileQueued } from './outbox';
import { draftTargetRef, isBlankDraftJson } from './drafts';

const CURSOR_KEY = 'pull_cursor';

export function pullCursor(session: CacheSession): string | null {
  return stateGet(session, CURSOR_KEY);
}

/** Stores one pulled page; returns how many resources it wrote. */
export function applyPulledPage(session: CacheSession, page: PullReply): number {
  const { db } = session;
  const writer = createResourceWriter(db);
  const localOf = db.prepare('SELECT version_id FROM resources WHERE resource_type = ? AND id = ?');
  const pendingOf = db.prepare(
    'SELECT EXISTS (SELECT 1 FROM outbox WHERE resource_type = @type AND resource_id = @id) OR EXISTS (SELECT 1 FROM conflicts WHERE resource_type = @type AND resource_id = @id)',
  ).pluck();
  return session.audited(() => {
    const writes: Array<{ patientId: string | null; ref: string; newPatient: boolean }> = [];
    let written = 0;
    for (const resource of page.resources) {
      const local = localOf.get(resource.resourceType, resource.id) as { version_id: string | null } | undefined;
      if (local?.version_id != null && !isNewer(resource.meta.versionId, local.version_id)) continue;
      if (pendingOf.get({ type: resource.resourceType, id: resource.id })) {
        // Kept beside the queue: an undo of the queued work puts it in place (the cursor moves past it).
        keepPulledWhileQueued(session, resource as FhirResource, resource.meta.versionId);
        continue;
      }
      const { patientId, newPatient } = writer.write(resource as FhirResource, { versionId: resource.meta.versionId });
      written++;
      writes.push({ patientId, ref: `${resource.resourceType}/${resource.id}`, newPatient });
    }
    session.audit.appendWrites(writes);
    const held = stateGet(session, CURSOR_KEY);
    // A page behind the cursor (replayed, from a lagging instance) may predate an assignment: its list removes nobody.
    const behind = page.cursor === null ? held !== null : cursorBehind(page.cursor, held);
    if (page.assignedPatients && !behind) dropUnassigned(session, page.assignedPatients);
    if (page.cursor && !behind) stateSet(session, CURSOR_KEY, page.cursor);
    return written;
  });
}

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
function dropUnassigned(session: CacheSession, assigned: string[]): void {
  const { db } = session;
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
    session.audit.append({ action: 'D', subtype: 'delete', patientId, entities: [`Patient/${patientId}`], query: null, outcome: '0' });
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

/** Pulls page after page until the backend has nothing newer; returns how many resources were written. */
export async function pullChanges(session: CacheSession, backend: BackendClient, token: string): Promise<number> {
  let written = 0;
  for (;;) {
    const cursor = pullCursor(session);
    const page = await backend.pull(token, cursor);
    // A page with resources must move the cursor on, and "more" must come with resources: else a loop.
    const stuck = page.resources.length > 0 ? page.cursor === null || page.cursor === cursor || cursorBehind(page.cursor, cursor) : page.more;
    if (stuck) {
      throw new AppError('BACKEND_INVALID_RESPONSE', 'The hospital server sent an update that does not move forward.');
    }
    written += applyPulledPage(session, page);
    if (!page.more) return written;
  }
}
