/**
 * Turns FHIR fields into the short text a clinician reads: codes to their
 * display without SNOMED semantic tags, statuses and classes in words, dates
 * to a local day, quantities with units, ages, how long ago a reading was,
 * and dosage instructions. Pure and forgiving: odd or missing fields show as
 * an em dash, never as an error. Must never show a raw code where words exist,
 * and never read the clock itself where a caller can pass `now`.
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

/** SNOMED CT semantic tags: "(disorder)", "(finding)", "(qualifier value)"… never shown to a clinician. */
const SEMANTIC_TAG =
  /\s*\((?:disorder|finding|procedure|qualifier value|situation|substance|observable entity|regime\/therapy|morphologic abnormality|body structure|physical object|record artifact|occupation|event|product|medicinal product|medicinal product form|clinical drug|environment|person|specimen|organism|social concept|assessment scale|attribute|cell|cell structure|environment \/ location|geographic location|navigational concept|physical force|special concept|staging scale|tumor staging|ethnic group|racial group|life style|religion\/philosophy|context-dependent category|administrative concept|disposition|role|dose form|basic dose form|unit of presentation|state of matter|intended site|release characteristic|transformation|supplier|product name|inactive concept|namespace concept|linkage concept|metadata)\)\s*$/i;

/** A display without its SNOMED semantic tag: "Sepsis (disorder)" → "Sepsis". */
export function cleanDisplay(text: string): string {
  let t = text.trim();
  // Some displays carry two tags ("… (disorder) (situation)"): strip until none is left.
  for (let i = 0; i < 3 && SEMANTIC_TAG.test(t); i++) t = t.replace(SEMANTIC_TAG, '').trim();
  return t || text.trim();
}

export function conceptText(concept: unknown): string {
  if (Array.isArray(concept)) return conceptText(concept[0]);
  if (!concept || typeof concept !== 'object') return '—';
  const c = concept as { text?: unknown; coding?: Array<{ display?: unknown; code?: unknown }> };
  if (typeof c.text === 'string' && c.text.trim()) return cleanDisplay(c.text);
  const coding = c.coding?.find((x) => typeof x.display === 'string' && x.display.trim()) ?? c.coding?.[0];
  if (typeof coding?.display === 'string') return cleanDisplay(coding.display);
  if (typeof coding?.code === 'string') return CODE_WORDS[coding.code] ?? coding.code;
  return '—';
}

/** HL7 category codes that arrive without a display, in words (a bare code is shown only when we know no words for it). */
const CODE_WORDS: Record<string, string> = {
  'problem-list-item': 'Problem list',
  'encounter-diagnosis': 'Encounter diagnosis',
  'health-concern': 'Health concern',
  'vital-signs': 'Vital signs',
  laboratory: 'Laboratory',
  'social-history': 'Social history',
  imaging: 'Imaging',
  procedure: 'Procedure',
  survey: 'Survey',
  exam: 'Examination',
  therapy: 'Therapy',
  activity: 'Activity',
  confirmed: 'Confirmed',
  provisional: 'Provisional',
  differential: 'Differential',
  unconfirmed: 'Unconfirmed',
  refuted: 'Refuted',
  'entered-in-error': 'Entered in error',
};

export function codeOf(concept: unknown): string | null {
  const code = field(concept, 'coding.code');
  return typeof code === 'string' ? code : null;
}

/** Every code a concept carries (a reading may carry several LOINC codes). */
export function codesOf(concept: unknown): string[] {
  const coding = (concept as { coding?: unknown } | null | undefined)?.coding;
  if (!Array.isArray(coding)) return [];
  return coding.map((c) => (c as Json | null)?.code).filter((c): c is string => typeof c === 'string');
}

