/**
 * Display names of clinicians who signed in on this computer, by id, as the
 * store reads them from workspace_state (written by
 * ../../workspace-state.ts rememberClinicianName). The acting clinician's
 * own name is always included. Names only: never PHI.
 */
import type { StoreTx } from '../store-tx';

export const NAME_PREFIX = 'clinician-name:';

export function clinicianNames(tx: StoreTx, actors: Iterable<string>): Map<string, string> {
  const wanted = [...new Set(actors)];
  const names = new Map<string, string>();
  if (wanted.length > 0) {
    const rows = tx.db
      .prepare('SELECT key, value FROM workspace_state WHERE key IN (SELECT ? || value FROM json_each(?))')
      .all(NAME_PREFIX, JSON.stringify(wanted)) as Array<{ key: string; value: string | null }>;
    for (const r of rows) if (r.value) names.set(r.key.slice(NAME_PREFIX.length), r.value);
  }
  if (tx.actorName) names.set(tx.actor, tx.actorName);
  return names;
}
