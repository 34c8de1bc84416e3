/**
 * Where the clinician was: the chart open when they last locked or quit, its
 * tab, and their theme and density; kept in the encrypted cache so the app
 * returns to the same chart after unlock or restart. Also the display names
 * of clinicians who signed in on this computer (so the access trail and new
 * notes name people, not ids). Holds no PHI beyond a patient id, which is
 * only ever one the cache holds. Never store a patient id that is not in the
 * cache, and never return one whose patient has since left it.
 */
import { AppError } from '../../shared/app-error';
import { CHART_TABS, DENSITIES, THEMES, type ChartTab, type WorkspaceState } from '../../shared/contract';
import type { CacheSession } from './cache-session';

const DEFAULTS: WorkspaceState = { openPatientId: null, tab: null, theme: 'system', density: 'system' };
const KEYS = ['openPatientId', 'tab', 'theme', 'density'] as const;
const NAME_PREFIX = 'clinician-name:';

function oneOf<T extends string>(values: readonly T[], v: string | null | undefined): T | null {
  return v != null && (values as readonly string[]).includes(v) ? (v as T) : null;
}

function patientExists(session: CacheSession, patientId: string): boolean {
  return !!session.db.prepare("SELECT 1 FROM resources WHERE resource_type = 'Patient' AND id = ?").pluck().get(patientId);
}

export function getWorkspace(session: CacheSession): WorkspaceState {
  const rows = session.db
    .prepare(`SELECT key, value FROM workspace_state WHERE key IN (${KEYS.map(() => '?').join(', ')})`)
    .all(...KEYS) as Array<{ key: string; value: string | null }>;
  const stored = new Map(rows.map((r) => [r.key, r.value]));
  const openPatientId = stored.get('openPatientId') ?? null;
  return {
    // A patient removed from the cache since (a wipe, an import replaced) is not reopened.
    openPatientId: openPatientId !== null && patientExists(session, openPatientId) ? openPatientId : null,
    tab: oneOf<ChartTab>(CHART_TABS, stored.get('tab')),
    theme: oneOf(THEMES, stored.get('theme')) ?? DEFAULTS.theme,
    density: oneOf(DENSITIES, stored.get('density')) ?? DEFAULTS.density,
  };
}

/** Merges the given fields (absent ones keep their value; null clears) and returns the whole state. */
export function setWorkspace(session: CacheSession, changes: Partial<WorkspaceState>): WorkspaceState {
  const { db } = session;
  return session.audited(() => {
    if (changes.openPatientId != null && !patientExists(session, changes.openPatientId)) {
      throw new AppError('NOT_FOUND', 'That patient is not in this computer\'s cache.');
    }
    const put = db.prepare('INSERT INTO workspace_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    for (const key of KEYS) {
      const value = changes[key];
      if (value !== undefined) put.run(key, value);
    }
    return getWorkspace(session);
  });
}

/** Remembers the display name of the clinician this session acts for (called when a cache is opened). */
export function rememberClinicianName(session: CacheSession): void {
  const { actor, actorName } = session.context;
  if (!actorName) return;
  try {
    session.db
      .prepare('INSERT INTO workspace_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE value IS NOT excluded.value')
      .run(NAME_PREFIX + actor, actorName);
  } catch {
    // Best effort (a full disk): this session still names its own clinician from its context.
  }
}

/** Display names this computer knows, by clinician id (the open session's own name always included). */
export function clinicianNames(session: CacheSession, actors: Iterable<string>): Map<string, string> {
  const wanted = [...new Set(actors)];
  const names = new Map<string, string>();
  if (wanted.length > 0) {
    const rows = session.db
      .prepare('SELECT key, value FROM workspace_state WHERE key IN (SELECT ? || value FROM json_each(?))')
      .all(NAME_PREFIX, JSON.stringify(wanted)) as Array<{ key: string; value: string | null }>;
    for (const r of rows) if (r.value) names.set(r.key.slice(NAME_PREFIX.length), r.value);
  }
  const { actor, actorName } = session.context;
  if (actorName) names.set(actor, actorName);
  return names;
}

/** How the signed-in clinician is named on what they write (a note's author): their display name, else their id. */
export function actorDisplayName(session: CacheSession): string {
  return session.context.actorName || session.context.actor;
}
