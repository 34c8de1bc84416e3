/**
 * Imports refuse what is not FHIR R4: DSTU2 and STU3 bundles (by resource
 * types, fields and shapes only those releases have, by profiles and server
 * paths that name them) are refused whole with FHIR_VERSION_UNSUPPORTED and a
 * message that says which release it is, names the entry, and carries no
 * value from the file; nothing from them is stored (a DSTU2 `family` list is
 * no longer silently dropped). Genuine R4 never is: the Synthea bundles and
 * R4 shapes of the same fields import.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importBundle } from '../electron/services/bundle-import';
import { cacheStats } from '../electron/services/cache-maintenance';
import { AppError } from '../shared/app-error';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { SYNTHEA_FILES } from './support/synthea';

const FIXTURES = join(process.env.CLINICIAN_TEST_ROOT ?? process.cwd(), 'test', 'fixtures', 'import');
const fixture = (name: string) => readFileSync(join(FIXTURES, name));

type Json = Record<string, unknown>;
let cache: TestCache;

before(async () => {
  cache = await openTestCache();
});
after(() => cache.dispose());

/** A small R4 bundle (fictional names) that imports; each case below changes one thing in it. */
function r4Bundle(): Json {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      {
        fullUrl: 'http://example.org/fhir/Patient/v-p1',
        resource: {
          resourceType: 'Patient',
          id: 'v-p1',
          name: [{ use: 'official', family: 'Versionprobe', given: ['Synthetic'] }],
          contact: [{ name: { family: 'Contactprobe', given: ['Synthetic'] } }],
          generalPractitioner: [{ reference: 'Practitioner/v-dr' }],
        },
      },
      { fullUrl: 'http://example.org/fhir/Practitioner/v-dr', resource: { resourceType: 'Practitioner', id: 'v-dr', name: [{ family: 'Doctorprobe' }] } },
      {
        fullUrl: 'http://example.org/fhir/Condition/v-c1',
        resource: {
          resourceType: 'Condition',
          id: 'v-c1',
          subject: { reference: 'Patient/v-p1' },
          clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
          verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
          code: { text: 'Synthetic' },
          recordedDate: '2020-01-01',
        },
      },
      {
        fullUrl: 'http://example.org/fhir/Observation/v-o1',
        resource: {
          resourceType: 'Observation',
          id: 'v-o1',
          status: 'final',
          code: { text: 'Heart rate' },
          subject: { reference: 'Patient/v-p1' },
          encounter: { reference: 'Encounter/v-e1' },
          note: [{ text: 'Synthetic' }],
          effectiveDateTime: '2020-01-01',
        },
      },
      {
        fullUrl: 'http://example.org/fhir/Encounter/v-e1',
        resource: { resourceType: 'Encounter', id: 'v-e1', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: 'Patient/v-p1' } },
      },
      {
        fullUrl: 'http://example.org/fhir/AllergyIntolerance/v-a1',
        resource: {
          resourceType: 'AllergyIntolerance',
          id: 'v-a1',
          patient: { reference: 'Patient/v-p1' },
          clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
        },
      },
      {
        fullUrl: 'http://example.org/fhir/MedicationStatement/v-ms1',
        resource: { resourceType: 'MedicationStatement', id: 'v-ms1', status: 'active', subject: { reference: 'Patient/v-p1' }, medicationCodeableConcept: { text: 'Synthetic' } },
      },
    ],
  };
}

function entryOf(bundle: Json, type: string): Json {
  const found = (bundle.entry as Array<{ resource: Json }>).find((e) => e.resource.resourceType === type);
  return found!.resource;
}

