/**
 * Made-up patients with long histories (no real PHI). The first has a long
 * observation history: a code
 * status recorded first, then more laboratory results than a chart sends,
 * heart rates whose two newest say nothing (cancelled, entered in error), a
 * blood pressure whose LOINC code is its second coding, a height with two
 * codes (one the summary shows), an SpO2 with two codes the summary shows,
 * and three encounters. The second has more problems and medication requests than a
 * chart's window. For the tests of what chart.open sends (latest
 * observations, whole safety lists) and the Results tab's history.
 */
export const PATIENT = 'latest-obs-1';
/** Glucose results after the code status: more than CHART_ITEMS_PER_TYPE. */
export const LABS = 250;
/** Every observation of the patient. */
export const OBSERVATIONS = LABS + 8;
/** Encounters of the first patient. */
export const ENCOUNTERS = 3;

type Json = Record<string, unknown>;
const day = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 86_400_000).toISOString();
const LABORATORY = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }];
const VITAL_SIGNS = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }];
const loinc = (code: string, display: string) => ({ system: 'http://loinc.org', code, display });

function observation(id: string, date: string, coding: Json[], extra: Json = {}): Json {
  return { resourceType: 'Observation', id, status: 'final', code: { coding, text: String(coding[0]?.display ?? id) }, subject: { reference: `urn:uuid:${PATIENT}` }, effectiveDateTime: date, ...extra };
}

/** The patient's bundle (batch, as a FHIR server exports one): a code status on day 0, then 250 glucose results, heart rates whose newest two say nothing, a BP coded second, a height with two codes. */
export function longHistoryBundle(): string {
  const resources: Json[] = [
    { resourceType: 'Patient', id: PATIENT, name: [{ family: 'Latestobs', given: ['Test'] }], birthDate: '1950-02-03', gender: 'female' },
    observation('code-status', day(0), [loinc('100822-6', 'Cardiopulmonary resuscitation orders')], { valueCodeableConcept: { text: 'Do not resuscitate' } }),
    ...Array.from({ length: LABS }, (_, i) =>
      observation(`glucose-${i}`, day(10 + i), [loinc('2339-0', 'Glucose')], { category: LABORATORY, valueQuantity: { value: 90 + (i % 30), unit: 'mg/dL' } }),
    ),
    observation('hr-usable', day(300), [loinc('8867-4', 'Heart rate')], { category: VITAL_SIGNS, valueQuantity: { value: 72, unit: '/min' } }),
    observation('hr-cancelled', day(301), [loinc('8867-4', 'Heart rate')], { category: VITAL_SIGNS, status: 'cancelled', valueQuantity: { value: 999, unit: '/min' } }),
    observation('hr-error', day(302), [loinc('8867-4', 'Heart rate')], { category: VITAL_SIGNS, status: 'entered-in-error', valueQuantity: { value: 250, unit: '/min' } }),
    observation('bp-local-first', day(200), [{ system: 'urn:local', code: 'BP-1', display: 'Blood pressure' }, loinc('85354-9', 'Blood pressure panel')]),
    observation('bp-older', day(150), [loinc('85354-9', 'Blood pressure panel')]),
    observation('height-two-codes', day(100), [loinc('8302-2', 'Body height'), loinc('8306-3', 'Body height lying')]),
    observation('spo2-two-codes', day(250), [loinc('59408-5', 'Oxygen saturation by pulse oximetry'), loinc('2708-6', 'Oxygen saturation in arterial blood')], {
      category: VITAL_SIGNS,
      valueQuantity: { value: 97, unit: '%' },
    }),
    ...Array.from({ length: ENCOUNTERS }, (_, i) => ({
      resourceType: 'Encounter', id: `encounter-${i}`, status: 'finished', subject: { reference: `urn:uuid:${PATIENT}` },
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, period: { start: day(20 * i), end: day(20 * i) },
    })),
  ];
  return JSON.stringify({
    resourceType: 'Bundle',
    type: 'batch',
    entry: resources.map((resource) => ({ fullUrl: `urn:uuid:${String(resource.id)}`, resource, request: { method: 'POST', url: resource.resourceType } })),
  });
}


/** A second made-up patient: more allergies and problems than a chart's window, and one active medication older than 250 completed ones. */
export const SAFETY_PATIENT = 'safety-lists-1';
export const PROBLEMS = 230;
export const COMPLETED_MEDICATIONS = 250;
export const ALLERGIES = 205;

export function safetyListsBundle(): string {
  const subject = { reference: `urn:uuid:${SAFETY_PATIENT}` };
  const medication = (id: string, date: string, status: string): Json => ({
    resourceType: 'MedicationRequest', id, status, intent: 'order', subject, authoredOn: date,
    medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '855332', display: 'Warfarin Sodium 5 MG Oral Tablet' }] },
  });
  const resources: Json[] = [
    { resourceType: 'Patient', id: SAFETY_PATIENT, name: [{ family: 'Safetylists', given: ['Test'] }], birthDate: '1944-05-06', gender: 'male' },
    ...Array.from({ length: PROBLEMS }, (_, i) => ({
      resourceType: 'Condition', id: `problem-${i}`, subject, recordedDate: day(i), onsetDateTime: day(i),
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: i === 0 ? 'active' : 'resolved' }] },
      code: { text: `Problem ${i}` },
    })),
    ...Array.from({ length: ALLERGIES }, (_, i) => ({
      resourceType: 'AllergyIntolerance', id: `allergy-${i}`, patient: subject, recordedDate: day(i), code: { text: `Substance ${i}` },
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
    })),
    medication('warfarin-active', day(0), 'active'),
    ...Array.from({ length: COMPLETED_MEDICATIONS }, (_, i) => medication(`completed-${i}`, day(10 + i), 'completed')),
  ];
  return JSON.stringify({
    resourceType: 'Bundle',
    type: 'batch',
    entry: resources.map((resource) => ({ fullUrl: `urn:uuid:${String(resource.id)}`, resource, request: { method: 'POST', url: resource.resourceType } })),
  });
}
