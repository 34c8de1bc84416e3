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

/** Splits a name or query into lower-case search tokens. */
export function searchTokens(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[\s,]+/)
    .filter((t) => t.length > 0);
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
