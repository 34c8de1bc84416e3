/**
 * What every machine-policy reader hands back, whatever the OS: the raw
 * values IT set, by policy name, where they came from in words, and what was
 * refused. A reader never validates values against the catalogue (the
 * effective settings do) and never falls back to a place a user can write.
 */

export interface PolicyReading {
  /** Raw values by policy name, as the source holds them (unchecked). Empty when nothing is set or the source was refused. */
  values: Record<string, unknown>;
  /** The source in words, e.g. "/etc/clinician-desktop/policy.json" or "Windows Group Policy (HKLM\\…)". */
  source: string;
  /** Whether the source exists and was accepted. */
  present: boolean;
  /** Settings the source holds in a form that cannot be right (a REG_SZ in a boolean policy): what is wrong, by policy name. The safest value is used. */
  invalid?: Record<string, string>;
  /** Problems with the source as a whole (refused file, malformed JSON, unknown keys), in words, never echoing a value. */
  problems: string[];
}

export interface PolicyReader {
  /** Which kind of source: the OS's own policy store (Windows, macOS), the root-owned Linux file, or none (any other OS). */
  readonly kind: 'os-policy' | 'linux-file' | 'none';
  /** The source in words, as the reading will give it. */
  readonly source: string;
  read(): Promise<PolicyReading>;
}

export function emptyReading(source: string, problems: string[] = []): PolicyReading {
  return { values: {}, source, present: false, problems };
}