const DAY = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const DAY_TIME = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const TIME = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/** A FHIR date or dateTime as a Date (a bare YYYY-MM-DD is a local calendar day), or null. */
export function parseFhirDate(value: unknown): Date | null {
  if (typeof value !== 'string' || !value) return null;
  const bare = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const date = bare ? new Date(Number(bare[1]), Number(bare[2]) - 1, Number(bare[3])) : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function formatDate(value: unknown, withTime = false): string {
  if (typeof value !== 'string' || !value) return '—';
  // A bare date (YYYY-MM-DD) is a calendar day: never shift it through a time zone.
  const bare = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const date = parseFhirDate(value);
  if (!date) return value;
  return (withTime && !bare ? DAY_TIME : DAY).format(date);
}

/** The time of day only ("14:20"), for a column under a date already shown. */
export function formatTime(value: unknown): string {
  const date = parseFhirDate(value);
  return date ? TIME.format(date) : '—';
}

/** The local calendar day of a date, as a key ("2026-11-25"). */
export function dayKey(value: unknown): string {
  const d = parseFhirDate(value);
  return d ? `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}` : '';
}

/** Age in whole years; months under two years, days under one month ("68 y", "14 mo", "12 d"). */
export function ageFrom(birthDate: string | null | undefined, now = new Date()): string {
  if (!birthDate) return '';
  const b = parseFhirDate(birthDate);
  if (!b || b.getTime() > now.getTime()) return '';
  let months = (now.getFullYear() - b.getFullYear()) * 12 + (now.getMonth() - b.getMonth());
  if (now.getDate() < b.getDate()) months--;
  if (months >= 24) return `${Math.floor(months / 12)} y`;
  if (months >= 1) return `${months} mo`;
  const days = Math.floor((now.getTime() - b.getTime()) / 86_400_000);
  return `${days} d`;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY_MS = 24 * HOUR;

/** Readings older than this are marked old. */
export const OLD_AFTER_MS = 30 * DAY_MS;

/** How long ago, in words: "just now", "25 min ago", "3 h ago", "5 days ago", "4 months ago", "6 years ago". */
export function agoText(value: unknown, now = new Date()): string {
  const d = parseFhirDate(value);
  if (!d) return '';
  const ms = now.getTime() - d.getTime();
  if (ms < MINUTE) return ms < -HOUR ? 'dated in the future' : 'just now';
  if (ms < HOUR) return `${Math.floor(ms / MINUTE)} min ago`;
  if (ms < 48 * HOUR) return `${Math.floor(ms / HOUR)} h ago`;
  if (ms < 60 * DAY_MS) return `${Math.floor(ms / DAY_MS)} days ago`;
  const months = Math.floor(ms / (30.44 * DAY_MS));
  if (months < 24) return `${months} months ago`;
  const years = Math.floor(ms / (365.25 * DAY_MS));
  return `${years} years ago`;
}

/** Whether a reading is old enough that it must not pass for current. */
export function isOld(value: unknown, now = new Date()): boolean {
  const d = parseFhirDate(value);
  return d !== null && now.getTime() - d.getTime() > OLD_AFTER_MS;
}

/** UCUM codes as people write them. */
const UNIT_DISPLAY: Record<string, string> = {
  Cel: '°C',
  '[degF]': '°F',
  'mm[Hg]': 'mmHg',
  '/min': '/min',
  '%': '%',
  'kg/m2': 'kg/m²',
  '10*3/uL': '×10³/µL',
  '10*6/uL': '×10⁶/µL',
  '10*9/L': '×10⁹/L',
  '[lb_av]': 'lb',
  '[in_i]': 'in',
  '{score}': '',
};

export function unitText(raw: string): string {
  return UNIT_DISPLAY[raw] ?? raw;
}

function numberText(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 10) / 10);
}

