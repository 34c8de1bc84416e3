/**
 * The observation codes the chart's summary shows: the latest reading of each
 * vital sign (its tiles) and the code status (the banner). chart.open sends
 * the newest usable reading of each of these codes, whatever their age
 * (electron/services/store/operations/patient-reads.ts); the renderer reads
 * the tiles and the banner from them. Codes only: no PHI, no logic.
 */

/** Each vital sign's codes (LOINC), in any coding of an Observation. */
export const VITAL_SIGN_CODES = {
  bp: ['85354-9', '55284-4'],
  heartRate: ['8867-4'],
  temperature: ['8310-5', '8331-1'],
  respiratoryRate: ['9279-1'],
  spo2: ['59408-5', '2708-6'],
  weight: ['29463-7'],
  height: ['8302-2'],
  bmi: ['39156-5'],
} as const satisfies Record<string, readonly string[]>;

/** Code status: LOINC "Cardiopulmonary resuscitation orders", SNOMED "Resuscitation status". */
export const CODE_STATUS_CODES: readonly string[] = ['100822-6', '304251008'];

/** Every code whose newest reading the chart opens with. */
export const SUMMARY_OBSERVATION_CODES: readonly string[] = [...Object.values(VITAL_SIGN_CODES).flat(), ...CODE_STATUS_CODES];
