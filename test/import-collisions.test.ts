/**
 * A resource id the cache already holds for another patient is refused:
 * the bundle is refused whole with IMPORT_ID_COLLISION, naming the entry
 * (index and Type/id, never the patient), and nothing from it is stored. So
 * is a bundle that gives one Type/id to two patients, a bundle that would
 * take a resource off its patient, and a Patient id held by a different
 * person (another medical record number, or, where either side has none, another
 * name or birth date). Re-importing the same bundle still
 * updates in place.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importBundle } from '../electron/services/bundle-import';
import { openChart } from '../electron/services/patient-records';
import { cacheStats } from '../electron/services/cache-maintenance';
import type { CacheDatabase } from '../electron/services/cache-database';
import { AppError } from '../shared/app-error';
import { openTestCache, type TestCache } from './support/open-test-cache';

const FIXTURES = join(process.env.CLINICIAN_TEST_ROOT ?? process.cwd(), 'test', 'fixtures', 'import');
const fixture = (name: string) => readFileSync(join(FIXTURES, name));
const PATIENT = (x: string) => `0c0c0c0c-0000-4000-8000-00000000000${x}`;

type Json = Record<string, unknown>;
let cache: TestCache;
/** The test's own connection to the cache file, to look at what committed. */
let db: CacheDatabase;

before(async () => {
  cache = await openTestCache();
  db = await cache.db();
});
after(() => cache.dispose());

