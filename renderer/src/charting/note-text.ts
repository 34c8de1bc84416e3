/**
 * Reading progress notes back from their Compositions: the SOAP text of
 * each section (shared/charting.ts sectionPlainText), whether a note is an
 * addendum and to which note, its author and time. Pure; never builds or
 * changes a note.
 */
import { SOAP_SECTIONS, sectionPlainText } from '../../../shared/charting';
import type { FhirResource } from '../../../shared/contract';

export type SoapKey = (typeof SOAP_SECTIONS)[number]['key'];
export const EMPTY_NOTE: Record<SoapKey, string> = { subjective: '', objective: '', assessment: '', plan: '' };

interface Section {
  title?: string;
  code?: { coding?: Array<{ code?: string }> };
  text?: { div?: string };
}

function sectionsOf(note: FhirResource): Section[] {
  return Array.isArray(note.section) ? (note.section as Section[]) : [];
}

/** The note's SOAP text by section (matched by LOINC code, else by title). */
export function soapOf(note: FhirResource): Record<SoapKey, string> {
  const out = { ...EMPTY_NOTE };
  for (const s of sectionsOf(note)) {
    const code = s.code?.coding?.[0]?.code;
    const spec = SOAP_SECTIONS.find((x) => x.loinc === code || x.title === s.title);
    if (spec) out[spec.key] = sectionPlainText(s.text?.div ?? '');
  }
  return out;
}

/** Each section with its title and plain text, as written (for reading). */
export function sectionsForReading(note: FhirResource): Array<{ title: string; text: string }> {
  return sectionsOf(note).map((s) => ({ title: s.title ?? 'Section', text: sectionPlainText(s.text?.div ?? '') }));
}

/** The id of the note this one appends to, if it is an addendum. */
export function appendsTo(note: FhirResource): string | null {
  const rel = Array.isArray(note.relatesTo) ? (note.relatesTo as Array<{ code?: string; targetReference?: { reference?: string } }>) : [];
  const ref = rel.find((r) => r.code === 'appends')?.targetReference?.reference;
  return ref?.startsWith('Composition/') ? ref.slice('Composition/'.length) : null;
}

export function authorOf(note: FhirResource): string {
  const a = Array.isArray(note.author) ? (note.author as Array<{ display?: unknown }>)[0] : undefined;
  return typeof a?.display === 'string' && a.display ? a.display : 'Unknown author';
}

export function isBlankSoap(body: Record<string, string>): boolean {
  return Object.values(body).every((v) => v.trim() === '');
}

export function byDateDesc(a: FhirResource, b: FhirResource): number {
  return String(b.date ?? '').localeCompare(String(a.date ?? ''));
}
