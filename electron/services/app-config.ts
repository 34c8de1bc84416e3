/**
 * The app's managed configuration: what IT sets by policy (a JSON file in
 * the OS's machine-wide policy location, which users cannot write), with
 * environment variables for development. Validated with zod; a bad policy
 * stops the app with a clear message instead of running half-configured.
 * Never accept plain http to anything but loopback, and never read
 * configuration from a user-writable place in a packaged build.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { AppError } from '../../shared/app-error';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

const secureUrl = z.url().refine((u) => {
  const url = new URL(u);
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
}, 'must be https (plain http only on loopback)');

export const appConfigSchema = z.strictObject({
  /** The backend, e.g. https://clinician-api.hospital.example/ */
  backendUrl: secureUrl,
  /**
   * The origin the renderer is served at, intercepted locally; WebAuthn needs
   * its host to sit under the relying party id. e.g. https://clinician.hospital.example
   */
  appOrigin: z.url().refine((u) => new URL(u).protocol === 'https:' && new URL(u).pathname === '/', 'must be an https origin'),
  /** The WebAuthn relying party id, the organisation's domain, e.g. hospital.example */
  rpId: z.string().regex(/^[a-z0-9.-]{1,253}$/),
  /** macOS: the keychain access group for Touch ID passkeys (also in the entitlements). */
  keychainAccessGroup: z.string().max(200).optional(),
  /** Where the encrypted cache lives; default: the app's user data folder. */
  dataDir: z.string().max(1024).optional(),
  /**
   * Whether a clinician may share their screen during a consultation (absent:
   * no). Policy file only, never an environment variable: it widens what the
   * renderer may capture.
   */
  consultScreenShare: z.boolean().optional(),
});
export type AppConfig = z.infer<typeof appConfigSchema>;

/** Development builds only (npm start against `npm run server -- --origin https://clinician.localhost --rp-id clinician.localhost`). */
export const DEVELOPMENT_DEFAULTS = {
  backendUrl: 'http://127.0.0.1:8787/',
  appOrigin: 'https://clinician.localhost',
  rpId: 'clinician.localhost',
} as const;

/** The machine-wide policy file for each platform. */
export function policyFilePath(platform: NodeJS.Platform, env: NodeJS.ProcessEnv): string {
  if (platform === 'win32') return join(env.ProgramData ?? 'C:\\ProgramData', 'ClinicianDesktop', 'policy.json');
  if (platform === 'darwin') return '/Library/Application Support/ClinicianDesktop/policy.json';
  return '/etc/clinician-desktop/policy.json';
}

export function loadAppConfig(options: { platform: NodeJS.Platform; env: NodeJS.ProcessEnv; packaged: boolean; file?: string }): AppConfig {
  const file = options.file ?? policyFilePath(options.platform, options.env);
  let fromFile: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      throw new AppError('INVALID_INPUT', `The IT policy file ${file} is not valid JSON.`);
    }
  }
  // Development only: a packaged app takes its configuration from the policy file alone.
  const fromEnv = options.packaged
    ? {}
    : Object.fromEntries(
        Object.entries({
          backendUrl: options.env.CLINICIAN_BACKEND_URL,
          appOrigin: options.env.CLINICIAN_APP_ORIGIN,
          rpId: options.env.CLINICIAN_RP_ID,
          dataDir: options.env.CLINICIAN_DATA_DIR,
        }).filter(([, v]) => v !== undefined),
      );
  const defaults = options.packaged ? {} : DEVELOPMENT_DEFAULTS;
  const parsed = appConfigSchema.safeParse({ ...defaults, ...fromFile, ...fromEnv });
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(file)'))].join(', ');
    throw new AppError('INVALID_INPUT', `The app is not configured correctly (${fields}). IT sets this in ${file}.`);
  }
  const host = new URL(parsed.data.appOrigin).hostname;
  if (host !== parsed.data.rpId && !host.endsWith(`.${parsed.data.rpId}`)) {
    throw new AppError('INVALID_INPUT', `The app origin must sit under the passkey domain ${parsed.data.rpId}. IT sets this in ${file}.`);
  }
  return parsed.data;
}
