/**
 * What a signed release needs from the environment, per platform, and which
 * of it is missing. The release script (release-dist.ts) asks this BEFORE
 * anything is built, so a release without its signing identity stops with the
 * missing variables named and produces nothing.
 *
 * Must never: print, log or return a variable's value (only its name), or
 * accept a key or certificate file that lies inside the repository.
 */
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';

export type ReleasePlatform = 'win' | 'mac' | 'linux';

/** One variable; set when it or one of its aliases is non-empty. */
interface Variable {
  name: string;
  aliases?: string[];
  /** The value is a path to a file that must exist outside the repository. */
  file?: boolean;
  /** The value's required form, said without the value. */
  form?: { test(value: string): boolean; says: string };
}

/** What `npm run update-sign -- keygen` prints and the bundler compiles in: base64 of a raw 32-byte Ed25519 key. */
const ED25519_PUBLIC_KEY = { test: (v: string) => /^[A-Za-z0-9+/]{43}=$/.test(v.trim()), says: 'is not base64 of a raw 32-byte Ed25519 public key' };

/** One thing a release needs: satisfied when every variable of any one option is set. */
interface Requirement {
  what: string;
  options: Variable[][];
}

const UPDATE_SIGNING: Requirement[] = [
  // Coordinated with the update service: the Ed25519 private key (PEM file) that signs latest*.yml, and its public half compiled into the app.
  { what: 'the update-manifest signing key', options: [[{ name: 'CLINICIAN_UPDATE_SIGNING_KEY_FILE', file: true }]] },
  { what: 'the update-manifest public key compiled into the app', options: [[{ name: 'CLINICIAN_UPDATE_PUBLIC_KEY', form: ED25519_PUBLIC_KEY }]] },
];

export const RELEASE_REQUIREMENTS: Record<ReleasePlatform, Requirement[]> = {
  win: [
    {
      what: 'a Windows code-signing identity',
      options: [
        [
          { name: 'CSC_LINK', aliases: ['WIN_CSC_LINK'] },
          { name: 'CSC_KEY_PASSWORD', aliases: ['WIN_CSC_KEY_PASSWORD'] },
        ],
        [
          { name: 'AZURE_TRUSTED_SIGNING_ENDPOINT' },
          { name: 'AZURE_TRUSTED_SIGNING_ACCOUNT' },
          { name: 'AZURE_TRUSTED_SIGNING_CERTIFICATE_PROFILE' },
          { name: 'AZURE_TENANT_ID' },
          { name: 'AZURE_CLIENT_ID' },
          { name: 'AZURE_CLIENT_SECRET' },
        ],
      ],
    },
    { what: 'the publisher name electron-updater checks on every update', options: [[{ name: 'CLINICIAN_WIN_PUBLISHER_NAME' }]] },
    ...UPDATE_SIGNING,
  ],
  mac: [
    {
      what: 'a Developer ID Application signing identity',
      options: [[{ name: 'CSC_LINK' }, { name: 'CSC_KEY_PASSWORD' }], [{ name: 'CSC_NAME' }]],
    },
    {
      what: 'notarization credentials',
      options: [
        [{ name: 'APPLE_API_KEY', file: true }, { name: 'APPLE_API_KEY_ID' }, { name: 'APPLE_API_ISSUER' }],
        [{ name: 'APPLE_ID' }, { name: 'APPLE_APP_SPECIFIC_PASSWORD' }, { name: 'APPLE_TEAM_ID' }],
        [{ name: 'APPLE_KEYCHAIN' }, { name: 'APPLE_KEYCHAIN_PROFILE' }],
      ],
    },
    { what: 'the Apple team id of the Touch ID keychain group', options: [[{ name: 'APPLE_TEAM_ID' }]] },
    { what: 'the Developer ID provisioning profile that allows the keychain group', options: [[{ name: 'CLINICIAN_MAC_PROVISIONING_PROFILE', file: true }]] },
    ...UPDATE_SIGNING,
  ],
  linux: [
    { what: 'the GPG key that signs the packages (detached .asc signatures)', options: [[{ name: 'CLINICIAN_LINUX_GPG_KEY_ID' }]] },
    ...UPDATE_SIGNING,
  ],
};

export interface MissingRequirement {
  what: string;
  /** One list per acceptable option: the variables of that option that are not set (or not usable). */
  missing: string[][];
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Why a variable does not count, or null when it does. */
function problem(variable: Variable, env: NodeJS.ProcessEnv, repoRoot: string): string | null {
  const name = [variable.name, ...(variable.aliases ?? [])].find((n) => (env[n] ?? '').trim() !== '');
  const label = [variable.name, ...(variable.aliases ?? []).map((a) => `or ${a}`)].join(' ');
  if (!name) return label;
  if (variable.form && !variable.form.test(env[name] as string)) return `${name} (${variable.form.says})`;
  if (variable.file) {
    const path = resolve(env[name] as string);
    if (!existsSync(path)) return `${name} (names no existing file)`;
    if (isInside(realpathSync(repoRoot), realpathSync(path))) return `${name} (names a file inside the repository; keep keys outside it)`;
  }
  return null;
}

/** The requirements for these platforms that the environment does not meet; empty when a signed release may go ahead. */
export function missingReleaseSigning(platforms: ReleasePlatform[], env: NodeJS.ProcessEnv, repoRoot: string): MissingRequirement[] {
  const seen = new Set<string>();
  const result: MissingRequirement[] = [];
  for (const platform of platforms) {
    for (const req of RELEASE_REQUIREMENTS[platform]) {
      // The update-signing requirements are shared by every platform: named once.
      if (seen.has(req.what)) continue;
      seen.add(req.what);
      const missing = req.options.map((option) => option.map((v) => problem(v, env, repoRoot)).filter((p): p is string => p !== null));
      if (missing.some((m) => m.length === 0)) continue;
      result.push({ what: req.what, missing });
    }
  }
  return result;
}

/** The refusal, naming variables only (never a value). */
export function describeMissing(platforms: ReleasePlatform[], missing: MissingRequirement[]): string {
  const lines = [`Refusing to build an unsigned ${platforms.join('+')} release: these environment variables are missing or unusable (nothing was built):`];
  for (const m of missing) {
    const options = m.missing.map((vars) => vars.join(', '));
    lines.push(`  - ${m.what}: ${options.join('  |  or instead: ')}`);
  }
  lines.push('See the README, "Release builds", for what each variable holds.');
  return lines.join('\n');
}
