/**
 * What a clinician may chart, as validated input and as FHIR R4: vital signs
 * (LOINC-coded Observations with UCUM units, each checked against a
 * plausible range), SOAP progress notes (a Composition that is a draft until
 * signed, then immutable; a correction is an addendum that "appends" to it),
 * and problem list entries (Condition). Pure builders, shared by main and
 * any other place that must read them back. Never accept an implausible
 * vital or an edit of a signed note.
 */
import { z } from 'zod';
import { fhirIdSchema } from './fhir-id';
import { clinicianMessage } from './field-errors';

/**
 * Each vital: its LOINC code and display (stored), its UCUM unit (stored),
 * the plausible range, and how a clinician names it and its unit (`label`,
 * `unitText`: used in messages, never stored).
 */
export const VITAL_SIGNS = {
  heartRate: { loinc: '8867-4', display: 'Heart rate', unit: '/min', min: 20, max: 300, label: 'Heart rate', unitText: '/min' },
  respiratoryRate: { loinc: '9279-1', display: 'Respiratory rate', unit: '/min', min: 4, max: 60, label: 'Respiratory rate', unitText: '/min' },
  temperature: { loinc: '8310-5', display: 'Body temperature', unit: 'Cel', min: 30, max: 45, label: 'Temperature', unitText: '°C' },
  spo2: { loinc: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry', unit: '%', min: 50, max: 100, label: 'Oxygen saturation', unitText: '%' },
  weight: { loinc: '29463-7', display: 'Body weight', unit: 'kg', min: 0.3, max: 400, label: 'Weight', unitText: 'kg' },
} as const;
export const BLOOD_PRESSURE = {
  panel: { loinc: '85354-9', display: 'Blood pressure panel with all children optional' },
  systolic: { loinc: '8480-6', display: 'Systolic blood pressure', unit: 'mm[Hg]', min: 50, max: 260, label: 'Systolic', unitText: 'mmHg' },
  diastolic: { loinc: '8462-4', display: 'Diastolic blood pressure', unit: 'mm[Hg]', min: 25, max: 160, label: 'Diastolic', unitText: 'mmHg' },
} as const;

/** "Heart rate must be between 20 and 300 /min": the one message for any wrong value of the field (too low, too high, not a number). */
export function rangeMessage(r: { label: string; min: number; max: number; unitText: string }): string {
  return `${r.label} must be between ${r.min} and ${r.max} ${r.unitText}`;
}

/**
 * A number as a clinician types it: digits with one optional decimal point or
 * comma ("38.5", "38,5", "-2"), after NFKC (full-width digits) and trimming.
 * Anything else (hex "0x50", exponents "1e2", "Infinity", "1_000", two
 * separators) is NaN, which the range check then refuses at its field, so a
 * typo never becomes a plausible reading.
 */
export function typedDecimal(text: string): number {
  const t = text.normalize('NFKC').trim();
  if (!/^[+-]?(\d+([.,]\d*)?|[.,]\d+)$/.test(t)) return Number.NaN;
  return Number(t.replace(',', '.'));
}

const inRange = (r: { label: string; min: number; max: number; unitText: string }) => {
  const message = clinicianMessage(rangeMessage(r));
  return z.number({ error: message }).min(r.min, message).max(r.max, message);
};

export const VITALS_MESSAGES = {
  none: clinicianMessage('Enter at least one vital sign'),
  bothPressures: clinicianMessage('Blood pressure needs both systolic and diastolic'),
  systolicAbove: clinicianMessage('Systolic must be above diastolic'),
} as const;

export const vitalsInputSchema = z
  .strictObject({
    patientId: fhirIdSchema,
    heartRate: inRange(VITAL_SIGNS.heartRate).optional(),
    respiratoryRate: inRange(VITAL_SIGNS.respiratoryRate).optional(),
    temperature: inRange(VITAL_SIGNS.temperature).optional(),
    spo2: inRange(VITAL_SIGNS.spo2).optional(),
    weight: inRange(VITAL_SIGNS.weight).optional(),
    systolic: inRange(BLOOD_PRESSURE.systolic).optional(),
    diastolic: inRange(BLOOD_PRESSURE.diastolic).optional(),
  })
  .superRefine((v, ctx) => {
    if (!Object.keys(v).some((k) => k !== 'patientId')) ctx.addIssue({ code: 'custom', message: VITALS_MESSAGES.none, path: [] });
    // Each message at the field it is about.
    if (v.systolic === undefined && v.diastolic !== undefined) ctx.addIssue({ code: 'custom', message: VITALS_MESSAGES.bothPressures, path: ['systolic'] });
    if (v.diastolic === undefined && v.systolic !== undefined) ctx.addIssue({ code: 'custom', message: VITALS_MESSAGES.bothPressures, path: ['diastolic'] });
    if (v.systolic !== undefined && v.diastolic !== undefined && v.systolic <= v.diastolic) {
      ctx.addIssue({ code: 'custom', message: VITALS_MESSAGES.systolicAbove, path: ['systolic'] });
    }
  });
export type VitalsInput = z.infer<typeof vitalsInputSchema>;

const UCUM = 'http://unitsofmeasure.org';
const VITAL_CATEGORY = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'Vital Signs' }] }];
const loinc = (code: string, display: string) => ({ coding: [{ system: 'http://loinc.org', code, display }], text: display });
const quantity = (value: number, unit: string) => ({ value, unit, system: UCUM, code: unit });

