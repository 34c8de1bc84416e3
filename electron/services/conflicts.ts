/**
 * Sync conflicts and the clinician's choice. A conflict holds the
 * clinician's version (the cache's latest copy) and the one the backend had
 * when the push arrived. Listing them is a read of PHI and is audited;
 * choosing is audited with the version chosen over. "Keep mine" queues the
 * clinician's version again, now based on the backend's, so it applies
 * unless someone changed it yet again; "take theirs" puts the backend's
 * version in the cache. Either way nothing is dropped without a choice.
 * Both are calls of the cache store (./store/operations/conflict-rows.ts,
 * one transaction each with their audit entries); this module holds no SQL.
 */
import type { Conflict } from '../../shared/contract';
import type { CacheSession } from './cache-session';

export type ConflictView = Conflict;
export type ConflictChoice = 'mine' | 'theirs';

/** Every open conflict, oldest first; one read entry per patient shown. */
export function listConflicts(session: CacheSession, limit = 100): Promise<ConflictView[]> {
  return session.store.call('listConflicts', { limit });
}

/** The choice on the conflict `key` names; its resource and patient are the stored conflict's own. */
export function resolveConflict(session: CacheSession, key: string, choice: ConflictChoice): Promise<{ resourceType: string; resourceId: string }> {
  return session.store.call('resolveConflict', { key, choice });
}