export function quantityText(q: unknown): string {
  if (!q || typeof q !== 'object') return '—';
  const { value, unit, code, comparator } = q as { value?: unknown; unit?: unknown; code?: unknown; comparator?: unknown };
  if (typeof value !== 'number') return '—';
  const raw = typeof unit === 'string' ? unit : typeof code === 'string' ? code : '';
  const u = unitText(raw);
  const v = `${typeof comparator === 'string' ? comparator : ''}${numberText(value)}`;
  return u ? `${v} ${u}` : v;
}

/** The numeric value of a quantity, or null. */
export function quantityValue(q: unknown): number | null {
  const v = (q as { value?: unknown } | null | undefined)?.value;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export const SYSTOLIC = '8480-6';
export const DIASTOLIC = '8462-4';

/** The value of an Observation: a quantity, a concept, a string, or its components (blood pressure). */
export function observationValue(obs: FhirResource): string {
  const o = obs as Json;
  if (o.valueQuantity) return quantityText(o.valueQuantity);
  if (o.valueCodeableConcept) return conceptText(o.valueCodeableConcept);
  if (typeof o.valueString === 'string') return o.valueString;
  if (typeof o.valueBoolean === 'boolean') return o.valueBoolean ? 'Yes' : 'No';
  if (typeof o.valueInteger === 'number') return String(o.valueInteger);
  if (Array.isArray(o.component) && o.component.length > 0) {
    // Blood pressure reads systolic over diastolic, whatever order the components came in.
    const order = [SYSTOLIC, DIASTOLIC];
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
  return field(obs, 'effectiveDateTime') ?? field(obs, 'effectivePeriod.start') ?? field(obs, 'effectiveInstant') ?? field(obs, 'issued');
}

function hasCategory(obs: FhirResource, code: string): boolean {
  const categories = (obs as Json).category;
  return Array.isArray(categories) && categories.some((c) => codesOf(c).includes(code));
}

export function isVitalSign(obs: FhirResource): boolean {
  return hasCategory(obs, 'vital-signs');
}

export function isLaboratory(obs: FhirResource): boolean {
  return hasCategory(obs, 'laboratory');
}

/** A reading or encounter that says nothing about the patient (entered in error, or cancelled): never shown as a value, never offered. */
export function isVoided(obs: FhirResource): boolean {
  return obs.status === 'entered-in-error' || obs.status === 'cancelled';
}

/** The status code of a CodeableConcept status (clinicalStatus…), as a code: for logic, not for display. */
export function statusText(concept: unknown): string {
  const code = codeOf(concept);
  return code ?? '';
}

const STATUS_WORDS: Record<string, string> = {
  active: 'Active',
  recurrence: 'Recurrence',
  relapse: 'Relapse',
  inactive: 'Inactive',
  remission: 'In remission',
  resolved: 'Resolved',
  'on-hold': 'On hold',
  cancelled: 'Cancelled',
  completed: 'Completed',
  'entered-in-error': 'Entered in error',
  stopped: 'Stopped',
  draft: 'Draft',
  unknown: 'Unknown',
  final: 'Final',
  preliminary: 'Preliminary',
  amended: 'Amended',
  corrected: 'Corrected',
  registered: 'Registered',
  planned: 'Planned',
  arrived: 'Arrived',
  triaged: 'Triaged',
  'in-progress': 'In progress',
  onleave: 'On leave',
  finished: 'Finished',
  confirmed: 'Confirmed',
  unconfirmed: 'Unconfirmed',
  provisional: 'Provisional',
  differential: 'Differential',
  refuted: 'Refuted',
  'not-done': 'Not done',
};

/** A status (a code string or a CodeableConcept) in words: "on-hold" → "On hold". */
export function statusWords(status: unknown): string {
  const code = typeof status === 'string' ? status : codeOf(status);
  if (!code) return typeof status === 'object' && status !== null ? conceptText(status) : '—';
  const known = STATUS_WORDS[code];
  if (known) return known;
  const words = code.replace(/[-_]/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const SEX_WORDS: Record<string, string> = { male: 'Male', female: 'Female', other: 'Other', unknown: 'Sex unknown' };

export function sexWords(gender: string | null | undefined): string {
  return gender ? (SEX_WORDS[gender] ?? gender) : 'Sex not recorded';
}

/** HL7 v3 ActCode encounter classes in plain words. */
const ENCOUNTER_CLASS_WORDS: Record<string, string> = {
  AMB: 'Outpatient visit',
  IMP: 'Inpatient stay',
  ACUTE: 'Inpatient stay (acute)',
  NONAC: 'Inpatient stay (non-acute)',
  EMER: 'Emergency',
  HH: 'Home visit',
  VR: 'Virtual',
  FLD: 'Field visit',
  OBSENC: 'Observation stay',
  PRENC: 'Pre-admission',
  SS: 'Day surgery',
};

export function encounterClassWords(cls: unknown): string {
  const c = cls as { code?: unknown; display?: unknown } | null | undefined;
  const code = typeof c?.code === 'string' ? c.code : null;
  if (code && ENCOUNTER_CLASS_WORDS[code]) return ENCOUNTER_CLASS_WORDS[code];
  if (typeof c?.display === 'string' && c.display) return cleanDisplay(c.display.charAt(0).toUpperCase() + c.display.slice(1));
  return code ? 'Other encounter' : '—';
}

/** Short clinical labels for the LOINC codes of common vitals and labs (else the record's own text). */
const SHORT_LABELS: Record<string, string> = {
  '85354-9': 'Blood pressure',
  '55284-4': 'Blood pressure',
  '8480-6': 'Systolic BP',
  '8462-4': 'Diastolic BP',
  '8867-4': 'Heart rate',
  '8310-5': 'Temperature',
  '8331-1': 'Temperature (oral)',
  '9279-1': 'Respiratory rate',
  '59408-5': 'SpO₂',
  '2708-6': 'SpO₂',
  '29463-7': 'Weight',
  '8302-2': 'Height',
  '39156-5': 'BMI',
  '72514-3': 'Pain score',
  '2823-3': 'Potassium',
  '6298-4': 'Potassium',
  '2951-2': 'Sodium',
  '2947-0': 'Sodium',
  '2075-0': 'Chloride',
  '2069-3': 'Chloride',
  '2028-9': 'CO₂ (bicarbonate)',
  '20565-8': 'CO₂ (bicarbonate)',
  '2160-0': 'Creatinine',
  '38483-4': 'Creatinine',
  '6299-2': 'Urea nitrogen (BUN)',
  '3094-0': 'Urea nitrogen (BUN)',
  '33914-3': 'eGFR',
  '2524-7': 'Lactate',
  '32693-4': 'Lactate',
  '2345-7': 'Glucose',
  '2339-0': 'Glucose',
  '4548-4': 'HbA1c',
  '17861-6': 'Calcium',
  '49765-1': 'Calcium',
  '6690-2': 'White cells (WBC)',
  '26464-8': 'White cells (WBC)',
  '789-8': 'Red cells (RBC)',
  '718-7': 'Hemoglobin',
  '4544-3': 'Hematocrit',
  '777-3': 'Platelets',
  '26515-7': 'Platelets',
  '787-2': 'MCV',
  '785-6': 'MCH',
  '786-4': 'MCHC',
  '21000-5': 'RDW',
  '2093-3': 'Cholesterol',
  '2571-8': 'Triglycerides',
  '18262-6': 'LDL cholesterol',
  '2085-9': 'HDL cholesterol',
  '1742-6': 'ALT',
  '1920-8': 'AST',
  '1975-2': 'Bilirubin',
  '6768-6': 'Alkaline phosphatase',
  '2885-2': 'Total protein',
  '1751-7': 'Albumin',
  '94500-6': 'SARS-CoV-2 RNA (PCR)',
  '6301-6': 'INR',
  '5902-2': 'Prothrombin time',
  '1988-5': 'CRP',
  '33959-8': 'Procalcitonin',
  '10839-9': 'Troponin I',
  '100822-6': 'Code status',
};

/** The short label of an Observation's code: a known clinical label, else the record's text without tags or LOINC brackets. */
export function shortLabel(code: unknown): string {
  for (const c of codesOf(code)) {
    const known = SHORT_LABELS[c];
    if (known) return known;
  }
  const text = conceptText(code);
  // LOINC long names carry the property in brackets ("Potassium [Moles/volume] in Serum"): drop it.
  return text.replace(/\s*\[[^\]]*\]\s*/g, ' ').replace(/\s+/g, ' ').trim() || text;
}

const PERIOD_UNITS: Record<string, [string, string]> = {
  s: ['second', 'seconds'],
  min: ['minute', 'minutes'],
  h: ['hour', 'hours'],
  d: ['day', 'days'],
  wk: ['week', 'weeks'],
  mo: ['month', 'months'],
  a: ['year', 'years'],
};

const TIMES = ['', 'once', 'twice', 'three times', 'four times'];
const PER_UNIT: Record<string, string> = { d: 'daily', wk: 'weekly', mo: 'monthly', h: 'hourly', a: 'yearly' };

/** A timing's repeat in words: "once daily", "twice daily", "every 8 hours". */
export function frequencyText(timing: unknown): string {
  const repeat = (timing as { repeat?: Json } | null | undefined)?.repeat;
  if (!repeat) {
    const code = (timing as { code?: unknown } | null | undefined)?.code;
    return code ? conceptText(code) : '';
  }
  const f = typeof repeat.frequency === 'number' ? repeat.frequency : 1;
  const p = typeof repeat.period === 'number' ? repeat.period : null;
  const unit = typeof repeat.periodUnit === 'string' ? repeat.periodUnit : null;
  if (p === null || unit === null || !PERIOD_UNITS[unit]) return '';
  const [one, many] = PERIOD_UNITS[unit];
  if (p === 1 && f >= 1 && f <= 4 && PER_UNIT[unit]) return `${TIMES[f]} ${PER_UNIT[unit]}`;
  if (p === 1) return `${f} times per ${one}`;
  if (f === 1) return `every ${numberText(p)} ${many}`;
  return `${f} times every ${numberText(p)} ${many}`;
}

/** A route in words: "Oral route (qualifier value)" → "Oral". */
export function routeText(route: unknown): string {
  if (!route) return '';
  const text = conceptText(route);
  if (text === '—') return '';
  return text.replace(/\s+route$/i, '');
}

export interface DosageParts {
  /** The dosage text as the prescriber wrote it, when the record has it. */
  text: string;
  dose: string;
  route: string;
  frequency: string;
  asNeeded: boolean;
}

/** The first dosage instruction of a MedicationRequest, in parts. */
export function dosageOf(request: FhirResource): DosageParts | null {
  const list = (request as Json).dosageInstruction;
  if (!Array.isArray(list) || list.length === 0) return null;
  const d = list[0] as Json;
  const doseQuantity = field(d, 'doseAndRate.doseQuantity');
  const doseRange = field(d, 'doseAndRate.doseRange') as { low?: unknown; high?: unknown } | undefined;
  const dose = doseQuantity ? quantityText(doseQuantity) : doseRange ? `${quantityText(doseRange.low)} to ${quantityText(doseRange.high)}` : '';
  return {
    text: typeof d.text === 'string' ? d.text : '',
    dose: dose === '—' ? '' : dose,
    route: routeText(d.route),
    frequency: frequencyText(d.timing),
    asNeeded: d.asNeededBoolean === true || d.asNeededCodeableConcept !== undefined,
  };
}

/** A reference's display ("Dr. Amara Osei"), or ''. */
export function referenceDisplay(ref: unknown): string {
  const display = (ref as { display?: unknown } | null | undefined)?.display;
  return typeof display === 'string' ? display : '';
}