export function vitalObservations(input: VitalsInput, newId: () => string, effective: string): Array<Record<string, unknown> & { resourceType: string; id: string }> {
  const base = { resourceType: 'Observation', status: 'final', category: VITAL_CATEGORY, subject: { reference: `Patient/${input.patientId}` }, effectiveDateTime: effective };
  const out: Array<Record<string, unknown> & { resourceType: string; id: string }> = [];
  for (const [key, spec] of Object.entries(VITAL_SIGNS) as Array<[keyof typeof VITAL_SIGNS, (typeof VITAL_SIGNS)[keyof typeof VITAL_SIGNS]]>) {
    const value = input[key];
    if (value !== undefined) out.push({ ...base, id: newId(), code: loinc(spec.loinc, spec.display), valueQuantity: quantity(value, spec.unit) });
  }
  if (input.systolic !== undefined && input.diastolic !== undefined) {
    out.push({
      ...base,
      id: newId(),
      code: loinc(BLOOD_PRESSURE.panel.loinc, BLOOD_PRESSURE.panel.display),
      component: [
        { code: loinc(BLOOD_PRESSURE.systolic.loinc, BLOOD_PRESSURE.systolic.display), valueQuantity: quantity(input.systolic, 'mm[Hg]') },
        { code: loinc(BLOOD_PRESSURE.diastolic.loinc, BLOOD_PRESSURE.diastolic.display), valueQuantity: quantity(input.diastolic, 'mm[Hg]') },
      ],
    });
  }
  return out;
}

const sectionText = z.string().max(20_000, clinicianMessage('A section can hold at most 20,000 characters'));
export const noteDraftSchema = z.strictObject({
  patientId: fhirIdSchema,
  /** Absent for a new note; the draft's id to keep editing it. */
  noteId: fhirIdSchema.optional(),
  subjective: sectionText,
  objective: sectionText,
  assessment: sectionText,
  plan: sectionText,
});
export type NoteDraft = z.infer<typeof noteDraftSchema>;

export const SOAP_SECTIONS = [
  { key: 'subjective', title: 'Subjective', loinc: '61150-9' },
  { key: 'objective', title: 'Objective', loinc: '61149-1' },
  { key: 'assessment', title: 'Assessment', loinc: '51848-0' },
  { key: 'plan', title: 'Plan', loinc: '18776-5' },
] as const;

function xhtml(text: string): string {
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<div xmlns="http://www.w3.org/1999/xhtml">${escaped}</div>`;
}

/** Plain text of a section as written (the narrative div without its markup). */
export function sectionPlainText(div: string): string {
  return div.replace(/^<div[^>]*>/, '').replace(/<\/div>$/, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

// White space, controls, format characters (zero-width space and joiners, word joiner, soft hyphen, BOM), every default-ignorable
// code point (Hangul fillers, variation selectors, combining grapheme joiner) and the blank braille pattern: nothing a reader sees.
const INVISIBLE = /[\p{White_Space}\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\u2800]/gu;

/** Whether `text` shows nothing once every invisible character is taken out (a note of only such characters is empty). */
export function isBlankText(text: string): boolean {
  return text.replace(INVISIBLE, '') === '';
}

export function noteComposition(draft: NoteDraft & { noteId: string }, author: string, date: string, status: 'preliminary' | 'final') {
  return {
    resourceType: 'Composition',
    id: draft.noteId,
    status,
    type: loinc('11506-3', 'Progress note'),
    subject: { reference: `Patient/${draft.patientId}` },
    date,
    author: [{ display: author }],
    title: 'Progress note',
    section: SOAP_SECTIONS.map((s) => ({ title: s.title, code: loinc(s.loinc, s.title), text: { status: 'generated', div: xhtml(draft[s.key]) } })),
  };
}

export function addendumComposition(patientId: string, addendumId: string, noteId: string, text: string, author: string, date: string) {
  return {
    resourceType: 'Composition',
    id: addendumId,
    status: 'final',
    type: loinc('11506-3', 'Progress note'),
    subject: { reference: `Patient/${patientId}` },
    date,
    author: [{ display: author }],
    title: 'Addendum',
    relatesTo: [{ code: 'appends', targetReference: { reference: `Composition/${noteId}` } }],
    section: [{ title: 'Addendum', text: { status: 'generated', div: xhtml(text) } }],
  };
}

export const problemInputSchema = z.strictObject({
  patientId: fhirIdSchema,
  /** Absent to add a problem; present to change one. */
  conditionId: fhirIdSchema.optional(),
  text: z.string().trim().min(1, clinicianMessage('Enter the problem')).max(500, clinicianMessage('A problem can be at most 500 characters')),
  status: z.enum(['active', 'recurrence', 'relapse', 'inactive', 'remission', 'resolved'], { error: clinicianMessage('Choose a status from the list') }),
});
export type ProblemInput = z.infer<typeof problemInputSchema>;

/**
 * The Condition for a problem list change. A new problem is a confirmed
 * problem-list item; a change of an existing one sets its clinical status
 * only and keeps its verification status and category (a status change
 * never confirms a provisional diagnosis nor files an encounter diagnosis
 * as a problem).
 */
export function problemCondition(input: ProblemInput & { conditionId: string }, recordedDate: string, existing?: Record<string, unknown>) {
  return {
    ...(existing ?? {}),
    resourceType: 'Condition',
    id: input.conditionId,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: input.status }] },
    verificationStatus: existing
      ? existing.verificationStatus
      : { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    category: existing
      ? existing.category
      : [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
    code: existing?.code ?? { text: input.text },
    subject: { reference: `Patient/${input.patientId}` },
    recordedDate: (existing?.recordedDate as string | undefined) ?? recordedDate,
  };
}