/** [case, change to the R4 bundle, release named in the message, entry index named (or null)] */
const olderReleases: Array<[string, (b: Json) => void, 'DSTU2' | 'STU3' | 'DSTU2/STU3' | null, number | null]> = [
  ['a DSTU2-only resource type (MedicationOrder)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'MedicationOrder', id: 'x1' } }), 'DSTU2', 7],
  ['a DSTU2-only resource type (DiagnosticOrder)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'DiagnosticOrder', id: 'x1' } }), 'DSTU2', 7],
  ['a DSTU2-only resource type (Order)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'Order', id: 'x1' } }), 'DSTU2', 7],
  ['a DSTU2-only resource type (DeviceUseRequest)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'DeviceUseRequest', id: 'x1' } }), 'DSTU2', 7],
  ['a STU3-only resource type (Sequence)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'Sequence', id: 'x1' } }), 'STU3', 7],
  ['a DSTU2/STU3 resource type (ProcedureRequest)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'ProcedureRequest', id: 'x1' } }), 'DSTU2/STU3', 7],
  ['a DSTU2/STU3 resource type (ReferralRequest)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'ReferralRequest', id: 'x1' } }), 'DSTU2/STU3', 7],
  ['a DSTU2/STU3 resource type (EligibilityRequest)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'EligibilityRequest', id: 'x1' } }), 'DSTU2/STU3', 7],
  ['a DSTU2/STU3 resource type (ProcessRequest)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'ProcessRequest', id: 'x1' } }), 'DSTU2/STU3', 7],
  ['a DSTU2/STU3 resource type (DeviceComponent)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'DeviceComponent', id: 'x1' } }), 'DSTU2/STU3', 7],
  ['a resource type R4 does not define', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'Madeuptype', id: 'x1' } }), null, 7],
  ['a contained DSTU2 resource', (b) => (entryOf(b, 'Observation').contained = [{ resourceType: 'DiagnosticOrder', id: 'in1' }]), 'DSTU2', 3],
  ['Patient.name.family as a list (DSTU2)', (b) => ((entryOf(b, 'Patient').name as Json[])[0]!.family = ['Versionprobe']), 'DSTU2', 0],
  ['Patient.contact.name.family as a list (DSTU2)', (b) => (((entryOf(b, 'Patient').contact as Json[])[0]!.name as Json).family = ['Contactprobe']), 'DSTU2', 0],
  ['Practitioner.name as one name, not a list (DSTU2)', (b) => (entryOf(b, 'Practitioner').name = { family: ['Doctorprobe'] }), 'DSTU2', 1],
  ['Patient.careProvider (DSTU2)', (b) => (entryOf(b, 'Patient').careProvider = [{ reference: 'Practitioner/v-dr' }]), 'DSTU2', 0],
  ['Patient.animal (DSTU2/STU3)', (b) => (entryOf(b, 'Patient').animal = { species: { text: 'dog' } }), 'DSTU2/STU3', 0],
  ['Observation.comments (DSTU2)', (b) => (entryOf(b, 'Observation').comments = 'x'), 'DSTU2', 3],
  ['Observation.comment (STU3)', (b) => (entryOf(b, 'Observation').comment = 'x'), 'STU3', 3],
  ['Observation.context (STU3)', (b) => (entryOf(b, 'Observation').context = { reference: 'Encounter/v-e1' }), 'STU3', 3],
  ['Observation.related (DSTU2/STU3)', (b) => (entryOf(b, 'Observation').related = [{ target: { reference: 'Observation/v-o2' } }]), 'DSTU2/STU3', 3],
  ['Condition.patient instead of subject (DSTU2)', (b) => (entryOf(b, 'Condition').patient = { reference: 'Patient/v-p1' }), 'DSTU2', 2],
  ['Condition.clinicalStatus as a plain code (DSTU2/STU3)', (b) => (entryOf(b, 'Condition').clinicalStatus = 'active'), 'DSTU2/STU3', 2],
  ['Condition.verificationStatus as a plain code (DSTU2/STU3)', (b) => (entryOf(b, 'Condition').verificationStatus = 'confirmed'), 'DSTU2/STU3', 2],
  ['Condition.assertedDate (STU3)', (b) => (entryOf(b, 'Condition').assertedDate = '2020-01-01'), 'STU3', 2],
  ['AllergyIntolerance.clinicalStatus as a plain code (STU3)', (b) => (entryOf(b, 'AllergyIntolerance').clinicalStatus = 'active'), 'STU3', 5],
  ['Encounter.class as a plain code (DSTU2)', (b) => (entryOf(b, 'Encounter').class = 'outpatient'), 'DSTU2', 4],
  ['Encounter.patient (DSTU2)', (b) => (entryOf(b, 'Encounter').patient = { reference: 'Patient/v-p1' }), 'DSTU2', 4],
  ['MedicationStatement.wasNotTaken (DSTU2)', (b) => (entryOf(b, 'MedicationStatement').wasNotTaken = false), 'DSTU2', 6],
  ['MedicationStatement.taken (STU3)', (b) => (entryOf(b, 'MedicationStatement').taken = 'y'), 'STU3', 6],
  ['Immunization.wasNotGiven (DSTU2)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'Immunization', id: 'i1', wasNotGiven: false, patient: { reference: 'Patient/v-p1' } } }), 'DSTU2', 7],
  ['Immunization.notGiven (STU3)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'Immunization', id: 'i1', notGiven: false, patient: { reference: 'Patient/v-p1' } } }), 'STU3', 7],
  ['Procedure.notPerformed (DSTU2)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'Procedure', id: 'pr1', notPerformed: false, subject: { reference: 'Patient/v-p1' } } }), 'DSTU2', 7],
  ['Procedure.notDone (STU3)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'Procedure', id: 'pr1', notDone: false, subject: { reference: 'Patient/v-p1' } } }), 'STU3', 7],
  // STU3 backbone elements where R4 has a plain Reference (or a backbone without that part): R4 would read them as empty references.
  ['MedicationRequest.requester as {agent, onBehalfOf} (STU3)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'MedicationRequest', id: 'mr1', status: 'active', intent: 'order', subject: { reference: 'Patient/v-p1' }, medicationCodeableConcept: { text: 'Synthetic' }, requester: { agent: { reference: 'Practitioner/v-dr' }, onBehalfOf: { reference: 'Organization/o1' } } } }), 'STU3', 7],
  ['MedicationRequest.requester as {agent} alone (STU3)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'MedicationRequest', id: 'mr1', status: 'active', intent: 'order', subject: { reference: 'Patient/v-p1' }, requester: { agent: { reference: 'Practitioner/v-dr' } } } }), 'STU3', 7],
  ['DiagnosticReport.performer as [{role, actor}] (STU3)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'DiagnosticReport', id: 'dr1', status: 'final', code: { text: 'Synthetic' }, subject: { reference: 'Patient/v-p1' }, performer: [{ role: { text: 'lab' }, actor: { reference: 'Organization/lab1' } }] } }), 'STU3', 7],
  ['DiagnosticReport.performer as one Reference, not a list (DSTU2)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'DiagnosticReport', id: 'dr1', status: 'final', code: { text: 'Synthetic' }, subject: { reference: 'Patient/v-p1' }, performer: { reference: 'Organization/lab1' } } }), 'DSTU2', 7],
  ['DeviceRequest.requester as {agent, onBehalfOf} (STU3)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'DeviceRequest', id: 'dq1', status: 'active', intent: 'order', subject: { reference: 'Patient/v-p1' }, requester: { agent: { reference: 'Practitioner/v-dr' } } } }), 'STU3', 7],
  ['CommunicationRequest.requester as {agent, onBehalfOf} (STU3)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'CommunicationRequest', id: 'cq1', status: 'active', subject: { reference: 'Patient/v-p1' }, requester: { agent: { reference: 'Practitioner/v-dr' } } } }), 'STU3', 7],
  ['SupplyRequest.requester as {agent, onBehalfOf} (STU3)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'SupplyRequest', id: 'sq1', status: 'active', requester: { agent: { reference: 'Practitioner/v-dr' } } } }), 'STU3', 7],
  ['Task.requester as {agent, onBehalfOf} (STU3)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'Task', id: 't1', status: 'requested', intent: 'order', for: { reference: 'Patient/v-p1' }, requester: { agent: { reference: 'Practitioner/v-dr' }, onBehalfOf: { reference: 'Organization/o1' } } } }), 'STU3', 7],
  ['MedicationAdministration.performer with onBehalfOf (STU3)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'MedicationAdministration', id: 'ma1', status: 'completed', subject: { reference: 'Patient/v-p1' }, performer: [{ actor: { reference: 'Practitioner/v-dr' }, onBehalfOf: { reference: 'Organization/o1' } }] } }), 'STU3', 7],
  ['MedicationDispense.performer with onBehalfOf (STU3)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'MedicationDispense', id: 'md1', status: 'completed', subject: { reference: 'Patient/v-p1' }, performer: [{ actor: { reference: 'Practitioner/v-dr' }, onBehalfOf: { reference: 'Organization/o1' } }] } }), 'STU3', 7],
  ['Procedure.performer with role (STU3; R4 calls it function)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'Procedure', id: 'pr1', status: 'completed', subject: { reference: 'Patient/v-p1' }, performer: [{ role: { text: 'surgeon' }, actor: { reference: 'Practitioner/v-dr' } }] } }), 'STU3', 7],
  ['Immunization.practitioner (STU3; R4 performer)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'Immunization', id: 'i1', status: 'completed', patient: { reference: 'Patient/v-p1' }, practitioner: [{ role: { text: 'AP' }, actor: { reference: 'Practitioner/v-dr' } }] } }), 'STU3', 7],
  ['Encounter.diagnosis with role (STU3; R4 calls it use)', (b) => (entryOf(b, 'Encounter').diagnosis = [{ condition: { reference: 'Condition/v-c1' }, role: { text: 'AD' }, rank: 1 }]), 'STU3', 4],
  ['CarePlan.author as a list (DSTU2/STU3; R4 has one author)', (b) => (b.entry as Json[]).push({ resource: { resourceType: 'CarePlan', id: 'cp1', status: 'active', intent: 'plan', subject: { reference: 'Patient/v-p1' }, author: [{ reference: 'Practitioner/v-dr' }] } }), 'DSTU2/STU3', 7],
  ['a DSTU2 fhir_comments property', (b) => (entryOf(b, 'Observation').code = { fhir_comments: ['x'], text: 'Heart rate' }), 'DSTU2', 3],
  ['meta.profile naming the DSTU2 core definition (|1.0.2)', (b) => (entryOf(b, 'Patient').meta = { profile: ['http://hl7.org/fhir/StructureDefinition/Patient|1.0.2'] }), 'DSTU2', 0],
  ['meta.profile naming the STU3 core definition (|3.0.1)', (b) => (entryOf(b, 'Observation').meta = { profile: ['http://hl7.org/fhir/StructureDefinition/Observation|3.0.1'] }), 'STU3', 3],
  ['meta.profile of the Argonaut (DSTU2) guide', (b) => (entryOf(b, 'Patient').meta = { profile: ['http://fhir.org/guides/argonaut/StructureDefinition/argo-patient'] }), 'DSTU2', 0],
  ['Bundle.meta.profile naming the STU3 Bundle', (b) => (b.meta = { profile: ['http://hl7.org/fhir/StructureDefinition/Bundle|3.0.2'] }), 'STU3', null],
  ['a fullUrl on a DSTU2 server path', (b) => ((b.entry as Json[])[2]!.fullUrl = 'https://ehr.example.org/api/FHIR/DSTU2/Condition/v-c1'), 'DSTU2', 2],
  ['a fullUrl on a STU3 server path (HAPI baseDstu3)', (b) => ((b.entry as Json[])[1]!.fullUrl = 'http://hapi.example.org/baseDstu3/Practitioner/v-dr'), 'STU3', 1],
  ['Bundle.link self on a DSTU2 server path', (b) => (b.link = [{ relation: 'self', url: 'https://ehr.example.org/dstu2/Patient?_id=v-p1' }]), 'DSTU2', null],
];

async function refusal(input: string | Buffer): Promise<AppError> {
  try {
    await importBundle(cache.session, input);
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  assert.fail('the bundle was imported');
}

test('the unchanged R4 probe bundle imports (so each case below fails for its one change)', async () => {
  assert.equal((await importBundle(cache.session, JSON.stringify(r4Bundle()))).resources, 7);
});

for (const [name, change, release, index] of olderReleases) {
  test(`refuses a bundle with ${name}: FHIR_VERSION_UNSUPPORTED, nothing stored`, async () => {
    const bundle = r4Bundle();
    for (const e of bundle.entry as Array<{ resource: Json }>) e.resource.id = `${e.resource.id as string}-x`; // nothing of it held yet
    const patientRef = { reference: 'Patient/v-p1-x' };
    for (const e of bundle.entry as Array<{ resource: Json }>) if (e.resource.subject) e.resource.subject = patientRef;
    change(bundle);
    const before = (await cacheStats(cache.session)).resources;
    const err = await refusal(JSON.stringify(bundle));
    assert.equal(err.code, 'FHIR_VERSION_UNSUPPORTED', err.message);
    if (release) assert.match(err.message, new RegExp(`^This file is FHIR ${release.replace('/', '\\/')}, not R4; it was not imported`));
    else assert.match(err.message, /^This file is not FHIR R4; it was not imported/);
    if (index !== null) assert.match(err.message, new RegExp(`\\bentry ${index}\\b`));
    assert.match(err.message, /Nothing from it was stored\.$/);
    for (const phi of ['Versionprobe', 'Contactprobe', 'Doctorprobe', 'Madeuptype', 'v-p1']) assert.ok(!err.message.includes(phi), `no value from the file in the message (${phi})`);
    assert.deepEqual((await cacheStats(cache.session)).resources, before, 'nothing stored');
  });
}

test('the DSTU2 fixture bundle is refused as DSTU2 and nothing of it is stored (its family list is not silently dropped)', async () => {
  const err = await refusal(fixture('dstu2-bundle.json'));
  assert.equal(err.code, 'FHIR_VERSION_UNSUPPORTED');
  assert.match(err.message, /^This file is FHIR DSTU2, not R4; it was not imported/);
  assert.ok(!err.message.includes('Testdstu'));
  const held = (await cache.db()).prepare("SELECT count(*) FROM resources WHERE id LIKE 'dstu2-%'").pluck().get();
  assert.equal(held, 0);
  assert.equal((await cache.db()).prepare("SELECT count(*) FROM patients WHERE id = 'dstu2-p1'").pluck().get(), 0);
});

test('the STU3 fixture bundle (transaction) is refused as STU3 and nothing of it is stored', async () => {
  const err = await refusal(fixture('stu3-bundle.json'));
  assert.equal(err.code, 'FHIR_VERSION_UNSUPPORTED');
  assert.match(err.message, /^This file is FHIR (STU3|DSTU2\/STU3), not R4; it was not imported/);
  assert.equal((await cache.db()).prepare("SELECT count(*) FROM resources WHERE id LIKE 'stu3-%'").pluck().get(), 0);
});

test('a bundle that mixes R4 entries with one DSTU2 entry at the end is refused whole', async () => {
  const bundle = r4Bundle();
  for (const e of bundle.entry as Array<{ resource: Json }>) e.resource.id = `${e.resource.id as string}-mix`;
  const dstu2 = JSON.parse(fixture('dstu2-bundle.json').toString()) as { entry: Json[] };
  (bundle.entry as Json[]).push(dstu2.entry[3]!);
  const err = await refusal(JSON.stringify(bundle));
  assert.equal(err.code, 'FHIR_VERSION_UNSUPPORTED');
  assert.match(err.message, /\bentry 7\b/);
  assert.equal((await cache.db()).prepare("SELECT count(*) FROM resources WHERE id LIKE '%-mix'").pluck().get(), 0);
});

test('genuine R4 always imports: every Synthea bundle, R4 shapes of the same fields, R4 server paths and profiles', async () => {
  for (const file of SYNTHEA_FILES) assert.ok((await importBundle(cache.session, readFileSync(file))).resources > 0);
  const bundle = r4Bundle();
  for (const e of bundle.entry as Array<{ fullUrl: string; resource: Json }>) {
    e.resource.id = `${e.resource.id as string}-r4`;
    e.fullUrl = `https://ehr.example.org/api/FHIR/R4/${e.resource.resourceType as string}/${e.resource.id as string}`;
  }
  entryOf(bundle, 'Patient').meta = { profile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient|3.1.1', 'http://hl7.org/fhir/StructureDefinition/Patient|4.0.1'] };
  entryOf(bundle, 'Observation').meta = { versionId: '3', lastUpdated: '2020-01-01T00:00:00Z' };
  bundle.link = [{ relation: 'self', url: 'http://hapi.example.org/baseR4/Patient?_id=v-p1-r4' }];
  assert.equal((await importBundle(cache.session, JSON.stringify(bundle))).resources, 7);
});

test('the R4 shapes of the same elements import: requester and DiagnosticReport.performer as References, performers with function, actor and onBehalfOf', async () => {
  const ref = (r: string) => ({ reference: r, display: 'Synthetic' });
  const resources: Json[] = [
    { resourceType: 'Patient', id: 'shape-p1', name: [{ family: 'Shapeprobe' }] },
    { resourceType: 'MedicationRequest', id: 'shape-mr', status: 'active', intent: 'order', subject: ref('Patient/shape-p1'), medicationCodeableConcept: { text: 'x' }, requester: ref('Practitioner/v-dr') },
    { resourceType: 'DiagnosticReport', id: 'shape-dr', status: 'final', code: { text: 'x' }, subject: ref('Patient/shape-p1'), performer: [ref('Organization/lab1')], resultsInterpreter: [ref('Practitioner/v-dr')] },
    { resourceType: 'DeviceRequest', id: 'shape-dq', status: 'active', intent: 'order', codeCodeableConcept: { text: 'x' }, subject: ref('Patient/shape-p1'), requester: ref('Practitioner/v-dr') },
    { resourceType: 'Task', id: 'shape-t', status: 'requested', intent: 'order', for: ref('Patient/shape-p1'), requester: ref('Practitioner/v-dr'), owner: ref('Organization/o1') },
    { resourceType: 'MedicationAdministration', id: 'shape-ma', status: 'completed', medicationCodeableConcept: { text: 'x' }, subject: ref('Patient/shape-p1'), effectiveDateTime: '2020-01-01', performer: [{ function: { text: 'performer' }, actor: ref('Practitioner/v-dr') }] },
    { resourceType: 'MedicationDispense', id: 'shape-md', status: 'completed', medicationCodeableConcept: { text: 'x' }, subject: ref('Patient/shape-p1'), performer: [{ function: { text: 'packager' }, actor: ref('Practitioner/v-dr') }] },
    { resourceType: 'Procedure', id: 'shape-pr', status: 'completed', code: { text: 'x' }, subject: ref('Patient/shape-p1'), performer: [{ function: { text: 'surgeon' }, actor: ref('Practitioner/v-dr'), onBehalfOf: ref('Organization/o1') }] },
    { resourceType: 'Encounter', id: 'shape-e', status: 'finished', class: { code: 'AMB' }, subject: ref('Patient/shape-p1'), diagnosis: [{ condition: ref('Condition/v-c1'), use: { text: 'AD' }, rank: 1 }] },
    { resourceType: 'CarePlan', id: 'shape-cp', status: 'active', intent: 'plan', subject: ref('Patient/shape-p1'), author: ref('Practitioner/v-dr'), contributor: [ref('Practitioner/v-dr')] },
    { resourceType: 'Immunization', id: 'shape-i', status: 'completed', vaccineCode: { text: 'x' }, patient: ref('Patient/shape-p1'), occurrenceDateTime: '2020-01-01', performer: [{ function: { text: 'AP' }, actor: ref('Practitioner/v-dr') }] },
  ];
  const bundle = { resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) };
  assert.equal((await importBundle(cache.session, JSON.stringify(bundle))).resources, resources.length);
});
