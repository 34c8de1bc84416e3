/**
 * What the handler registry needs from the app besides the cache and
 * sign-in: the effective settings (IT policy, organisation, user) and the
 * updater. Narrow on purpose: the registry asks, it never reads a policy
 * source or talks to an update server itself, and nothing here hands the
 * renderer a URL, a path or a key.
 */
import type { CallOutput } from '../../shared/contract';

export interface SettingsSurface {
  list(): CallOutput<'settings.list'>;
}

export interface UpdateSurface {
  status(): CallOutput<'update.status'>;
  /** Throws AppError UPDATE_DEFERRED (consultation, or unsynced changes not acknowledged) or UPDATE_UNAVAILABLE (nothing ready). */
  install(acceptUnsynced: boolean): Promise<CallOutput<'update.install'>>;
}

export interface AppSurfaces {
  settings?: SettingsSurface;
  updates?: UpdateSurface;
}
