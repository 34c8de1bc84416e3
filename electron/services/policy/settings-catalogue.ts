/**
 * The one catalogue of the app's settings: for each, its policy name (the
 * same in policy.json, the Windows registry, macOS managed preferences, the
 * ADMX/ADML templates, the .mobileconfig example and the README table), its
 * label and description, type, default, the SAFEST value (used when IT's
 * value is refused), its allowed range or format, and where it may come
 * from. Everything else (readers, effective settings, the settings screen,
 * the generated templates) is derived from this list. Never list a setting
 * the app does not act on, and never mark a secret as shown (there is none).
 */
import { z } from 'zod';
import { DENSITIES, EXPORT_FORMATS, THEMES } from '../../../shared/contract';
import { PAGE_CACHE_MIB_DEFAULT, PAGE_CACHE_MIB_MAX, PAGE_CACHE_MIB_MIN, PAGE_CACHE_SETTING } from '../page-cache-policy';

/** Where a value may come from, strongest first: IT's machine policy, the backend's organisation policy, the clinician. */
export type SettingOrigin = 'policy' | 'organisation' | 'user';

/** The vendor and app folders of the Windows policy key, and the macOS preference domain (the bundle id). */
export const POLICY_VENDOR = 'ClinicianDesktopProject';
export const POLICY_APP = 'ClinicianDesktop';
export const WINDOWS_POLICY_KEY = `Software\\Policies\\${POLICY_VENDOR}\\${POLICY_APP}`;
export const MACOS_POLICY_DOMAIN = 'org.clinician-desktop.app';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

function parsedUrl(u: string): URL | null {
  try {
    return new URL(u);
  } catch {
    return null;
  }
}

// A URL IT sets never carries a user name or password: the settings screen shows URLs, and a secret belongs in no policy.
const NO_CREDENTIALS = 'must not hold a user name or password';
const withoutCredentials = (u: string) => {
  const url = parsedUrl(u);
  return !url || (url.username === '' && url.password === '');
};
const urlText = () => z.string().max(1024).refine(withoutCredentials, NO_CREDENTIALS);

const secureUrl = urlText().refine((u) => {
  const url = parsedUrl(u);
  return !!url && (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname)));
}, 'must be an https URL (plain http only on loopback)');
const httpsOrigin = urlText().refine((u) => {
  const url = parsedUrl(u);
  return !!url && url.protocol === 'https:' && url.pathname === '/' && !url.search && !url.hash && !url.username;
}, 'must be an https origin (no path)');
const httpsUrl = urlText().refine((u) => parsedUrl(u)?.protocol === 'https:', 'must be an https URL');
/**
 * Export formats IT allows: `none`, or a comma-separated list of fhir-json,
 * pdf, printer (each at most once). Read by services/export/export-policy.ts.
 */
export const EXPORT_FORMATS_NONE = 'none';
const exportFormatList = z
  .string()
  .max(64)
  .refine((v) => {
    if (v.trim() === EXPORT_FORMATS_NONE) return true;
    const parts = v.split(',').map((p) => p.trim());
    return parts.every((p) => (EXPORT_FORMATS as readonly string[]).includes(p)) && new Set(parts).size === parts.length;
  }, `must be ${EXPORT_FORMATS_NONE} or a comma-separated list of ${EXPORT_FORMATS.join(', ')}`);
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

interface SettingBase {
  /** The policy name. */
  name: string;
  label: string;
  description: string;
  from: readonly SettingOrigin[];
  /** A packaged app cannot start without it (there is no safe value to fall back to). */
  required?: boolean;
}
export interface StringSetting extends SettingBase {
  type: 'string';
  /** The allowed format, in words (README, ADML). */
  format: string;
  maxLength: number;
  schema: z.ZodType<string>;
  /** A URL: refused with a user name or password in it, and shown on the settings screen as origin and path only. */
  url?: true;
  default: string | null;
  /** null: unset (the built-in behaviour described in `default`'s words). */
  safest: string | null;
  /** What "no value" means, in words. */
  unsetMeans: string;
}
export interface BooleanSetting extends SettingBase {
  type: 'boolean';
  default: boolean;
  safest: boolean;
}
export interface NumberSetting extends SettingBase {
  type: 'number';
  min: number;
  max: number;
  unit: string;
  /** null: no machine cap (the organisation's value stands). */
  default: number | null;
  safest: number;
  /** A machine cap on an organisation setting: the effective value is the stricter (lower) of the two. */
  capsOrganisation?: boolean;
  unsetMeans: string;
}
export interface EnumSetting extends SettingBase {
  type: 'enum';
  values: readonly string[];
  /** Each value as the settings screen says it (the renderer's words), for problem lines. */
  valueLabels: Readonly<Record<string, string>>;
  default: string;
  safest: string;
}
export type SettingDefinition = StringSetting | BooleanSetting | NumberSetting | EnumSetting;
export type SettingValue = string | number | boolean | null;

