/**
 * What the chart's Export and Print actions say, in words: which actions
 * policy allows (from export.options), what happened after an export or a
 * print (saved, cancelled, sent), and typed errors. Pure. Never puts a file
 * path, a patient detail or a raw error code into a sentence.
 */
import type { ExportFormat } from '../../../shared/contract';

/** The one sentence for an action the organisation's policy turned off. */
export const TURNED_OFF = 'Turned off by your organisation';

export type PrintOutput = 'pdf' | 'printer';

export interface ActionsAllowed {
  fhir: boolean;
  /** The print outputs allowed, in the order offered (paper first). */
  print: PrintOutput[];
}

export const NOTHING_ALLOWED: ActionsAllowed = { fhir: false, print: [] };

export function allowedActions(formats: readonly ExportFormat[]): ActionsAllowed {
  return { fhir: formats.includes('fhir-json'), print: (['printer', 'pdf'] as const).filter((f) => formats.includes(f)) };
}

export const OUTPUT_WORDS: Record<PrintOutput, string> = { printer: 'Print on paper', pdf: 'Save as PDF' };

export function exportedWords(saved: boolean, resources: number): string {
  if (!saved) return 'Export cancelled: nothing was saved.';
  return `Summary exported as a FHIR file (${resources} ${resources === 1 ? 'record' : 'records'}).`;
}

export function printedWords(output: PrintOutput, done: boolean): string {
  if (output === 'pdf') return done ? 'Summary saved as PDF.' : 'Save as PDF cancelled: nothing was saved.';
  return done ? 'Summary sent to the printer.' : 'Print cancelled: nothing was printed.';
}

/** A failed export or print in words: what did not happen, then main's own message (typed, PHI-free). */
export function failedWords(kind: 'export' | 'print', code: string, message: string): string {
  const what = kind === 'export' ? 'The summary was not exported' : 'The summary was not printed';
  if (code === 'EXPORT_DISABLED') return `${what}: ${TURNED_OFF.toLowerCase()}. ${message}`.trim();
  if (code === 'CACHE_LOCKED' || code === 'CACHE_NOT_OPEN') return `${what}: the app is locked. Unlock and try again.`;
  return `${what}. ${message}`.trim();
}
