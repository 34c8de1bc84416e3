/**
 * The app's effective machine configuration, built on the settings
 * catalogue (electron/services/policy): IT's machine policy (Linux
 * /etc/clinician-desktop/policy.json, Windows Group Policy, macOS managed
 * preferences), with environment variables and loopback defaults in
 * development builds only. A refused policy value is reported and the
 * setting's safest value used; a required setting with no usable value
 * stops the app with a message naming the setting and the source. Never
 * accept plain http to anything but loopback, and never read configuration
 * from a user-writable place in a packaged build.
 */
import { AppError } from '../../shared/app-error';
import { readLinuxPolicyFile } from './policy/linux-policy-file';
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
  packaged: boolean;
  /** The machine policy as read (main reads it through policy/machine-policy.ts). Absent: the Linux policy file at `file`. */
  policy?: PolicyReading;
  /** Linux policy file path (tests point it into a scratch folder). */
  file?: string;
}

export interface ResolvedAppConfig {
  config: AppConfig;
  /** What the resolution used, for the settings surface. */
  inputs: { policy: PolicyReading; developmentOverrides: ValuesByName; developmentDefaults: ValuesByName };
  /** Refused values and sources, in words (for the log and the settings screen); never a value. */
  problems: string[];
}

export function resolveAppConfig(options: AppConfigOptions): ResolvedAppConfig {
  const policy = options.policy ?? readLinuxPolicyFile(options.file);
  // Development only: a packaged app takes its configuration from machine policy alone.
  const developmentOverrides: ValuesByName = options.packaged
    ? {}
    : Object.fromEntries(Object.entries(DEVELOPMENT_ENV).flatMap(([name, variable]) => (options.env[variable] !== undefined ? [[name, options.env[variable]]] : [])));
  const developmentDefaults: ValuesByName = options.packaged ? {} : { ...DEVELOPMENT_DEFAULTS };
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
