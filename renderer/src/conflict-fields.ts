/**
 * The side-by-side rows of a sync conflict: each clinically meaningful
 * top-level field of the two versions, named in words ("Clinical status",
 * "Recorded on"), its value as the short text a clinician reads (codes to
 * their display without SNOMED tags, statuses in words, references by name),
 * marked when they differ. Bookkeeping (id, meta, text narrative) is left
 * out; the patient is named by the view's heading, never as "Patient/…".
 * Pure: no access to anything but its arguments.
 */
import type { FhirResource } from '../../shared/contract';
import { conceptText, formatDate, quantityText, statusWords } from './fhir-format';

export interface FieldRow {
  field: string;
  label: string;
  mine: string;
  theirs: string;
  differs: boolean;
}

const SKIPPED = new Set(['resourceType', 'id', 'meta', 'text']);

/** FHIR element names in words; anything else is split from camelCase. */
const LABELS: Record<string, string> = {
  clinicalStatus: 'Clinical status',
  verificationStatus: 'Verification status',
  status: 'Status',
  code: 'What',
  category: 'Category',
  severity: 'Severity',
  criticality: 'Criticality',
  subject: 'Patient',
  patient: 'Patient',
  encounter: 'Encounter',
  onsetDateTime: 'Onset',
  abatementDateTime: 'Resolved on',
  recordedDate: 'Recorded on',
  recorder: 'Recorded by',
  asserter: 'Reported by',
  effectiveDateTime: 'Taken at',
  issued: 'Reported at',
  valueQuantity: 'Value',
  valueCodeableConcept: 'Value',
  valueString: 'Value',
  component: 'Values',
  interpretation: 'Flag',
  referenceRange: 'Reference range',
  note: 'Comment',
  title: 'Title',
  date: 'Date',
  author: 'Author',
  attester: 'Signed by',
  section: 'Note sections',
  relatesTo: 'Amends',
  medicationCodeableConcept: 'Medication',
  dosageInstruction: 'Dosage',
  authoredOn: 'Ordered on',
  requester: 'Ordered by',
  reaction: 'Reactions',
  performer: 'Performed by',
};

function stripTags(html: string): string {
  return html.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
}

/** A reference by its display, else by the kind of thing it points at (never the raw "Patient/…" id). */
function referenceText(key: string, ref: { reference: string; display?: unknown }): string {
  if (typeof ref.display === 'string' && ref.display) return ref.display;
  const type = ref.reference.match(/(?:^|\/)([A-Z][A-Za-z]+)\/[^/]+$/)?.[1];
  if (type === 'Patient') return key === 'subject' || key === 'patient' ? 'This patient' : 'A patient';
  return type ? `A ${type.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()} record` : 'A linked record';
}

/** One field's value as text: codes to their display, statuses in words, references by name, dates as dates. */
export function fieldText(key: string, value: unknown): string {
  if (value === undefined || value === null || value === '') return '—';
  if (key.endsWith('Status') || key === 'status') {
    if (typeof value === 'string') return statusWords(value);
    if (typeof value === 'object' && !Array.isArray(value)) return statusWords(value);
  }
  if (typeof value === 'string') return /^\d{4}-\d{2}-\d{2}(T|$)/.test(value) ? formatDate(value, value.includes('T')) : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (key === 'section' && Array.isArray(value)) {
    return value
      .map((s: { title?: unknown; text?: { div?: unknown } }) => `${typeof s.title === 'string' ? s.title : 'Section'}: ${typeof s.text?.div === 'string' ? stripTags(s.text.div) : '—'}`)
      .join('\n');
  }
  if (Array.isArray(value)) return value.map((v) => fieldText(key, v)).join('; ');
  const obj = value as Record<string, unknown>;
  if (typeof obj.reference === 'string') return referenceText(key, obj as { reference: string; display?: unknown });
  if ('coding' in obj || 'text' in obj) return conceptText(obj);
  if ('value' in obj && ('unit' in obj || 'code' in obj)) return quantityText(obj);
  return JSON.stringify(value);
}

export function fieldLabel(key: string): string {
  const known = LABELS[key];
  if (known) return known;
  const words = key.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words[0]!.toUpperCase() + words.slice(1);
}

export function conflictRows(mine: FhirResource, theirs: FhirResource): FieldRow[] {
  const keys = [...new Set([...Object.keys(mine), ...Object.keys(theirs)])].filter((k) => !SKIPPED.has(k));
  return keys.map((k) => {
    const a = fieldText(k, mine[k]);
    const b = fieldText(k, theirs[k]);
    return { field: k, label: fieldLabel(k), mine: a, theirs: b, differs: JSON.stringify(mine[k]) !== JSON.stringify(theirs[k]) };
  });
}
