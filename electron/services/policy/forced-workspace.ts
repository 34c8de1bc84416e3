/**
 * Theme and density are the clinician's, unless IT's machine policy forces
 * them: then workspace.get reports the forced value and workspace.set
 * silently keeps its hands off them (the settings screen shows them as
 * managed). Reads the settings surface only; never stores a forced value
 * as the clinician's choice.
 */
import type { WorkspaceState } from '../../../shared/contract';
import type { SettingsSurface } from '../app-surfaces';

type Forceable = Pick<WorkspaceState, 'theme' | 'density'>;
const FORCEABLE = ['theme', 'density'] as const;

/** The theme and density IT forces, if any. */
export async function forcedWorkspace(settings: SettingsSurface | undefined): Promise<Partial<Forceable>> {
  if (!settings) return {};
  const forced: Partial<Forceable> = {};
  for (const view of (await settings.list()).settings) {
    if (!view.managed || typeof view.value !== 'string') continue;
    if (view.name === 'theme') forced.theme = view.value as Forceable['theme'];
    if (view.name === 'density') forced.density = view.value as Forceable['density'];
  }
  return forced;
}

/** The stored state with IT's forced values over it. */
export async function withForcedWorkspace(state: WorkspaceState, settings: SettingsSurface | undefined): Promise<WorkspaceState> {
  return { ...state, ...(await forcedWorkspace(settings)) };
}

/** The changes without the fields IT forces (a managed theme or density is not the clinician's to change). */
export async function withoutForcedChanges(changes: Partial<WorkspaceState>, settings: SettingsSurface | undefined): Promise<Partial<WorkspaceState>> {
  const forced = await forcedWorkspace(settings);
  const kept = { ...changes };
  for (const key of FORCEABLE) if (forced[key] !== undefined) delete kept[key];
  return kept;
}