export const SETTINGS_CATALOGUE: readonly SettingDefinition[] = [
  {
    name: 'backendUrl',
    label: 'Backend server',
    description: 'The hospital backend the app talks to, e.g. https://clinician-api.hospital.example/',
    type: 'string',
    format: 'https URL, no user name or password (plain http only to loopback)',
    maxLength: 1024,
    schema: secureUrl,
    url: true,
    default: null,
    safest: null,
    unsetMeans: 'required: the app does not start without it',
    required: true,
    from: ['policy'],
  },
  {
    name: 'appOrigin',
    label: 'App origin',
    description: 'The https origin the app page is served at, under the passkey domain, e.g. https://clinician.hospital.example',
    type: 'string',
    format: 'https origin under rpId, no user name or password',
    maxLength: 1024,
    schema: httpsOrigin,
    url: true,
    default: null,
    safest: null,
    unsetMeans: 'required: the app does not start without it',
    required: true,
    from: ['policy'],
  },
  {
    name: 'rpId',
    label: 'Passkey domain',
    description: "The WebAuthn relying party id, the organisation's domain, e.g. hospital.example",
    type: 'string',
    format: 'lower-case domain name',
    maxLength: 253,
    schema: z.string().regex(/^[a-z0-9.-]{1,253}$/, 'must be a lower-case domain name'),
    default: null,
    safest: null,
    unsetMeans: 'required: the app does not start without it',
    required: true,
    from: ['policy'],
  },
  {
    name: 'keychainAccessGroup',
    label: 'Keychain access group (macOS)',
    description: 'macOS only: the keychain access group for Touch ID passkeys (also in the entitlements).',
    type: 'string',
    format: 'text, at most 200 characters',
    maxLength: 200,
    schema: z.string().min(1).max(200),
    default: null,
    safest: null,
    unsetMeans: 'Touch ID passkeys not configured',
    from: ['policy'],
  },
  {
    name: 'dataDir',
    label: 'Cache folder',
    description: 'Where the encrypted cache lives.',
    type: 'string',
    format: 'absolute path, at most 1024 characters',
    maxLength: 1024,
    schema: z.string().max(1024).refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p), 'must be an absolute path'),
    default: null,
    safest: null,
    unsetMeans: "the app's user data folder",
    from: ['policy'],
  },
  {
    name: 'consultScreenShare',
    label: 'Screen sharing in consultations',
    description: 'Whether a clinician may share their screen during a consultation.',
    type: 'boolean',
    default: false,
    safest: false,
    from: ['policy'],
  },
  {
    name: 'updatesEnabled',
    label: 'Automatic updates',
    description: 'Whether the app checks for, downloads and offers signed updates.',
    type: 'boolean',
    default: true,
    // A refused value keeps updates on: every update is signature-checked, and staying on an old build is the larger risk.
    safest: true,
    from: ['policy'],
  },
  {
    name: 'updateUrl',
    label: 'Update server',
    description: "The update feed (every update is still checked against the signing key compiled into the app).",
    type: 'string',
    format: 'https URL, no user name or password',
    maxLength: 1024,
    schema: httpsUrl,
    url: true,
    default: null,
    safest: null,
    unsetMeans: 'no update feed: the app does not check for updates',
    from: ['policy'],
  },
  {
    name: 'updateTargetVersion',
    label: 'Pinned version',
    description: 'Pin updates to this version (never a downgrade).',
    type: 'string',
    format: 'semantic version, e.g. 1.4.2',
    maxLength: 64,
    schema: z.string().max(64).regex(SEMVER, 'must be a semantic version such as 1.4.2'),
    default: null,
    safest: null,
    unsetMeans: 'the newest signed version',
    from: ['policy'],
  },
  {
    name: 'exportFormats',
    label: 'Export and print formats',
    description:
      'What a clinician may take out of the app, each time with a reason, audited and (PDF, paper) watermarked: fhir-json (a FHIR R4 patient summary file), pdf (the print view saved as PDF), printer (paper). none turns export and print off.',
    type: 'string',
    format: `${EXPORT_FORMATS_NONE}, or a comma-separated list of ${EXPORT_FORMATS.join(', ')}`,
    maxLength: 64,
    schema: exportFormatList,
    // Paper and PDF carry a visible watermark; a machine-readable FHIR file does not and is trivially copied on: IT turns it on where a referral workflow needs it.
    default: 'printer,pdf',
    // A refused value lets nothing out: IT meant to restrict something, and we cannot tell what.
    safest: EXPORT_FORMATS_NONE,
    unsetMeans: 'printer and PDF',
    from: ['policy'],
  },
  {
    name: 'screenCaptureProtection',
    label: 'Screen-capture protection',
    description:
      "Hide the app's window from screenshots, screen recorders and screen sharing (Windows 10 2004+ and macOS; no effect on Linux). Not a defence against a camera.",
    type: 'boolean',
    default: true,
    safest: true,
    from: ['policy'],
  },
  {
    name: PAGE_CACHE_SETTING,
    label: 'Cache memory',
    description:
      'Memory for the decrypted pages of the encrypted patient cache, in MiB: each MiB costs about 1 MB of the app\'s memory and keeps more of what was read (a page not held is read and decrypted again: cheap on a CPU with AES instructions, slower on one without). Lower it on computers with little memory; raise it on older CPUs without AES instructions.',
    type: 'number',
    min: PAGE_CACHE_MIB_MIN,
    max: PAGE_CACHE_MIB_MAX,
    unit: 'MiB',
    // From the scale benchmark: a larger cache bought no speed at a full panel, and costs memory (README "Page cache and memory").
    default: PAGE_CACHE_MIB_DEFAULT,
    // A refused value uses the default: it is a speed/memory trade-off, neither end of which is safer.
    safest: PAGE_CACHE_MIB_DEFAULT,
    unsetMeans: `${PAGE_CACHE_MIB_DEFAULT} MiB`,
    from: ['policy'],
  },
  {
    name: 'theme',
    label: 'Theme',
    description: 'Light, dark, or follow the system.',
    type: 'enum',
    values: THEMES,
    valueLabels: { system: 'Same as this computer', light: 'Light', dark: 'Dark' },
    default: 'system',
    safest: 'system',
    from: ['policy', 'user'],
  },
  {
    name: 'density',
    label: 'Density',
    description: 'Comfortable, compact, or follow the system.',
    type: 'enum',
    values: DENSITIES,
    valueLabels: { system: 'Automatic (compact on short screens)', comfortable: 'Comfortable', compact: 'Compact' },
    default: 'system',
    safest: 'system',
    from: ['policy', 'user'],
  },
];

