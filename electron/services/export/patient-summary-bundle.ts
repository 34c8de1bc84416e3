/**
 * A patient's summary as a FHIR R4 document Bundle, in the shape of the HL7
 * International Patient Summary where the cache has the data: a Composition
 * (LOINC 60591-5) with sections for problems, medications and allergies
 * (always present, with an emptyReason when the cache holds none),
 * immunizations, procedures, vital signs, results and signed notes; the
 * Patient, the exporting clinician as a Practitioner, and the resources the
 * sections name, each under a urn:uuid fullUrl with the references between
 * them rewritten. The Bundle and the Composition are marked restricted (v3
 * Confidentiality R); the Composition names the exporting clinician and the
 * time. Pure: the rows come through a SummaryReader, which the cache store
 * answers inside the transaction that audits the read
 * (../store/operations/export-reads.ts). Never hold SQL here, never include billing resources (Claim, ExplanationOfBenefit) or a
 * draft note, and never claim IPS conformance in meta.profile (the cache
 * does not hold everything IPS requires).
 */
import { randomUUID } from 'node:crypto';
import type { FhirResource } from '../../../shared/contract';
import { userIdentifier } from '../../../shared/balp-audit-event';

export const LOINC = 'http://loinc.org';
export const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const EMPTY_REASON_SYSTEM = 'http://terminology.hl7.org/CodeSystem/list-empty-reason';
const XHTML = 'http://www.w3.org/1999/xhtml';

type Json = Record<string, unknown>;

/** Which rows a section reads: a resource type, optionally narrowed by one of the store's named filters on its JSON. */
export interface SectionSource {
  type: string;
  filter?: SectionFilter;
}

/** The narrowing a section may ask for (the store holds the condition each names). */
export type SectionFilter = 'vital-signs' | 'not-vital-signs' | 'signed';

/** What the builder reads, newest first; answered by the store inside the auditing transaction. */
export interface SummaryReader {
  /** The Patient resource's JSON, or undefined when the patient is not in the cache. */
  patientJson(patientId: string): string | undefined;
  /** At most a chart's worth of the patient's resources of the source's type, newest first. */
  sectionRows(patientId: string, source: SectionSource): Array<{ id: string; json: string }>;
}

interface SectionSpec {
  title: string;
  code: string;
  display: string;
  sources: SectionSource[];
  /** IPS requires the section: present with an emptyReason when there is nothing. */
  required?: true;
}

export const SUMMARY_SECTIONS: readonly SectionSpec[] = [
  { title: 'Problems', code: '11450-4', display: 'Problem list - Reported', sources: [{ type: 'Condition' }], required: true },
  {
    title: 'Medications',
    code: '10160-0',
    display: 'History of Medication use Narrative',
    sources: [{ type: 'MedicationStatement' }, { type: 'MedicationRequest' }],
    required: true,
  },
  { title: 'Allergies and intolerances', code: '48765-2', display: 'Allergies and adverse reactions Document', sources: [{ type: 'AllergyIntolerance' }], required: true },
  { title: 'Immunizations', code: '11369-6', display: 'History of Immunization Narrative', sources: [{ type: 'Immunization' }] },
  { title: 'Procedures', code: '47519-4', display: 'History of Procedures Document', sources: [{ type: 'Procedure' }] },
  { title: 'Vital signs', code: '8716-3', display: 'Vital signs', sources: [{ type: 'Observation', filter: 'vital-signs' }] },
  {
    title: 'Results',
    code: '30954-2',
    display: 'Relevant diagnostic tests/laboratory data Narrative',
    sources: [{ type: 'Observation', filter: 'not-vital-signs' }, { type: 'DiagnosticReport' }],
  },
  // Signed notes and addenda only: a draft is not part of the record.
  { title: 'Notes', code: '11506-3', display: 'Progress note', sources: [{ type: 'Composition', filter: 'signed' }] },
];

export interface SummaryAuthor {
  /** The clinician id (the audit actor). */
  actor: string;
  /** The display name, where known. */
  name: string | null;
}

