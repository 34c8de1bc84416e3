/**
 * A newer version the pull met for a resource with local work still waiting
 * (queued, or in conflict): the pull leaves the local copy alone and keeps
 * that version here instead, so an undo of the queued work puts it in place
 * (the pull's cursor has already moved past it), and a conflict takes it as
 * its "theirs". Store-internal SQL (moved from ../../outbox.ts, which still
 * reads and forgets the kept version until the outbox moves). Never
 * overwrite local work with it.
 */
import type { FhirResource } from '../../../../shared/contract';
import type { StoreTx } from '../store-tx';

/** sync_state key prefix of a version kept beside the queue. */
export const PULLED_PREFIX = 'pulled-while-queued:';

/** Whether pulled version `a` is later than `b` (backend versions are whole numbers as text). */
export function laterVersion(a: string, b: string | null): boolean {
  if (b === null) return true;
  return /^\d{1,30}$/.test(a) && /^\d{1,30}$/.test(b) ? BigInt(a) > BigInt(b) : a !== b;
}

export function keepPulledWhileQueued(tx: StoreTx, resource: FhirResource, versionId: string): void {
  const { db } = tx;
  // In conflict (nothing of it is queued then): the newer version becomes "theirs", shown to the clinician, installed by
  // "take theirs" and the base of "keep mine".
  const conflict = db.prepare('SELECT their_version FROM conflicts WHERE resource_type = ? AND resource_id = ?').pluck().get(resource.resourceType, resource.id) as
    | string
    | undefined;
  if (conflict !== undefined) {
    if (laterVersion(versionId, conflict)) {
      db.prepare('UPDATE conflicts SET theirs = ?, their_version = ? WHERE resource_type = ? AND resource_id = ?').run(JSON.stringify(resource), versionId, resource.resourceType, resource.id);
    }
    return;
  }
  const queued = db.prepare('SELECT 1 FROM outbox WHERE resource_type = ? AND resource_id = ? LIMIT 1').pluck().get(resource.resourceType, resource.id);
  if (!queued) return;
  const key = `${PULLED_PREFIX}${resource.resourceType}/${resource.id}`;
  const heldText = db.prepare('SELECT value FROM sync_state WHERE key = ?').pluck().get(key) as string | undefined;
  const held = heldText === undefined ? null : (JSON.parse(heldText) as { versionId: string });
  if (held && !laterVersion(versionId, held.versionId)) return;
  db.prepare('INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, JSON.stringify({ versionId, resource }));
}
