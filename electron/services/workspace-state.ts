/**
 * Where the clinician was: the chart open when they last locked or quit, its
 * tab, and their theme and density, kept in the encrypted cache so the app
 * returns to the same chart after unlock or restart; and the display names
 * of clinicians who signed in on this computer (so the access trail and new
 * notes name people, not ids). Each is one call of the cache store
 * (./store/operations/workspace-rows.ts), answered as a promise. Holds no
 * SQL.
 */
import type { WorkspaceState } from '../../shared/contract';
import type { CacheSession } from './cache-session';

export function getWorkspace(session: CacheSession): Promise<WorkspaceState> {
  return session.store.call('getWorkspace', {});
}

/** Merges the given fields (absent ones keep their value; null clears) and returns the whole state. */
export function setWorkspace(session: CacheSession, changes: Partial<WorkspaceState>): Promise<WorkspaceState> {
  return session.store.call('setWorkspace', { changes });
}

/** Remembers the display name of the clinician this session acts for (called when a cache is opened). */
export async function rememberClinicianName(session: CacheSession): Promise<void> {
  try {
    await session.store.call('rememberClinicianName', {});
  } catch {
    // Best effort (a full disk): this session still names its own clinician from its context.
  }
}

/** How the signed-in clinician is named on what they write (a note's author): their display name, else their id. */
export function actorDisplayName(session: CacheSession): string {
  return session.context.actorName || session.context.actor;
}