export function settingDefinition(name: string): SettingDefinition | undefined {
  return SETTINGS_CATALOGUE.find((s) => s.name === name);
}

/** The default in words (README, ADML): a value, or what having none means. */
export function defaultInWords(s: SettingDefinition): string {
  if (s.type === 'string' || s.type === 'number') return s.default === null ? `none (${s.unsetMeans})` : String(s.default);
  return String(s.default);
}

/** The allowed values in words. */
export function rangeInWords(s: SettingDefinition): string {
  switch (s.type) {
    case 'string':
      return s.format;
    case 'boolean':
      return 'true or false';
    case 'number':
      return `whole number ${s.min} to ${s.max} (${s.unit})`;
    case 'enum':
      return s.values.join(', ');
  }
}

/** How a problem line names a setting: its label as the settings screen shows it, the policy name in brackets for IT. */
export function settingInWords(s: SettingDefinition): string {
  return `${s.label} (${s.name})`;
}

/** An enum's allowed values as the screen says them, each with the policy value in brackets. */
function choicesInWords(s: EnumSetting): string {
  return s.values.map((v) => `${s.valueLabels[v] ?? v} (${v})`).join(', ');
}

/**
 * Checks one raw value against its setting. Returns the value, or what is
 * wrong in plain words, naming the setting by its label (policy name in
 * brackets), never echoing the value itself (it may be a URL with a token in
 * it) and never passing on a library's message.
 */
export function checkSettingValue(s: SettingDefinition, raw: unknown): { ok: true; value: string | number | boolean } | { ok: false; problem: string } {
  const who = settingInWords(s);
  const refused = (what: string) => ({ ok: false as const, problem: `${who} ${what}` });
  if (raw === null) return refused('is empty (null)');
  switch (s.type) {
    case 'boolean':
      return typeof raw === 'boolean' ? { ok: true, value: raw } : refused(`must be On or Off (true or false); it is ${kindOf(raw)}`);
    case 'number':
      if (typeof raw !== 'number' || !Number.isFinite(raw)) return refused(`must be a whole number from ${s.min} to ${s.max}; it is ${kindOf(raw)}`);
      if (!Number.isInteger(raw) || raw < s.min || raw > s.max) return refused(`must be a whole number from ${s.min} to ${s.max}`);
      return { ok: true, value: raw };
    case 'enum':
      if (typeof raw !== 'string') return refused(`must be one of: ${choicesInWords(s)}; it is ${kindOf(raw)}`);
      return s.values.includes(raw) ? { ok: true, value: raw } : refused(`must be one of: ${choicesInWords(s)}`);
    case 'string': {
      if (typeof raw !== 'string') return refused(`must be text; it is ${kindOf(raw)}`);
      if (raw.trim() === '') return refused('must not be empty');
      if (raw.length > s.maxLength) return refused(`is longer than ${s.maxLength} characters`);
      const parsed = s.schema.safeParse(raw);
      if (parsed.success) return { ok: true, value: parsed.data };
      // Our own refine/regex messages start with "must"; anything else is the library's wording, replaced by the format in words.
      const message = parsed.error.issues[0]?.message ?? '';
      return refused(/^must [^:<>=]+$/.test(message) ? message : `must be ${s.format}`);
    }
  }
}

function kindOf(raw: unknown): string {
  if (Array.isArray(raw)) return 'a list';
  if (typeof raw === 'string') return 'text';
  if (typeof raw === 'object') return 'an object';
  if (typeof raw === 'number') return 'a number';
  return `a ${typeof raw}`;
}
