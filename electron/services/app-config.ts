/**
 * The app's effective machine configuration, built on the settings
 * catalogue (electron/services/policy): IT's machine policy as read by the
 * caller for this OS (policy/machine-policy.ts: Linux
 * /etc/clinician-desktop/policy.json, Windows Group Policy, macOS managed
 * preferences), with environment variables and loopback defaults in
 * development builds only (a compiled-in constant, build-flavour.ts, never
 * app.isPackaged). A refused policy value is reported and the
 * setting's safest value used; a required setting with no usable value
 * stops the app with a message naming the setting and the source. Never
 * accept plain http to anything but loopback, and never read configuration
 * from a user-writable place in a release build: this module reads no file
 * itself, the reading is always given.
 */
import { AppError } from '../../shared/app-error';
import type { PolicyReading } from './policy/policy-reader';
import { effectiveSettings, type EffectiveSetting, type ValuesByName } from './policy/effective-settings';
import { SETTINGS_CATALOGUE } from './policy/settings-catalogue';

export interface AppConfig {
  backendUrl: string;
  appOrigin: string;
  rpId: string;
  keychainAccessGroup?: string;
  dataDir?: string;
  consultScreenShare: boolean;
  updatesEnabled: boolean;
  updateUrl: string | null;
  updateTargetVersion: string | null;
}

/** What the update service takes (its UpdatePolicy). */
export interface AppUpdatePolicy {
  updatesEnabled: boolean;
  updateUrl: string | null;
  updateTargetVersion: string | null;
}

/** Development builds only (npm start against `npm run server -- --origin https://clinician.localhost --rp-id clinician.localhost`). */
export const DEVELOPMENT_DEFAULTS = {
  backendUrl: 'http://127.0.0.1:8787/',
  appOrigin: 'https://clinician.localhost',
  rpId: 'clinician.localhost',
} as const;

/** Development builds only: environment variables for these settings. Never screen sharing or updates. */
const DEVELOPMENT_ENV: Record<string, string> = {
  backendUrl: 'CLINICIAN_BACKEND_URL',
  appOrigin: 'CLINICIAN_APP_ORIGIN',
  rpId: 'CLINICIAN_RP_ID',
  dataDir: 'CLINICIAN_DATA_DIR',
};

export interface AppConfigOptions {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** DEVELOPMENT_BUILD (electron/build-flavour.ts): compiled in, never decided at run time. */
  developmentBuild: boolean;
  /** The machine policy as read for this OS (main: `await machinePolicyReader(process.platform).read()`). Required: there is no fallback file. */
  policy: PolicyReading;
}

export interface ResolvedAppConfig {
  config: AppConfig;
  /** What the resolution used, for the settings surface. */
  inputs: { policy: PolicyReading; developmentOverrides: ValuesByName; developmentDefaults: ValuesByName };
  /** Refused values and sources, in words (for the log and the settings screen); never a value. */
  problems: string[];
}

export function resolveAppConfig(options: AppConfigOptions): ResolvedAppConfig {
  // No reading, no configuration: never go looking for a file (on Windows /etc/… is a folder any user can create).
  const policy = (options as Partial<AppConfigOptions>).policy;
  if (!policy || typeof policy !== 'object' || typeof policy.values !== 'object' || policy.values === null) {
    throw new AppError('INVALID_INPUT', 'The app is not configured: no machine policy reading was given.');
  }
  // Development builds only: a release build takes its configuration from machine policy alone.
  const development = options.developmentBuild === true;
  const developmentOverrides: ValuesByName = !development
    ? {}
    : Object.fromEntries(Object.entries(DEVELOPMENT_ENV).flatMap(([name, variable]) => (options.env[variable] !== undefined ? [[name, options.env[variable]]] : [])));
  const developmentDefaults: ValuesByName = !development ? {} : { ...DEVELOPMENT_DEFAULTS };
  const inputs = { policy, developmentOverrides, developmentDefaults };
  const resolved = effectiveSettings(inputs);
  const problems = [...policy.problems, ...[...resolved.values()].flatMap((e) => (e.problem ? [e.problem] : []))];

  const why = policy.problems.length > 0 ? ` (${policy.problems.join(' ')})` : '';
  for (const s of SETTINGS_CATALOGUE) {
    if (!s.required || resolved.get(s.name)?.value != null) continue;
    const e = resolved.get(s.name)!;
    const what = e.problem ? `${e.problem.replace(/; the safest value is used\.$/, '')}` : `${s.name} is not set`;
    throw new AppError('INVALID_INPUT', `The app is not configured: ${what}. IT sets this in ${policy.source}${why}.`.slice(0, 1000));
  }
  const str = (e: EffectiveSetting | undefined) => (typeof e?.value === 'string' ? e.value : null);
  const bool = (e: EffectiveSetting | undefined, fallback: boolean) => (typeof e?.value === 'boolean' ? e.value : fallback);
  const config: AppConfig = {
    backendUrl: str(resolved.get('backendUrl'))!,
    appOrigin: str(resolved.get('appOrigin'))!,
    rpId: str(resolved.get('rpId'))!,
    consultScreenShare: bool(resolved.get('consultScreenShare'), false),
    updatesEnabled: bool(resolved.get('updatesEnabled'), true),
    updateUrl: str(resolved.get('updateUrl')),
    updateTargetVersion: str(resolved.get('updateTargetVersion')),
  };
  const keychainAccessGroup = str(resolved.get('keychainAccessGroup'));
  if (keychainAccessGroup !== null) config.keychainAccessGroup = keychainAccessGroup;
  const dataDir = str(resolved.get('dataDir'));
  if (dataDir !== null) config.dataDir = dataDir;

  const host = new URL(config.appOrigin).hostname;
  if (host !== config.rpId && !host.endsWith(`.${config.rpId}`)) {
    throw new AppError('INVALID_INPUT', `The app origin must sit under the passkey domain ${config.rpId}. IT sets this in ${policy.source}.`);
  }
  return { config, inputs, problems };
}

export function loadAppConfig(options: AppConfigOptions): AppConfig {
  return resolveAppConfig(options).config;
}

export function updatePolicyOf(config: AppConfig): AppUpdatePolicy {
  return { updatesEnabled: config.updatesEnabled, updateUrl: config.updateUrl, updateTargetVersion: config.updateTargetVersion };
}
