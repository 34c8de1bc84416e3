/**
 * Synthetic panel for the scale benchmark (bench/scale-bench.ts): one FHIR R4
 * batch bundle per patient, about 500 resources each in a clinic's mix
 * (observations mostly, plus encounters, conditions, medication requests and
 * allergies), with names drawn from common first and last names so that
 * search-as-you-type meets the shared prefixes a real panel has. Deterministic
 * (seeded by the patient's index), so ids can be read back at random without
 * keeping them. Made up entirely: no real PHI. Benchmarks only; never
 * imported by the app, the backend or the tests.
 */

/** Resources per patient and their mix (500 in all with the Patient). */
export const MIX = { Observation: 404, Encounter: 40, MedicationRequest: 40, Condition: 12, AllergyIntolerance: 3 } as const;
export const RESOURCES_PER_PATIENT = 1 + Object.values(MIX).reduce((a, b) => a + b, 0);
export type MixType = keyof typeof MIX;
const ID_PART: Record<MixType, string> = { Observation: 'obs', Encounter: 'enc', MedicationRequest: 'med', Condition: 'cond', AllergyIntolerance: 'alg' };

const FAMILY = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Gonzalez',
  'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark',
  'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores', 'Green',
  'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell', 'Carter', 'Roberts', 'Gomez', 'Phillips', 'Evans', 'Turner', 'Diaz',
  'Parker', 'Cruz', 'Edwards', 'Collins', 'Reyes', 'Stewart', 'Morris', 'Morales', 'Murphy', 'Cook', 'Rogers', 'Gutierrez', 'Ortiz', 'Morgan',
  'Cooper', 'Peterson', 'Bailey', 'Reed', 'Kelly', 'Howard', 'Ramos', 'Kim', 'Cox', 'Ward', 'Richardson', 'Watson', 'Brooks', 'Chavez',
  'Wood', 'James', 'Bennett', 'Gray', 'Mendoza', 'Ruiz', 'Hughes', 'Price', 'Alvarez', 'Castillo', 'Sanders', 'Patel', 'Myers', 'Long',
  'Ross', 'Foster', 'Jimenez', 'Schmidt', 'Muller', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Schulz', 'Hoffmann',
];
const GIVEN = [
  'James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael', 'Linda', 'David', 'Elizabeth', 'William', 'Barbara', 'Richard',
  'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Charles', 'Karen', 'Christopher', 'Lisa', 'Daniel', 'Nancy', 'Matthew', 'Betty',
  'Anthony', 'Margaret', 'Mark', 'Sandra', 'Donald', 'Ashley', 'Steven', 'Kimberly', 'Paul', 'Emily', 'Andrew', 'Donna', 'Joshua',
  'Michelle', 'Kenneth', 'Carol', 'Kevin', 'Amanda', 'Brian', 'Dorothy', 'George', 'Melissa', 'Timothy', 'Deborah', 'Ronald', 'Stephanie',
  'Edward', 'Rebecca', 'Jason', 'Sharon', 'Jeffrey', 'Laura', 'Ryan', 'Cynthia', 'Jacob', 'Kathleen', 'Gary', 'Amy', 'Nicholas', 'Angela',
];
const VITALS = [
  { code: '8867-4', display: 'Heart rate', unit: '/min', base: 60, spread: 40 },
  { code: '9279-1', display: 'Respiratory rate', unit: '/min', base: 12, spread: 10 },
  { code: '8310-5', display: 'Body temperature', unit: 'Cel', base: 36.2, spread: 2 },
  { code: '29463-7', display: 'Body weight', unit: 'kg', base: 50, spread: 60 },
  { code: '8480-6', display: 'Systolic blood pressure', unit: 'mm[Hg]', base: 100, spread: 60 },
  { code: '2708-6', display: 'Oxygen saturation in Arterial blood', unit: '%', base: 90, spread: 10 },
];
const LABS = [
  { code: '2339-0', display: 'Glucose [Mass/volume] in Blood', unit: 'mg/dL', base: 70, spread: 80 },
  { code: '2160-0', display: 'Creatinine [Mass/volume] in Serum or Plasma', unit: 'mg/dL', base: 0.6, spread: 1 },
  { code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood', unit: 'g/dL', base: 10, spread: 7 },
  { code: '2951-2', display: 'Sodium [Moles/volume] in Serum or Plasma', unit: 'mmol/L', base: 132, spread: 12 },
  { code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood', unit: '%', base: 5, spread: 4 },
  { code: '2093-3', display: 'Cholesterol [Mass/volume] in Serum or Plasma', unit: 'mg/dL', base: 140, spread: 120 },
];
const CONDITIONS = [
  ['44054006', 'Diabetes mellitus type 2'], ['38341003', 'Hypertensive disorder'], ['195967001', 'Asthma'], ['13645005', 'Chronic obstructive lung disease'],
  ['49436004', 'Atrial fibrillation'], ['84114007', 'Heart failure'], ['35489007', 'Depressive disorder'], ['69896004', 'Rheumatoid arthritis'],
  ['399211009', 'History of myocardial infarction'], ['40055000', 'Chronic sinusitis'], ['431855005', 'Chronic kidney disease stage 1'], ['55822004', 'Hyperlipidemia'],
] as const;
const MEDICATIONS = [
  ['860975', 'Metformin hydrochloride 500 MG Oral Tablet'], ['314076', 'Lisinopril 10 MG Oral Tablet'], ['617312', 'Atorvastatin 20 MG Oral Tablet'],
  ['197361', 'Amlodipine 5 MG Oral Tablet'], ['855332', 'Warfarin Sodium 5 MG Oral Tablet'], ['745752', 'Albuterol 0.09 MG/ACTUAT Inhaler'],
  ['312961', 'Simvastatin 20 MG Oral Tablet'], ['310798', 'Hydrochlorothiazide 25 MG Oral Tablet'],
] as const;
const ALLERGIES = [['91936005', 'Allergy to penicillin'], ['300913006', 'Shellfish allergy'], ['232347008', 'Dander (animal) allergy'], ['418689008', 'Allergy to grass pollen']] as const;

/** A small seeded generator (mulberry32): the same patient index always gives the same record. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function patientId(index: number): string {
  return `scale-p${index}`;
}

/** The id of the `n`th resource of a type in patient `index`'s record. */
export function resourceId(index: number, type: MixType, n: number): string {
  return `${patientId(index)}-${ID_PART[type]}-${n}`;
}

/** The patient's name as typed into the search box ("family given"), lower case. */
export function typedName(index: number): string {
  const { family, given } = nameOf(index);
  return `${family} ${given}`.toLowerCase();
}

function nameOf(index: number): { family: string; given: string } {
  const r = prng(index * 7 + 1);
  return { family: FAMILY[Math.floor(r() * FAMILY.length)]!, given: GIVEN[Math.floor(r() * GIVEN.length)]! };
}

const DAY = 86_400_000;
const END = Date.UTC(2026, 10, 1);

/** Patient `index`'s bundle as JSON text (about 500 resources, about 0.3 MB). */
export function scalePatientBundle(index: number): string {
  const r = prng(index * 7 + 2);
  const pid = patientId(index);
  const subject = { reference: `urn:uuid:${pid}` };
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
  const date = () => new Date(END - Math.floor(r() * 3650) * DAY - Math.floor(r() * DAY)).toISOString();
  const { family, given } = nameOf(index);
  const birth = new Date(Date.UTC(1935, 0, 1) + Math.floor(r() * 80 * 365) * DAY).toISOString().slice(0, 10);
  const entry: unknown[] = [];
  const add = (resource: Record<string, unknown>) =>
    entry.push({ fullUrl: `urn:uuid:${resource.id as string}`, resource, request: { method: 'POST', url: resource.resourceType } });
  add({
    resourceType: 'Patient',
    id: pid,
    name: [{ use: 'official', family, given: [given] }],
    identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, system: 'urn:oid:2.16.840.1.113883.19.5', value: `MRN${String(100000 + index)}` }],
    gender: r() < 0.5 ? 'female' : 'male',
    birthDate: birth,
    address: [{ line: [`${1 + Math.floor(r() * 999)} Synthetic Street`], city: 'Testville', postalCode: String(10000 + Math.floor(r() * 89999)), country: 'US' }],
  });
  const encounters: string[] = [];
  for (let n = 0; n < MIX.Encounter; n++) {
    const start = date();
    encounters.push(resourceId(index, 'Encounter', n));
    add({
      resourceType: 'Encounter',
      id: resourceId(index, 'Encounter', n),
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      type: [{ coding: [{ system: 'http://snomed.info/sct', code: '185349003', display: 'Encounter for check up' }], text: 'Encounter for check up' }],
      subject,
      period: { start, end: new Date(Date.parse(start) + 1_800_000).toISOString() },
      serviceProvider: { reference: 'Organization/scale-clinic', display: 'Testville Clinic' },
    });
  }
  for (let n = 0; n < MIX.Observation; n++) {
    const lab = r() < 0.35;
    const kind = pick(lab ? LABS : VITALS);
    const value = +(kind.base + r() * kind.spread).toFixed(1);
    add({
      resourceType: 'Observation',
      id: resourceId(index, 'Observation', n),
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: lab ? 'laboratory' : 'vital-signs', display: lab ? 'Laboratory' : 'Vital signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: kind.code, display: kind.display }], text: kind.display },
      subject,
      encounter: { reference: `Encounter/${pick(encounters)}` },
      effectiveDateTime: date(),
      issued: date(),
      valueQuantity: { value, unit: kind.unit, system: 'http://unitsofmeasure.org', code: kind.unit },
      ...(r() < 0.1 ? { note: [{ text: 'Repeat measurement advised at the next visit; patient informed.' }] } : {}),
    });
  }
  for (let n = 0; n < MIX.MedicationRequest; n++) {
    const [code, display] = pick(MEDICATIONS);
    add({
      resourceType: 'MedicationRequest',
      id: resourceId(index, 'MedicationRequest', n),
      status: r() < 0.7 ? 'completed' : 'active',
      intent: 'order',
      medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code, display }], text: display },
      subject,
      encounter: { reference: `Encounter/${pick(encounters)}` },
      authoredOn: date(),
      dosageInstruction: [{ sequence: 1, text: 'Take one tablet by mouth daily', timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } } }],
    });
  }
  for (let n = 0; n < MIX.Condition; n++) {
    const [code, display] = pick(CONDITIONS);
    const onset = date();
    add({
      resourceType: 'Condition',
      id: resourceId(index, 'Condition', n),
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: r() < 0.6 ? 'active' : 'resolved' }] },
      verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
      code: { coding: [{ system: 'http://snomed.info/sct', code, display }], text: display },
      subject,
      onsetDateTime: onset,
      recordedDate: onset,
    });
  }
  for (let n = 0; n < MIX.AllergyIntolerance; n++) {
    const [code, display] = pick(ALLERGIES);
    add({
      resourceType: 'AllergyIntolerance',
      id: resourceId(index, 'AllergyIntolerance', n),
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
      verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification', code: 'confirmed' }] },
      type: 'allergy',
      category: ['environment'],
      criticality: 'low',
      code: { coding: [{ system: 'http://snomed.info/sct', code, display }], text: display },
      patient: subject,
      recordedDate: date(),
    });
  }
  return JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry });
}

/** A random resource of the panel (Type and id), weighted by the mix as a random read of the cache is. */
export function randomResource(patients: number, random: () => number = Math.random): { type: string; id: string } {
  const index = Math.floor(random() * patients);
  let k = Math.floor(random() * RESOURCES_PER_PATIENT);
  if (k === 0) return { type: 'Patient', id: patientId(index) };
  k -= 1;
  for (const type of Object.keys(MIX) as MixType[]) {
    if (k < MIX[type]) return { type, id: resourceId(index, type, k) };
    k -= MIX[type];
  }
  throw new Error('unreachable');
}