async function refusal(input: string | Buffer): Promise<AppError> {
  try {
    await importBundle(cache.session, input);
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  assert.fail('the bundle was imported');
}

const patientOf = (type: string, id: string) =>
  db.prepare('SELECT patient_id FROM resources WHERE resource_type = ? AND id = ?').pluck().get(type, id) as string | null | undefined;

test('the same Observation id for three different patients: the second and third bundles are refused whole, naming the entry', async () => {
  assert.equal((await importBundle(cache.session, fixture('collision-a.json'))).resources, 3);
  assert.equal(patientOf('Observation', 'lab-result-1'), PATIENT('a'));
  for (const x of ['b', 'c']) {
    const before = (await cacheStats(cache.session)).resources;
    const err = await refusal(fixture(`collision-${x}.json`));
    assert.equal(err.code, 'IMPORT_ID_COLLISION', err.message);
    assert.match(err.message, /\bentry 2 \(Observation\/lab-result-1\)/);
    assert.match(err.message, /Nothing from it was stored\.$/);
    for (const phi of [`Collision${x.toUpperCase()}`, `MRN-COLLISION-${x}`, PATIENT(x), PATIENT('a')]) assert.ok(!err.message.includes(phi), `no patient in the message (${phi})`);
    assert.deepEqual((await cacheStats(cache.session)).resources, before, 'nothing from it stored');
    assert.equal(patientOf('Patient', PATIENT(x)), undefined, 'not even its own patient');
    assert.equal(patientOf('Observation', 'lab-result-1'), PATIENT('a'), 'still linked to the first patient');
  }
  assert.equal((await openChart(cache.session, PATIENT('a'))).groups.Observation!.total, 2);
});

test('re-importing the same bundle is not a collision: it updates in place', async () => {
  const again = await importBundle(cache.session, fixture('collision-a.json'));
  assert.equal(again.resources, 3);
  assert.equal(patientOf('Observation', 'lab-result-1'), PATIENT('a'));
});

test('two entries of one bundle with the same Type/id for different patients are a collision, named by the second entry', async () => {
  const bundle = {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      { fullUrl: 'urn:uuid:11111111-0000-4000-8000-000000000001', resource: { resourceType: 'Patient', id: '11111111-0000-4000-8000-000000000001' } },
      { fullUrl: 'urn:uuid:11111111-0000-4000-8000-000000000002', resource: { resourceType: 'Patient', id: '11111111-0000-4000-8000-000000000002' } },
      { resource: { resourceType: 'Observation', id: 'twice', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:11111111-0000-4000-8000-000000000001' } } },
      { resource: { resourceType: 'Observation', id: 'twice', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:11111111-0000-4000-8000-000000000002' } } },
    ],
  };
  const err = await refusal(JSON.stringify(bundle));
  assert.equal(err.code, 'IMPORT_ID_COLLISION');
  assert.match(err.message, /\bentry 3 \(Observation\/twice\)/);
  assert.equal(patientOf('Patient', '11111111-0000-4000-8000-000000000001'), undefined);
});

test('a resource held for a patient is not taken off it by a bundle that links it to no patient', async () => {
  const bundle = {
    resourceType: 'Bundle',
    type: 'batch',
    entry: [{ resource: { resourceType: 'Observation', id: 'lab-result-1', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:not-in-this-bundle' } } }],
  };
  const err = await refusal(JSON.stringify(bundle));
  assert.equal(err.code, 'IMPORT_ID_COLLISION');
  assert.match(err.message, /\bentry 0 \(Observation\/lab-result-1\)/);
  assert.equal(patientOf('Observation', 'lab-result-1'), PATIENT('a'));
});

test('a resource held without a patient may be linked to one later', async () => {
  const orphan = (subject: string) =>
    JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry: [{ resource: { resourceType: 'Observation', id: 'late-link', status: 'final', code: { text: 'x' }, subject: { reference: subject } } }] });
  await importBundle(cache.session, orphan('urn:uuid:unknown'));
  assert.equal(patientOf('Observation', 'late-link'), null);
  await importBundle(cache.session, orphan(`Patient/${PATIENT('a')}`));
  assert.equal(patientOf('Observation', 'late-link'), PATIENT('a'));
});

test('a Patient id held by a different person (another medical record number) is refused', async () => {
  const bundle = JSON.parse(fixture('collision-a.json').toString()) as { entry: Array<{ resource: Json }> };
  const patient = bundle.entry[0]!.resource;
  (patient.identifier as Array<{ value: string }>)[0]!.value = 'MRN-SOMEONE-ELSE';
  patient.name = [{ family: 'Someoneelse', given: ['Synthetic'] }];
  const err = await refusal(JSON.stringify({ ...bundle, entry: [bundle.entry[0]] }));
  assert.equal(err.code, 'IMPORT_ID_COLLISION');
  assert.match(err.message, new RegExp(`\\bentry 0 \\(Patient/${PATIENT('a')}\\)`));
  assert.ok(!err.message.includes('MRN-'));
  const name = db.prepare('SELECT display_name FROM patients WHERE id = ?').pluck().get(PATIENT('a'));
  assert.equal(name, 'Synthetic CollisionA', 'the cached patient is unchanged');
});

/** A Patient with a fictional name, a birth date and (optionally) a medical record number, and one Observation of it. */
function personBundle(id: string, family: string, birthDate: string | null, mrn: string | null, obsId: string): string {
  const patient: Json = { resourceType: 'Patient', id, name: [{ family, given: ['Synthetic'] }], gender: 'female' };
  if (birthDate) patient.birthDate = birthDate;
  if (mrn) patient.identifier = [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, value: mrn }];
  const obs = { resourceType: 'Observation', id: obsId, status: 'final', code: { text: 'Weight' }, subject: { reference: `Patient/${id}` } };
  return JSON.stringify({
    resourceType: 'Bundle',
    type: 'collection',
    entry: [patient, obs].map((resource) => ({ fullUrl: `http://h.example/fhir/${resource.resourceType as string}/${resource.id as string}`, resource })),
  });
}

const heldPatient = (id: string) => db.prepare('SELECT display_name, birth_date, mrn FROM patients WHERE id = ?').get(id) as Json | undefined;

test('a Patient id held for another person is refused when the incoming Patient has no medical record number and its name and birth date differ', async () => {
  await importBundle(cache.session, personBundle('same-id-1', 'Alphaheld', '1950-01-01', 'MRN-HELD-1', 'same-id-1-obs-a'));
  const before = (await cacheStats(cache.session)).resources;
  const err = await refusal(personBundle('same-id-1', 'Bravoincoming', '2001-12-31', null, 'same-id-1-obs-b'));
  assert.equal(err.code, 'IMPORT_ID_COLLISION', err.message);
  assert.match(err.message, /\bentry 0 \(Patient\/same-id-1\)/);
  assert.match(err.message, /Nothing from it was stored\.$/);
  for (const phi of ['Alphaheld', 'Bravoincoming', '1950', '2001', 'MRN-HELD-1', 'Synthetic']) assert.ok(!err.message.includes(phi), `no patient detail in the message (${phi})`);
  assert.deepEqual((await cacheStats(cache.session)).resources, before, 'nothing from it stored');
  assert.deepEqual(heldPatient('same-id-1'), { display_name: 'Synthetic Alphaheld', birth_date: '1950-01-01', mrn: 'MRN-HELD-1' }, 'the held patient is unchanged');
  assert.equal(patientOf('Observation', 'same-id-1-obs-b'), undefined, 'the other person\'s observation is not in the chart');
});

test('without a medical record number on either side, a different name or a different birth date is another person', async () => {
  await importBundle(cache.session, personBundle('same-id-2', 'Charlieheld', '1960-05-05', null, 'same-id-2-obs-a'));
  for (const [family, birthDate] of [['Deltaincoming', '1960-05-05'], ['Charlieheld', '1961-05-05'], ['Charlieheld', null]] as const) {
    const err = await refusal(personBundle('same-id-2', family, birthDate, 'MRN-NEW-2', 'same-id-2-obs-b'));
    assert.equal(err.code, 'IMPORT_ID_COLLISION', `${family} ${birthDate}: ${err.message}`);
    assert.match(err.message, /\bentry 0 \(Patient\/same-id-2\)/);
  }
  assert.deepEqual(heldPatient('same-id-2'), { display_name: 'Synthetic Charlieheld', birth_date: '1960-05-05', mrn: null });
});

test('the same person again imports: same medical record number (even renamed), or no number and the same name and birth date', async () => {
  await importBundle(cache.session, personBundle('same-id-3', 'Echoheld', '1970-07-07', 'MRN-HELD-3', 'same-id-3-obs-a'));
  // Same MRN, new family name (a name change): the same person, updated in place.
  assert.equal((await importBundle(cache.session, personBundle('same-id-3', 'Echorenamed', '1970-07-07', 'MRN-HELD-3', 'same-id-3-obs-b'))).resources, 2);
  assert.equal(heldPatient('same-id-3')!.display_name, 'Synthetic Echorenamed');
  // Two different numbers are two people, whatever the names say.
  const err = await refusal(personBundle('same-id-3', 'Echorenamed', '1970-07-07', 'MRN-OTHER-3', 'same-id-3-obs-d'));
  assert.equal(err.code, 'IMPORT_ID_COLLISION');
  // No MRN in the file, same name (case and spacing aside) and birth date: the same person.
  assert.equal((await importBundle(cache.session, personBundle('same-id-3', ' ECHORENAMED ', '1970-07-07', null, 'same-id-3-obs-c'))).resources, 2);
  assert.equal((await openChart(cache.session, 'same-id-3')).groups.Observation!.total, 3);
});
