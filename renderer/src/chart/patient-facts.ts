/**
 * The facts the patient banner must carry, read from the chart: current
 * allergies in a line each ("Penicillin (high criticality: anaphylaxis,
 * severe)"), whether "no known allergies" was recorded, and the code status
 * (the newest resuscitation-orders Observation). Pure. Never treats "no
 * allergy record" as "no known allergies": they are different statements.
 */
import type { FhirResource } from '../../../shared/contract';
import { CODE_STATUS_CODES } from '../../../shared/summary-codes';
import { codesOf, conceptText, observationDate, observationValue, parseFhirDate, statusText } from '../fhir-format';

type Json = Record<string, unknown>;

/** SNOMED "No known allergy" and its drug/food/environment variants. */
const NO_KNOWN_ALLERGY = ['716186003', '409137002', '429625007', '428607008', '428197003'];

function lowerFirst(text: string): string {
  // "Anaphylaxis" reads as "anaphylaxis" mid-sentence; "ACE inhibitor cough" keeps its capitals.
  return /^[A-Z][a-z]/.test(text) ? text.charAt(0).toLowerCase() + text.slice(1) : text;
}

function isCurrent(a: FhirResource): boolean {
  const clinical = statusText(a.clinicalStatus);
  const verification = statusText(a.verificationStatus);
  return clinical !== 'inactive' && clinical !== 'resolved' && verification !== 'refuted' && verification !== 'entered-in-error';
}

export interface AllergyFacts {
  substance: string;
  criticality: string;
  reactions: string[];
  severity: string;
  /** One line for the banner: "Penicillin (high criticality: anaphylaxis, severe)". */
  line: string;
}

const CRITICALITY: Record<string, string> = { high: 'high criticality', low: 'low criticality', 'unable-to-assess': 'criticality not assessed' };

export function allergyFacts(a: FhirResource): AllergyFacts {
  const substance = conceptText(a.code);
  const criticality = typeof a.criticality === 'string' ? (CRITICALITY[a.criticality] ?? a.criticality) : '';
  const reactions: string[] = [];
  let severity = '';
  for (const r of Array.isArray(a.reaction) ? (a.reaction as Json[]) : []) {
    for (const m of Array.isArray(r.manifestation) ? r.manifestation : []) {
      const text = conceptText(m);
      if (text !== '—' && !reactions.includes(text)) reactions.push(text);
    }
    if (typeof r.severity === 'string' && (severity === '' || r.severity === 'severe' || (r.severity === 'moderate' && severity === 'mild'))) severity = r.severity;
  }
  const detail = [criticality, reactions.map(lowerFirst).join(', '), severity].filter(Boolean);
  const inner = criticality && detail.length > 1 ? `${criticality}: ${detail.slice(1).join(', ')}` : detail.join(', ');
  return { substance, criticality, reactions, severity, line: inner ? `${substance} (${inner})` : substance };
}

export interface AllergyStatus {
  kind: 'allergies' | 'none-known' | 'not-recorded';
  allergies: AllergyFacts[];
}

export function allergyStatus(items: FhirResource[]): AllergyStatus {
  const current = items.filter(isCurrent);
  const real = current.filter((a) => !codesOf(a.code).some((c) => NO_KNOWN_ALLERGY.includes(c)));
  if (real.length > 0) {
    // High criticality first: the banner may cut the line short.
    const rank = (f: AllergyFacts) => (f.criticality === 'high criticality' ? 0 : f.severity === 'severe' ? 1 : 2);
    return { kind: 'allergies', allergies: real.map(allergyFacts).sort((x, y) => rank(x) - rank(y)) };
  }
  return { kind: current.length > 0 ? 'none-known' : 'not-recorded', allergies: [] };
}

export function isCodeStatus(obs: FhirResource): boolean {
  return codesOf(obs.code).some((c) => CODE_STATUS_CODES.includes(c));
}

/** The newest code status recorded: its value text and date, or null. */
export function codeStatus(observations: FhirResource[]): { text: string; when: unknown } | null {
  const found = observations
    .filter((o) => isCodeStatus(o) && o.status !== 'entered-in-error')
    .sort((a, b) => (parseFhirDate(observationDate(b))?.getTime() ?? 0) - (parseFhirDate(observationDate(a))?.getTime() ?? 0))[0];
  if (!found) return null;
  const text = observationValue(found);
  return text === '—' ? null : { text, when: observationDate(found) };
}
