/**
 * The store's side of the workspace (moved from ../../workspace-state.ts):
 * where the clinician was (the chart open at lock or quit, its tab, theme
 * and density) and the display names of clinicians who signed in here.
 * Holds no PHI beyond a patient id, which is only ever one the cache holds.
 * Never store a patient id that is not in the cache, and never return one
 * whose patient has since left it.
 */
import { AppError } from '../../../../shared/app-error';
import { CHART_TABS, DENSITIES, THEMES, type ChartTab, type WorkspaceState } from '../../../../shared/contract';
import type { StoreArgs } from '../store-api';
import type { StoreTx } from '../store-tx';
import { NAME_PREFIX } from './clinician-names';

const DEFAULTS: WorkspaceState = { openPatientId: null, tab: null, theme: 'system', density: 'system' };
const KEYS = ['openPatientId', 'tab', 'theme', 'density'] as const;

function oneOf<T extends string>(values: readonly T[], v: string | null | undefined): T | null {
  return v != null && (values as readonly string[]).includes(v) ? (v as T) : null;
}

function patientExists(tx: StoreTx, patientId: string): boolean {
  return !!tx.db.prepare("SELECT 1 FROM resources WHERE resource_type = 'Patient' AND id = ?").pluck().get(patientId);
}

export function getWorkspace(tx: StoreTx): WorkspaceState {
  const rows = tx.db
    .prepare(`SELECT key, value FROM workspace_state WHERE key IN (${KEYS.map(() => '?').join(', ')})`)
    .all(...KEYS) as Array<{ key: string; value: string | null }>;
  const stored = new Map(rows.map((r) => [r.key, r.value]));
  const openPatientId = stored.get('openPatientId') ?? null;
  return {
    // A patient removed from the cache since (a wipe, an import replaced) is not reopened.
    openPatientId: openPatientId !== null && patientExists(tx, openPatientId) ? openPatientId : null,
    tab: oneOf<ChartTab>(CHART_TABS, stored.get('tab')),
    theme: oneOf(THEMES, stored.get('theme')) ?? DEFAULTS.theme,
    density: oneOf(DENSITIES, stored.get('density')) ?? DEFAULTS.density,
  };
}

/** Merges the given fields (absent ones keep their value; null clears) and returns the whole state; a patient not held is NOT_FOUND and nothing changes. */
export function setWorkspace(tx: StoreTx, { changes }: StoreArgs<'setWorkspace'>): WorkspaceState {
  if (changes.openPatientId != null && !patientExists(tx, changes.openPatientId)) {
    throw new AppError('NOT_FOUND', 'That patient is not in this computer\'s cache.');
  }
  const put = tx.db.prepare('INSERT INTO workspace_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  for (const key of KEYS) {
    const value = changes[key];
    if (value !== undefined) put.run(key, value);
  }
  return getWorkspace(tx);
}

/** Remembers the display name of the clinician the store acts for (at open). */
export function rememberClinicianName(tx: StoreTx): null {
  if (tx.actorName) {
    tx.db
      .prepare('INSERT INTO workspace_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE value IS NOT excluded.value')
      .run(NAME_PREFIX + tx.actor, tx.actorName);
  }
  return null;
}
