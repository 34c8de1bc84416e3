/**
 * What IT's policy lets out of the app: the export formats (setting
 * `exportFormats`) and whether the window is hidden from screen capture
 * (`screenCaptureProtection`), read from the effective settings. Pure: the
 * catalogue (../policy/settings-catalogue.ts) already refused bad values and
 * put its safest value in their place. Never allow a format that is not
 * named, and never read a value that did not pass the catalogue.
 */
import { EXPORT_FORMATS, type ExportFormat } from '../../../shared/contract';
import type { SettingValue } from '../policy/settings-catalogue';
import { EXPORT_FORMATS_NONE, settingDefinition } from '../policy/settings-catalogue';

export interface ExportPolicy {
  /** The allowed formats, in EXPORT_FORMATS order; empty: export and print are off. */
  formats: readonly ExportFormat[];
  /** The window's content protection (setContentProtection). */
  screenCaptureProtection: boolean;
}

/** `none`, or a comma-separated list; unknown words are never allowed (the catalogue refuses them before this). */
export function parseExportFormats(value: string): ExportFormat[] {
  if (value.trim() === EXPORT_FORMATS_NONE) return [];
  const named = new Set(value.split(',').map((p) => p.trim()));
  return EXPORT_FORMATS.filter((f) => named.has(f));
}

function catalogueDefault(name: string): SettingValue {
  return settingDefinition(name)?.default ?? null;
}

/** From effective settings (policy/effective-settings.ts `effectiveSettings(inputs)`), falling back to the catalogue's defaults. */
export function exportPolicyOf(settings: ReadonlyMap<string, { value: SettingValue }>): ExportPolicy {
  const formats = settings.get('exportFormats')?.value ?? catalogueDefault('exportFormats');
  const protection = settings.get('screenCaptureProtection')?.value ?? catalogueDefault('screenCaptureProtection');
  return {
    formats: typeof formats === 'string' ? parseExportFormats(formats) : [],
    // Anything but an explicit false keeps the protection on.
    screenCaptureProtection: protection !== false,
  };
}
