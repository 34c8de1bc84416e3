/**
 * What @vscode/policy-watcher hands back on Windows (HKLM\Software\Policies
 * registry values) and macOS (forced managed preferences), turned into raw
 * policy values plus per-setting problems. Every policy is registered with
 * the library as a union of boolean, number and string so that a value of the
 * wrong registry or plist type still reaches us and is reported, instead of
 * the library dropping it silently. What the library gives per type:
 *   Windows: REG_DWORD -> boolean (non-zero = true); REG_QWORD -> number;
 *            REG_SZ / REG_MULTI_SZ -> string; anything else -> undefined.
 *   macOS:   <true/>/<false/> -> boolean; <integer>/<real> -> number
 *            (read as a 64-bit integer: a real is truncated); <string> ->
 *            string; dates, data, arrays, dicts -> undefined. Only values
 *            forced by a configuration profile are returned.
 * Range and format are checked later against the catalogue; this module
 * never echoes a value. A problem names the setting by its label (policy
 * name in brackets) and says the registry or plist type in plain words.
 */
import { SETTINGS_CATALOGUE, settingInWords, type SettingDefinition } from './settings-catalogue';

export type OsPolicyPlatform = 'win32' | 'darwin';
export type WatcherValue = boolean | number | string | undefined;

/** The policies as the library wants them: every catalogue setting IT may set, as a union type. */
export function watcherPolicies(): Record<string, { type: readonly ['boolean', 'number', 'string'] }> {
  return Object.fromEntries(
    SETTINGS_CATALOGUE.filter((s) => s.from.includes('policy')).map((s) => [s.name, { type: ['boolean', 'number', 'string'] as const }]),
  );
}

function expectedForm(platform: OsPolicyPlatform, s: SettingDefinition): string {
  if (platform === 'win32') {
    if (s.type === 'boolean') return 'On or Off: a REG_DWORD of 1 or 0';
    if (s.type === 'number') return 'a number (REG_QWORD; the ADMX template writes one)';
    return 'text (REG_SZ)';
  }
  if (s.type === 'boolean') return 'On or Off (<true/> or <false/>)';
  if (s.type === 'number') return 'a whole number (an <integer>)';
  return 'text (a <string>)';
}

function foundForm(platform: OsPolicyPlatform, raw: boolean | number | string): string {
  if (platform === 'win32') return typeof raw === 'boolean' ? 'an on/off number (REG_DWORD)' : typeof raw === 'number' ? 'a large number (REG_QWORD)' : 'text (REG_SZ)';
  return typeof raw === 'boolean' ? 'On or Off (a <true/> or <false/>)' : typeof raw === 'number' ? 'a number (an <integer> or <real>)' : 'text (a <string>)';
}

function typeMatches(s: SettingDefinition, raw: boolean | number | string): boolean {
  if (s.type === 'boolean') return typeof raw === 'boolean';
  if (s.type === 'number') return typeof raw === 'number';
  return typeof raw === 'string';
}

/** One update from the watcher -> raw values (right type) and invalid settings (wrong type, reported; the safest value is used). */
export function parseOsPolicyValues(
  platform: OsPolicyPlatform,
  update: Record<string, WatcherValue>,
): { values: Record<string, unknown>; invalid: Record<string, string> } {
  const values: Record<string, unknown> = {};
  const invalid: Record<string, string> = {};
  for (const s of SETTINGS_CATALOGUE) {
    if (!s.from.includes('policy')) continue;
    const raw = update[s.name];
    if (raw === undefined) continue;
    if (typeMatches(s, raw)) values[s.name] = raw;
    else invalid[s.name] = `${settingInWords(s)} is stored as ${foundForm(platform, raw)}; it must be ${expectedForm(platform, s)}`;
  }
  return { values, invalid };
}

export function osPolicySourceName(platform: OsPolicyPlatform, key: string): string {
  return platform === 'win32' ? `Windows Group Policy (HKLM\\${key})` : `macOS managed preferences (${key})`;
}
