/**
 * The flag of a laboratory result: from the record's own `interpretation`
 * (H, L, HH, LL, A, AA, N…) when it has one, else computed from its
 * `referenceRange`; and that range as text. Pure. A result with neither is
 * unflagged (null), which is not the same as normal; never flag a lab
 * against the vital-sign ranges.
 */
import type { FhirResource } from '../../../shared/contract';
import type { Flag } from '../../../shared/clinical-ranges';
import { codesOf, conceptText, quantityValue, unitText } from '../fhir-format';

export type ResultFlag = Flag | 'abnormal' | 'critical';

const INTERPRETATIONS: Record<string, ResultFlag> = {
  N: 'normal',
  NEG: 'normal',
  ND: 'normal',
  H: 'high',
  HU: 'high',
  '>': 'high',
  HH: 'critical-high',
  L: 'low',
  LU: 'low',
  '<': 'low',
  LL: 'critical-low',
  A: 'abnormal',
  POS: 'abnormal',
  DET: 'abnormal',
  AA: 'critical',
};

type Json = Record<string, unknown>;

interface Range {
  low: number | null;
  high: number | null;
  unit: string;
  text: string;
}

function rangeOf(obs: FhirResource): Range | null {
  const list = (obs as Json).referenceRange;
  if (!Array.isArray(list) || list.length === 0) return null;
  const r = list[0] as Json;
  const low = quantityValue(r.low);
  const high = quantityValue(r.high);
  const q = (r.low ?? r.high) as { unit?: unknown; code?: unknown } | undefined;
  const rawUnit = typeof q?.unit === 'string' ? q.unit : typeof q?.code === 'string' ? q.code : '';
  return { low, high, unit: unitText(rawUnit), text: typeof r.text === 'string' ? r.text : '' };
}

/** The reference range as text: the record's text when it has one, else "3.5–5.1 mmol/L", "≤ 5.7 %", "≥ 60"; '' when none. */
export function rangeText(obs: FhirResource): string {
  const r = rangeOf(obs);
  if (!r) return '';
  if (r.text) return r.text;
  const u = r.unit ? ` ${r.unit}` : '';
  if (r.low !== null && r.high !== null) return `${r.low}–${r.high}${u}`;
  if (r.high !== null) return `≤ ${r.high}${u}`;
  if (r.low !== null) return `≥ ${r.low}${u}`;
  return '';
}

/** The result's flag and where it came from; flag null when the record gives nothing to flag against. */
export function resultFlag(obs: FhirResource): { flag: ResultFlag | null; from: 'interpretation' | 'range' | null } {
  const interpretation = (obs as Json).interpretation;
  for (const code of codesOf(Array.isArray(interpretation) ? interpretation[0] : interpretation)) {
    const flag = INTERPRETATIONS[code];
    if (flag) return { flag, from: 'interpretation' };
  }
  const value = quantityValue((obs as Json).valueQuantity);
  const r = rangeOf(obs);
  if (value === null || !r || (r.low === null && r.high === null)) {
    // An interpretation we have no code for still says something: show its words as abnormal.
    if (interpretation && conceptText(interpretation) !== '—') return { flag: 'abnormal', from: 'interpretation' };
    return { flag: null, from: null };
  }
  if (r.high !== null && value > r.high) return { flag: 'high', from: 'range' };
  if (r.low !== null && value < r.low) return { flag: 'low', from: 'range' };
  return { flag: 'normal', from: 'range' };
}
