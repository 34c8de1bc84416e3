/**
 * What the handler registry needs from the app besides the cache and
 * sign-in: the effective settings (IT policy, organisation, user) and the
 * updater. Narrow on purpose: the registry asks, it never reads a policy
 * source or talks to an update server itself. What settings.list may hand
 * the renderer, and nothing more: the values IT (or the organisation, or the
 * clinician) set for the catalogue's settings, none of them a secret; URLs
 * (backend, app origin, update feed) as origin and path only, never a query
 * or fragment, and never with a user name or password (such a URL is refused
 * as a value); the cache folder path (dataDir) when IT set it; the policy
 * source in words (the Linux policy file's path, the registry key or the
 * macOS preference domain); problems in words that never echo a value. The
 * update surface hands no URL, path or key at all.
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
