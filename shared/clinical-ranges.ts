/**
 * Adult reference ranges for vital signs, and the flag a value earns against
 * them: normal, high or low (outside the usual adult range) and critical
 * (a value that needs someone now). Used by the chart's flowsheet and the
 * worklist's flags alike, so both say the same thing. Labs are not here: a
 * lab is flagged against the referenceRange its own record carries. Never use
 * these for children (they are adult ranges) and never hide a value because
 * it has no range: unflagged is not the same as normal.
 */

export type Flag = 'normal' | 'high' | 'low' | 'critical-high' | 'critical-low';

export interface AdultRange {
  /** The key the charting schema uses (shared/charting.ts), or a blood-pressure part. */
  key: 'systolic' | 'diastolic' | 'heartRate' | 'respiratoryRate' | 'temperature' | 'spo2';
  label: string;
  unit: string;
  /** LOINC codes a reading of this sign carries. */
  loinc: readonly string[];
  low: number;
  high: number;
  criticalLow: number;
  criticalHigh: number;
}

/** Common adult early-warning bounds (NEWS2-style), in the units the charting schema stores. */
export const ADULT_VITAL_RANGES: readonly AdultRange[] = [
  { key: 'systolic', label: 'Systolic BP', unit: 'mmHg', loinc: ['8480-6'], low: 90, high: 139, criticalLow: 80, criticalHigh: 180 },
  { key: 'diastolic', label: 'Diastolic BP', unit: 'mmHg', loinc: ['8462-4'], low: 60, high: 89, criticalLow: 40, criticalHigh: 110 },
  { key: 'heartRate', label: 'Heart rate', unit: '/min', loinc: ['8867-4'], low: 51, high: 100, criticalLow: 40, criticalHigh: 130 },
  { key: 'respiratoryRate', label: 'Respiratory rate', unit: '/min', loinc: ['9279-1'], low: 12, high: 20, criticalLow: 8, criticalHigh: 25 },
  { key: 'temperature', label: 'Temperature', unit: '°C', loinc: ['8310-5', '8331-1'], low: 36.1, high: 38.0, criticalLow: 35.0, criticalHigh: 39.1 },
  { key: 'spo2', label: 'SpO₂', unit: '%', loinc: ['59408-5', '2708-6'], low: 94, high: 100, criticalLow: 91, criticalHigh: 101 },
];

/** The flag of `value` against `range`; critical bounds are inclusive (SpO₂ 91 % is critical, 92 % is low). */
export function flagOf(value: number, range: Pick<AdultRange, 'low' | 'high' | 'criticalLow' | 'criticalHigh'>): Flag {
  if (!Number.isFinite(value)) return 'normal';
  if (value <= range.criticalLow) return 'critical-low';
  if (value >= range.criticalHigh) return 'critical-high';
  if (value < range.low) return 'low';
  if (value > range.high) return 'high';
  return 'normal';
}

/** The adult range for a LOINC code, if it is a vital sign we flag. */
export function adultRangeFor(loinc: string): AdultRange | undefined {
  return ADULT_VITAL_RANGES.find((r) => r.loinc.includes(loinc));
}

export function isAbnormal(flag: Flag): boolean {
  return flag !== 'normal';
}

export function isCritical(flag: Flag): boolean {
  return flag === 'critical-high' || flag === 'critical-low';
}
