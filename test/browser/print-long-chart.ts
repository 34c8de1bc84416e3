/**
 * A synthetic long chart for the print tests and the print benchmark: one
 * patient with problems, allergies, medications, many vital signs and many
 * signed progress notes, so the printed summary runs over several pages.
 * Synthetic only (made-up names, no real PHI); ids are predictable.
 */
import { noteComposition } from '../../shared/charting';

export interface LongChartCounts {
  conditions: number;
  allergies: number;
  medications: number;
  vitals: number;
  notes: number;
}

/** About 200 resources: the benchmark's chart. */
export const CHART_200: LongChartCounts = { conditions: 12, allergies: 4, medications: 14, vitals: 140, notes: 29 };

const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';

const VITALS = [
  { code: '8867-4', text: 'Heart rate', unit: '/min', value: (i: number) => 62 + (i % 30) },
  { code: '9279-1', text: 'Respiratory rate', unit: '/min', value: (i: number) => 12 + (i % 8) },
  { code: '8310-5', text: 'Body temperature', unit: 'Cel', value: (i: number) => 36.4 + (i % 10) / 10 },
  { code: '59408-5', text: 'Oxygen saturation', unit: '%', value: (i: number) => 93 + (i % 6) },
];

const NOTE_TEXT =
  'Patient seen on the ward round. Comfortable at rest, eating and drinking. Observations stable overnight; ' +
  'no new complaints. Wound clean and dry. Mobilising with the physiotherapist. Plan discussed with the patient, who agrees.';

export function longChartBundle(patientId: string, family: string, counts: LongChartCounts): Record<string, unknown> {
  const subject = { reference: `Patient/${patientId}` };
  const entry: Array<{ fullUrl: string; resource: Record<string, unknown>; request: { method: string; url: string } }> = [];
  const add = (resource: Record<string, unknown>) =>
    entry.push({ fullUrl: `urn:uuid:${String(resource.id)}`, resource, request: { method: 'PUT', url: `${String(resource.resourceType)}/${String(resource.id)}` } });
  add({
    resourceType: 'Patient',
    id: patientId,
    name: [{ use: 'official', family, given: ['Printa'] }],
    identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, value: `7${patientId.replace(/\D/g, '').padStart(6, '0')}` }],
    gender: 'female',
    birthDate: '1958-03-14',
  });
  const base = Date.UTC(2026, 10, 20, 8, 0, 0);
  for (let i = 0; i < counts.conditions; i++) {
    add({
      resourceType: 'Condition',
      id: `${patientId}-c${i}`,
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: i % 3 === 0 ? 'resolved' : 'active' }] },
      code: { coding: [{ system: SNOMED, code: `${38341003 + i}` }], text: `Synthetic problem number ${i + 1}` },
      subject,
      onsetDateTime: new Date(base - (i + 1) * 90 * 86400_000).toISOString(),
    });
  }
  for (let i = 0; i < counts.allergies; i++) {
    add({
      resourceType: 'AllergyIntolerance',
      id: `${patientId}-a${i}`,
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
      criticality: i === 0 ? 'high' : 'low',
      code: { text: `Synthetic allergen ${i + 1}` },
      patient: subject,
      reaction: [{ manifestation: [{ text: i === 0 ? 'Anaphylaxis' : 'Rash' }], severity: i === 0 ? 'severe' : 'mild' }],
    });
  }
  for (let i = 0; i < counts.medications; i++) {
    add({
      resourceType: 'MedicationRequest',
      id: `${patientId}-m${i}`,
      status: i % 4 === 0 ? 'stopped' : 'active',
      intent: 'order',
      medicationCodeableConcept: { text: `Synthetic medicine ${i + 1} 10 mg tablet` },
      subject,
      authoredOn: new Date(base - i * 7 * 86400_000).toISOString(),
      dosageInstruction: [{ text: 'One tablet in the morning with food', timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } } }],
    });
  }
  for (let i = 0; i < counts.vitals; i++) {
    const v = VITALS[i % VITALS.length]!;
    add({
      resourceType: 'Observation',
      id: `${patientId}-v${i}`,
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: LOINC, code: v.code, display: v.text }], text: v.text },
      subject,
      effectiveDateTime: new Date(base - Math.floor(i / VITALS.length) * 4 * 3600_000).toISOString(),
      valueQuantity: { value: +v.value(i).toFixed(1), unit: v.unit, system: 'http://unitsofmeasure.org', code: v.unit },
    });
  }
  for (let i = 0; i < counts.notes; i++) {
    const note = noteComposition(
      {
        patientId,
        noteId: `${patientId}-n${i}`,
        subjective: `Day ${counts.notes - i}. ${NOTE_TEXT}`,
        objective: `Vital signs within the ranges charted. ${NOTE_TEXT}`,
        assessment: 'Improving. Synthetic assessment text for a long printed chart.',
        plan: 'Continue current treatment. Review tomorrow on the ward round.',
      },
      'Dr Synthetic Author',
      new Date(base - i * 24 * 3600_000).toISOString(),
      'final',
    );
    add(note as unknown as Record<string, unknown>);
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

export function resourceCount(counts: LongChartCounts): number {
  return 1 + counts.conditions + counts.allergies + counts.medications + counts.vitals + counts.notes;
}
