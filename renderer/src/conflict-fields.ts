/**
 * The side-by-side rows of a sync conflict: each clinically meaningful
 * top-level field of the two versions, as the short text a clinician reads,
 * marked when they differ. Bookkeeping (id, meta, text narrative) is left
 * out. Pure: no access to anything but its arguments.
 */
import type { FhirResource } from '../../shared/contract';
import { conceptText, formatDate } from './fhir-format';

export interface FieldRow {
  field: string;
  label: string;
  mine: string;
  theirs: string;
  differs: boolean;
}

const SKIPPED = new Set(['resourceType', 'id', 'meta', 'text']);

function stripTags(html: string): string {
  return html.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
}

/** One field's value as text: codes to their display, references and dates as written, sections by title. */
export function fieldText(key: string, value: unknown): string {
  if (value === undefined || value === null || value === '') return '—';
  if (typeof value === 'string') return /^\d{4}-\d{2}-\d{2}(T|$)/.test(value) ? formatDate(value, value.includes('T')) : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (key === 'section' && Array.isArray(value)) {
    return value
      .map((s: { title?: unknown; text?: { div?: unknown } }) => `${typeof s.title === 'string' ? s.title : 'Section'}: ${typeof s.text?.div === 'string' ? stripTags(s.text.div) : '—'}`)
      .join('\n');
  }
  if (Array.isArray(value)) return value.map((v) => fieldText(key, v)).join('; ');
  const obj = value as Record<string, unknown>;
  if (typeof obj.reference === 'string') return typeof obj.display === 'string' ? obj.display : obj.reference;
  if ('coding' in obj || 'text' in obj) return conceptText(obj);
  if ('value' in obj && ('unit' in obj || 'code' in obj)) return `${String(obj.value)} ${String(obj.unit ?? obj.code ?? '')}`.trim();
  return JSON.stringify(value);
}

function label(key: string): string {
  const words = key.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words[0]!.toUpperCase() + words.slice(1);
}

export function conflictRows(mine: FhirResource, theirs: FhirResource): FieldRow[] {
  const keys = [...new Set([...Object.keys(mine), ...Object.keys(theirs)])].filter((k) => !SKIPPED.has(k));
  return keys.map((k) => {
    const a = fieldText(k, mine[k]);
    const b = fieldText(k, theirs[k]);
    return { field: k, label: label(k), mine: a, theirs: b, differs: JSON.stringify(mine[k]) !== JSON.stringify(theirs[k]) };
  });
}
