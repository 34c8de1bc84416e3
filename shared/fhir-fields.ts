/**
 * Reads the few FHIR fields the cache indexes on: which patient a resource
 * belongs to, the date it sorts by in a chart, and a patient's display name,
 * MRN and search terms. Pure functions over parsed resources; they never
 * throw on odd FHIR (real systems send odd FHIR) and never log values.
 */

type Json = Record<string, unknown>;

function obj(v: unknown): Json | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

/** Resolves a Patient reference: "Patient/x", ".../Patient/x", or a bundle-local "urn:uuid:x". */
export function referencedPatientId(reference: string, localPatients: ReadonlyMap<string, string>): string | null {
  const local = localPatients.get(reference);
  if (local) return local;
  const match = reference.match(/(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/);
  return match ? match[1]! : null;
}

const PATIENT_LINK_FIELDS = ['subject', 'patient', 'beneficiary'] as const;

export function patientIdOf(
  resourceType: string,
  id: string,
  resource: Json,
  localPatients: ReadonlyMap<string, string>,
): string | null {
  if (resourceType === 'Patient') return id;
  for (const field of PATIENT_LINK_FIELDS) {
    const ref = str(obj(resource[field])?.reference);
    if (ref) {
      const patientId = referencedPatientId(ref, localPatients);
      if (patientId) return patientId;
    }
  }
  return null;
}

/** Candidate date fields per type, first present wins; everything falls back to meta.lastUpdated. */
const SORT_DATE_FIELDS: Record<string, readonly string[]> = {
  Observation: ['effectiveDateTime', 'effectivePeriod.start', 'effectiveInstant', 'issued'],
  Encounter: ['period.start'],
  Condition: ['recordedDate', 'onsetDateTime', 'onsetPeriod.start'],
  AllergyIntolerance: ['recordedDate', 'onsetDateTime'],
  MedicationRequest: ['authoredOn'],
  Immunization: ['occurrenceDateTime', 'recorded'],
  Procedure: ['performedDateTime', 'performedPeriod.start'],
  DiagnosticReport: ['effectiveDateTime', 'effectivePeriod.start', 'issued'],
  CarePlan: ['period.start', 'created'],
  DocumentReference: ['date', 'context.period.start'],
  Composition: ['date'],
  Claim: ['created', 'billablePeriod.start'],
  ExplanationOfBenefit: ['created', 'billablePeriod.start'],
  CareTeam: ['period.start'],
};

function path(resource: Json, dotted: string): unknown {
  let v: unknown = resource;
  for (const part of dotted.split('.')) v = obj(v)?.[part];
  return v;
}

/** A sortable UTC timestamp for charts (newest first), or null. */
export function sortDateOf(resourceType: string, resource: Json): string | null {
  for (const field of [...(SORT_DATE_FIELDS[resourceType] ?? []), 'meta.lastUpdated']) {
    const raw = str(path(resource, field));
    if (!raw) continue;
    const ms = Date.parse(raw);
    return Number.isNaN(ms) ? raw : new Date(ms).toISOString();
  }
  return null;
}

export interface PatientIndexFields {
  displayName: string;
  birthDate: string | null;
  gender: string | null;
  mrn: string | null;
  terms: string[];
}

function humanName(patient: Json): { given: string[]; family: string | null } {
  const names = arr(patient.name).map(obj).filter((n): n is Json => n !== null);
  const chosen = names.find((n) => n.use === 'official') ?? names.find((n) => n.use !== 'old') ?? names[0];
  if (!chosen) return { given: [], family: null };
  return { given: arr(chosen.given).map(str).filter((g): g is string => g !== null), family: str(chosen.family) };
}

function isMrn(identifier: Json): boolean {
  return arr(obj(identifier.type)?.coding).some((c) => obj(c)?.code === 'MR');
}

/**
 * Splits a name or query into lower-case search tokens. The text is first
 * NFKC-normalised (full-width digits and letters from an IME become ASCII),
 * format characters (zero-width spaces, BOM, directional marks) are removed
 * and control characters (a pasted NUL, tab, newline) separate tokens.
 */
export function searchTokens(text: string): string[] {
  return text
    .normalize('NFKC')
    .replace(/\p{Cf}/gu, '')
    .replace(/\p{Cc}/gu, ' ')
    .toLowerCase()
    .split(/[\s,]+/)
    .filter((t) => t.length > 0);
}

const MONTHS: Record<string, number> = {
  jan: 1, january: 1, feb: 2, february: 2, mar: 3, march: 3, apr: 4, april: 4, may: 5, jun: 6, june: 6,
  jul: 7, july: 7, aug: 8, august: 8, sep: 9, sept: 9, september: 9, oct: 10, october: 10, nov: 11, november: 11, dec: 12, december: 12,
};

/** YYYY-MM-DD when (year, month, day) is a real calendar date, else null. */
function isoDate(year: number, month: number, day: number): string | null {
  if (month < 1 || month > 12 || day < 1 || day > 31) return null;
  const d = new Date(Date.UTC(year, month - 1, day));
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return null;
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

function monthOf(token: string): number | null {
  return MONTHS[token.replace(/\.$/, '')] ?? null;
}

function dayOf(token: string): number | null {
  return /^\d{1,2}(?:\.|st|nd|rd|th)?$/.test(token) ? parseInt(token, 10) : null;
}

/**
 * A query split into search terms, each a list of alternatives (a patient
 * matches a term when one alternative starts one of their index terms).
 * Birth dates are indexed as YYYY-MM-DD; a date typed another way is read
 * here into that form: DD.MM.YYYY; DD/MM/YYYY and MM/DD/YYYY (both
 * readings of an ambiguous one); D Mon YYYY and Mon D YYYY with English
 * month names or abbreviations. A year alone is already a prefix of the
 * indexed date. Anything that is not a real date stays a plain word.
 */
export function searchQueryTerms(query: string): string[][] {
  const tokens = searchTokens(query);
  const terms: string[][] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const numeric = t.match(/^(\d{1,2})([./])(\d{1,2})\2(\d{4})$/);
    if (numeric) {
      const [a, sep, b, y] = [parseInt(numeric[1]!, 10), numeric[2], parseInt(numeric[3]!, 10), parseInt(numeric[4]!, 10)];
      const readings = new Set([isoDate(y, b, a), sep === '/' ? isoDate(y, a, b) : null].filter((d): d is string => d !== null));
      terms.push(readings.size > 0 ? [...readings] : [t]);
      continue;
    }
    const [n1, n2] = [tokens[i + 1], tokens[i + 2]];
    if (n1 !== undefined && n2 !== undefined && /^\d{4}$/.test(n2)) {
      // D Mon YYYY, or Mon D YYYY
      const dayFirst = dayOf(t) !== null && monthOf(n1) !== null ? isoDate(parseInt(n2, 10), monthOf(n1)!, dayOf(t)!) : null;
      const monthFirst = monthOf(t) !== null && dayOf(n1) !== null ? isoDate(parseInt(n2, 10), monthOf(t)!, dayOf(n1)!) : null;
      const iso = dayFirst ?? monthFirst;
      if (iso) {
        terms.push([iso]);
        i += 2;
        continue;
      }
    }
    terms.push([t]);
  }
  return terms;
}

export function patientIndexFields(patient: Json): PatientIndexFields {
  const { given, family } = humanName(patient);
  const displayName = [...given, family].filter(Boolean).join(' ') || '(no name recorded)';
  const mrn =
    arr(patient.identifier)
      .map(obj)
      .filter((i): i is Json => i !== null && isMrn(i))
      .map((i) => str(i.value))
      .find((v): v is string => v !== null) ?? null;
  const birthDate = str(patient.birthDate);
  const terms = new Set<string>();
  for (const name of arr(patient.name).map(obj)) {
    if (!name) continue;
    for (const part of [...arr(name.given), name.family, name.text]) {
      const s = str(part);
      if (s) for (const token of searchTokens(s)) terms.add(token);
    }
  }
  if (mrn) terms.add(mrn.toLowerCase());
  if (birthDate) terms.add(birthDate.toLowerCase());
  return { displayName, birthDate, gender: str(patient.gender), mrn, terms: [...terms] };
}