export interface PatientSummaryBundle {
  bundle: Json;
  /** `Type/id` of every cache resource read into it (the audit names them). */
  read: string[];
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function codeableText(value: unknown): string | null {
  if (!value || typeof value !== 'object') return null;
  const c = value as { text?: unknown; coding?: Array<{ display?: unknown; code?: unknown }> };
  if (typeof c.text === 'string' && c.text) return c.text;
  const coding = c.coding?.find((k) => typeof k.display === 'string' && k.display);
  return coding ? String(coding.display) : null;
}

/** One line of a section's narrative: what the resource is, in its own words. */
function describe(resource: Json): string {
  const what =
    codeableText(resource.code) ??
    codeableText(resource.medicationCodeableConcept) ??
    codeableText(resource.vaccineCode) ??
    codeableText(resource.type) ??
    (typeof resource.title === 'string' ? resource.title : null) ??
    String(resource.resourceType);
  const q = resource.valueQuantity as { value?: unknown; unit?: unknown } | undefined;
  const value = q && typeof q.value === 'number' ? `: ${q.value}${typeof q.unit === 'string' ? ` ${q.unit}` : ''}` : '';
  const when = [resource.effectiveDateTime, resource.onsetDateTime, resource.authoredOn, resource.occurrenceDateTime, resource.date, resource.recordedDate].find(
    (d): d is string => typeof d === 'string',
  );
  return `${what}${value}${when ? ` (${when.slice(0, 10)})` : ''}`;
}

function narrative(lines: string[]): { status: 'generated'; div: string } {
  const body = lines.length === 0 ? '<p>No information in this cache.</p>' : `<ul>${lines.map((l) => `<li>${escapeXml(l)}</li>`).join('')}</ul>`;
  return { status: 'generated', div: `<div xmlns="${XHTML}">${body}</div>` };
}

/** Every `reference` naming a resource of the Bundle points at its fullUrl instead (references elsewhere stay as they are). */
function rewriteReferences(value: unknown, urls: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteReferences(v, urls));
  if (!value || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [key, v] of Object.entries(value as Json)) {
    out[key] = key === 'reference' && typeof v === 'string' && urls.has(v) ? urls.get(v) : rewriteReferences(v, urls);
  }
  return out;
}

/**
 * Reads the patient's summary from the cache and builds the Bundle, or null
 * when the patient is not in the cache. Run inside the auditing transaction (the store's).
 */
export function buildPatientSummary(reader: SummaryReader, patientId: string, author: SummaryAuthor, now: Date): PatientSummaryBundle | null {
  const patientJson = reader.patientJson(patientId);
  if (patientJson === undefined) return null;
  const at = now.toISOString();
  const urls = new Map<string, string>();
  const urlOf = (ref: string) => {
    let url = urls.get(ref);
    if (!url) {
      url = `urn:uuid:${randomUUID()}`;
      urls.set(ref, url);
    }
    return url;
  };
  const patient = JSON.parse(patientJson) as FhirResource;
  const patientRef = `Patient/${patientId}`;
  const read = [patientRef];
  const entries: Array<{ ref: string; resource: Json }> = [{ ref: patientRef, resource: patient }];
  urlOf(patientRef);

  const sections = SUMMARY_SECTIONS.flatMap((spec) => {
    const items: Json[] = [];
    for (const source of spec.sources) {
      for (const row of reader.sectionRows(patientId, source)) {
        const ref = `${source.type}/${row.id}`;
        if (urls.has(ref)) continue;
        const resource = JSON.parse(row.json) as Json;
        read.push(ref);
        urlOf(ref);
        entries.push({ ref, resource });
        items.push(resource);
      }
    }
    if (items.length === 0 && !spec.required) return [];
    const section: Json = {
      title: spec.title,
      code: { coding: [{ system: LOINC, code: spec.code, display: spec.display }] },
      text: narrative(items.map(describe)),
    };
    if (items.length > 0) section.entry = items.map((r) => ({ reference: `${String(r.resourceType)}/${String(r.id)}` }));
    else section.emptyReason = { coding: [{ system: EMPTY_REASON_SYSTEM, code: 'unavailable', display: 'Unavailable' }] };
    return [section];
  });

  const practitionerId = randomUUID();
  const practitionerRef = `Practitioner/${practitionerId}`;
  urlOf(practitionerRef);
  const authorName = author.name ?? author.actor;
  const practitioner: Json = { resourceType: 'Practitioner', id: practitionerId, identifier: [userIdentifier(author.actor)], name: [{ text: authorName }] };
  const restricted = { system: CONFIDENTIALITY_SYSTEM, code: 'R', display: 'restricted' };
  const compositionId = randomUUID();
  const compositionRef = `Composition/${compositionId}`;
  urlOf(compositionRef);
  const composition: Json = {
    resourceType: 'Composition',
    id: compositionId,
    meta: { security: [restricted] },
    status: 'final',
    type: { coding: [{ system: LOINC, code: '60591-5', display: 'Patient summary Document' }] },
    subject: { reference: patientRef },
    date: at,
    author: [{ reference: practitionerRef, display: authorName }],
    title: 'Patient summary (confidential)',
    confidentiality: 'R',
    section: sections,
  };
  const ordered = [{ ref: compositionRef, resource: composition }, entries[0]!, { ref: practitionerRef, resource: practitioner }, ...entries.slice(1)];
  const bundleId = randomUUID();
  const bundle: Json = {
    resourceType: 'Bundle',
    id: bundleId,
    meta: { lastUpdated: at, security: [restricted] },
    identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${bundleId}` },
    type: 'document',
    timestamp: at,
    entry: ordered.map(({ ref, resource }) => ({ fullUrl: urls.get(ref)!, resource: rewriteReferences(resource, urls) })),
  };
  return { bundle, read };
}
