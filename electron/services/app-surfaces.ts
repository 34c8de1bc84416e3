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
import type { CallOutput, ParsedInput } from '../../shared/contract';
import type { Caller } from './caller-policy';

export interface SettingsSurface {
  list(): Promise<CallOutput<'settings.list'>>;
}

export interface UpdateSurface {
  status(): Promise<CallOutput<'update.status'>>;
  /** Throws AppError UPDATE_DEFERRED (consultation, or unsynced changes not acknowledged) or UPDATE_UNAVAILABLE (nothing ready). */
  install(acceptUnsynced: boolean): Promise<CallOutput<'update.install'>>;
}

/**
 * Governed export and print (issue 13): policy decides what is allowed; each
 * call asks for a reason and audits in the same transaction as it reads; the
 * destination comes from the OS save dialog (Electron glue), never from the
 * renderer. Throws EXPORT_DISABLED when policy forbids.
 */
export interface ExportSurface {
  options(): CallOutput<'export.options'>;
  /** `caller`: the window the save dialog belongs to. */
  exportFhir(input: ParsedInput<'export.fhir'>, caller: Caller): Promise<CallOutput<'export.fhir'>>;
  /** `caller`: the window the print is bound to (print.output from any other window is refused). */
  preparePrint(input: ParsedInput<'print.prepare'>, caller: Caller): Promise<CallOutput<'print.prepare'>>;
  /** `caller` is the window whose print view is printed (the glue finds its webContents). */
  output(input: ParsedInput<'print.output'>, caller: Caller): Promise<CallOutput<'print.output'>>;
}

/** Break the glass (issue 13): online only (GLASS_OFFLINE), decided by the backend (GLASS_REFUSED). */
export interface GlassSurface {
  search(query: string): Promise<CallOutput<'glass.search'>>;
  breakGlass(input: ParsedInput<'glass.break'>): Promise<CallOutput<'glass.break'>>;
  active(): Promise<CallOutput<'glass.active'>>;
}

export interface AppSurfaces {
  settings?: SettingsSurface;
  updates?: UpdateSurface;
  exports?: ExportSurface;
  glass?: GlassSurface;
}
