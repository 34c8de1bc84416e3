/**
 * The vital signs a chart shows, read from the patient's vital-sign
 * Observations: which sign a reading is, its value as text, its numbers, and
 * its flag against the adult ranges of shared/clinical-ranges.ts (blood
 * pressure takes the worse of systolic and diastolic). Pure. Never flags a
 * child's reading against adult ranges, and never drops a reading it cannot
 * flag: unflagged (null) is not normal.
 */
import type { FhirResource } from '../../../shared/contract';
import { adultRangeFor, flagOf, type Flag } from '../../../shared/clinical-ranges';
import { VITAL_SIGN_CODES } from '../../../shared/summary-codes';
import { codesOf, DIASTOLIC, isVitalSign, isVoided, observationDate, observationValue, parseFhirDate, quantityValue, SYSTOLIC } from '../fhir-format';

export interface VitalSign {
  key: string;
  label: string;
  codes: readonly string[];
}

/** The signs in the order the tiles and the flowsheet show them; their codes are shared/summary-codes.ts's (chart.open sends the newest of each). */
export const VITAL_SIGNS: readonly VitalSign[] = [
  { key: 'bp', label: 'Blood pressure', codes: VITAL_SIGN_CODES.bp },
  { key: 'heartRate', label: 'Heart rate', codes: VITAL_SIGN_CODES.heartRate },
  { key: 'temperature', label: 'Temperature', codes: VITAL_SIGN_CODES.temperature },
  { key: 'respiratoryRate', label: 'Respiratory rate', codes: VITAL_SIGN_CODES.respiratoryRate },
  { key: 'spo2', label: 'SpO₂', codes: VITAL_SIGN_CODES.spo2 },
  { key: 'weight', label: 'Weight', codes: VITAL_SIGN_CODES.weight },
  { key: 'height', label: 'Height', codes: VITAL_SIGN_CODES.height },
  { key: 'bmi', label: 'BMI', codes: VITAL_SIGN_CODES.bmi },
];

export interface Reading {
  sign: VitalSign;
  id: string;
  /** The reading's dateTime as recorded, and as epoch ms for sorting. */
  when: string;
  time: number;
  text: string;
  /** The value without its unit ("182/110") and the unit ("mmHg"), for a row or tile that names the unit once. */
  number: string;
  unit: string;
  /** The plotted numbers: one, or systolic and diastolic. */
  values: number[];
  flag: Flag | null;
}

const FLAG_RANK: Record<Flag, number> = { normal: 0, high: 1, low: 1, 'critical-high': 2, 'critical-low': 2 };

export function worseFlag(a: Flag | null, b: Flag | null): Flag | null {
  if (a === null) return b;
  if (b === null) return a;
  return FLAG_RANK[b] > FLAG_RANK[a] ? b : a;
}

type Json = Record<string, unknown>;

/** A quantity in the unit the adult range uses (°F readings are compared in °C). */
function comparable(q: unknown): number | null {
  const v = quantityValue(q);
  if (v === null) return null;
  const unit = (q as { code?: unknown; unit?: unknown }).code ?? (q as { unit?: unknown }).unit;
  return unit === '[degF]' || unit === '°F' ? ((v - 32) * 5) / 9 : v;
}

function flagFor(codes: string[], q: unknown, adult: boolean): Flag | null {
  if (!adult) return null;
  const range = codes.map(adultRangeFor).find((r) => r !== undefined);
  const v = comparable(q);
  return range && v !== null ? flagOf(v, range) : null;
}

function readingOf(obs: FhirResource, sign: VitalSign, adult: boolean): Reading | null {
  const when = observationDate(obs);
  const date = parseFhirDate(when);
  if (typeof when !== 'string' || !date) return null;
  const o = obs as Json;
  let values: number[] = [];
  let flag: Flag | null = null;
  if (sign.key === 'bp') {
    const components = Array.isArray(o.component) ? (o.component as Json[]) : [];
    const part = (code: string) => components.find((c) => codesOf(c.code).includes(code));
    const sys = part(SYSTOLIC);
    const dia = part(DIASTOLIC);
    const s = quantityValue(sys?.valueQuantity);
    const d = quantityValue(dia?.valueQuantity);
    if (s !== null && d !== null) values = [s, d];
    flag = worseFlag(flagFor([SYSTOLIC], sys?.valueQuantity, adult), flagFor([DIASTOLIC], dia?.valueQuantity, adult));
  } else {
    const v = quantityValue(o.valueQuantity);
    if (v !== null) values = [v];
    flag = flagFor(codesOf(o.code), o.valueQuantity, adult);
  }
  const text = observationValue(obs);
  const space = text.indexOf(' ');
  const [number, unit] = space === -1 ? [text, ''] : [text.slice(0, space), text.slice(space + 1)];
  return { sign, id: obs.id, when, time: date.getTime(), text, number, unit, values, flag };
}

/** Every vital-sign reading by sign, newest first (voided readings left out). `adult`: whether adult ranges apply to this patient. */
export function vitalReadings(observations: FhirResource[], adult: boolean): Map<string, Reading[]> {
  const bySign = new Map<string, Reading[]>(VITAL_SIGNS.map((s) => [s.key, []]));
  for (const obs of observations) {
    if (!isVitalSign(obs) || isVoided(obs)) continue;
    const codes = codesOf((obs as Json).code);
    const sign = VITAL_SIGNS.find((s) => s.codes.some((c) => codes.includes(c)));
    if (!sign) continue;
    const reading = readingOf(obs, sign, adult);
    if (reading) bySign.get(sign.key)!.push(reading);
  }
  for (const list of bySign.values()) list.sort((a, b) => b.time - a.time);
  return bySign;
}
