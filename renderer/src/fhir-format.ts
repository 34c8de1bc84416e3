/**
 * Turns FHIR fields into the short text a clinician reads: codes to their
 * display, dates to a local day, quantities with units, ages. Pure and
 * forgiving: odd or missing fields show as an em dash, never as an error.
 */
import type { FhirResource } from '../../shared/contract';

type Json = Record<string, unknown>;

export function field(resource: unknown, dotted: string): unknown {
  let v: unknown = resource;
  for (const part of dotted.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = Array.isArray(v) ? (v[0] as Json | undefined)?.[part] : (v as Json)[part];
  }
  return v;
}

export function conceptText(concept: unknown): string {
  if (Array.isArray(concept)) return conceptText(concept[0]);
  if (!concept || typeof concept !== 'object') return '—';
  const c = concept as { text?: unknown; coding?: Array<{ display?: unknown; code?: unknown }> };
  if (typeof c.text === 'string' && c.text) return c.text;
  const coding = c.coding?.find((x) => typeof x.display === 'string') ?? c.coding?.[0];
  return typeof coding?.display === 'string' ? coding.display : typeof coding?.code === 'string' ? coding.code : '—';
}

export function codeOf(concept: unknown): string | null {
  const code = field(concept, 'coding.code');
  return typeof code === 'string' ? code : null;
}

const DAY = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const DAY_TIME = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

export function formatDate(value: unknown, withTime = false): string {
  if (typeof value !== 'string' || !value) return '—';
  // A bare date (YYYY-MM-DD) is a calendar day: never shift it through a time zone.
  const bare = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const date = bare ? new Date(Number(bare[1]), Number(bare[2]) - 1, Number(bare[3])) : new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return (withTime && !bare ? DAY_TIME : DAY).format(date);
}

export function ageFrom(birthDate: string | null | undefined, now = new Date()): string {
  if (!birthDate) return '';
  const b = new Date(birthDate);
  if (Number.isNaN(b.getTime())) return '';
  let years = now.getFullYear() - b.getFullYear();
  if (now.getMonth() < b.getMonth() || (now.getMonth() === b.getMonth() && now.getDate() < b.getDate())) years--;
  return `${years} y`;
}

/** UCUM codes as people write them. */
const UNIT_DISPLAY: Record<string, string> = { Cel: '°C', '[degF]': '°F', 'mm[Hg]': 'mmHg', '/min': '/min', '%': '%' };

export function quantityText(q: unknown): string {
  if (!q || typeof q !== 'object') return '—';
  const { value, unit, code } = q as { value?: unknown; unit?: unknown; code?: unknown };
  if (typeof value !== 'number') return '—';
  const rounded = Number.isInteger(value) ? String(value) : value.toFixed(1);
  const raw = typeof unit === 'string' ? unit : typeof code === 'string' ? code : '';
  const u = UNIT_DISPLAY[raw] ?? raw;
  return u ? `${rounded} ${u}` : rounded;
}

/** The value of an Observation: a quantity, a concept, a string, or its components (blood pressure). */
export function observationValue(obs: FhirResource): string {
  const o = obs as Json;
  if (o.valueQuantity) return quantityText(o.valueQuantity);
  if (o.valueCodeableConcept) return conceptText(o.valueCodeableConcept);
  if (typeof o.valueString === 'string') return o.valueString;
  if (Array.isArray(o.component) && o.component.length > 0) {
    // Blood pressure reads systolic over diastolic, whatever order the components came in.
    const order = ['8480-6', '8462-4'];
    const rank = (c: Json) => {
      const i = order.indexOf(codeOf(c.code) ?? '');
      return i === -1 ? order.length : i;
    };
    const components = [...(o.component as Json[])].sort((a, b) => rank(a) - rank(b));
    const parts = components.map((c) => quantityText(c.valueQuantity).split(' '));
    const unit = parts[0]?.[1] ?? '';
    return `${parts.map((p) => p[0]).join('/')}${unit ? ` ${unit}` : ''}`;
  }
  return '—';
}

export function observationDate(obs: FhirResource): unknown {
  return field(obs, 'effectiveDateTime') ?? field(obs, 'effectivePeriod.start') ?? field(obs, 'issued');
}

export function isVitalSign(obs: FhirResource): boolean {
  const categories = (obs as Json).category;
  return Array.isArray(categories) && categories.some((c) => codeOf(c) === 'vital-signs');
}

export function statusText(concept: unknown): string {
  const code = codeOf(concept);
  return code ?? '';
}
