/**
 * Patient search finds a birth date however a clinician types it: ISO,
 * DD.MM.YYYY, DD/MM/YYYY and MM/DD/YYYY (both readings of an ambiguous
 * one), D Mon YYYY and Mon D YYYY with English month names or
 * abbreviations, and the year alone; combined with a name it narrows; a
 * date that does not exist finds nobody; full-width digits (an IME) and
 * pasted zero-width or control characters do not get in the way; the audit
 * records the query as typed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { importBundle } from '../electron/services/bundle-import';
import { searchPatients } from '../electron/services/patient-records';
import { searchQueryTerms } from '../shared/fhir-fields';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';

const patients = loadFixturePatients();
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
let cache: TestCache;

/** Two synthetic patients whose birth dates are each other's day and month swapped: 4 May and 5 April 2009. */
function swappedPair(): object {
  const patient = (id: string, birthDate: string) => ({
    fullUrl: `urn:uuid:${id}`,
    resource: { resourceType: 'Patient', id, name: [{ use: 'official', family: 'Datetest', given: [id] }], gender: 'unknown', birthDate },
    request: { method: 'POST', url: 'Patient' },
  });
  return { resourceType: 'Bundle', type: 'batch', entry: [patient('may-fourth', '2009-05-04'), patient('april-fifth', '2009-04-05')] };
}

before(async () => {
  cache = await openTestCache('dr.search');
  for (const file of SYNTHEA_FILES) await importBundle(cache.session, readFileSync(file));
  await importBundle(cache.session, JSON.stringify(swappedPair()));
});
after(() => cache.dispose());

const found = async (query: string) => (await searchPatients(cache.session, query)).patients.map((p) => p.id);

test('each Synthea patient is found by their birth date in every supported format', async () => {
  for (const p of patients) {
    const [y, m, d] = p.birthDate.split('-');
    const month = MONTHS[Number(m) - 1]!;
    const day = String(Number(d));
    const forms = [
      p.birthDate,
      `${d}.${m}.${y}`,
      `${d}/${m}/${y}`,
      `${m}/${d}/${y}`,
      `${day}/${Number(m)}/${y}`,
      `${day} ${month.slice(0, 3)} ${y}`,
      `${day} ${month} ${y}`,
      `${month.slice(0, 3)} ${day} ${y}`,
      `${month} ${day}, ${y}`,
      `${month.slice(0, 3).toUpperCase()} ${d} ${y}`,
      y!,
    ];
    for (const form of forms) assert.ok((await found(form)).includes(p.id), `${form} finds the patient born ${p.birthDate}`);
    // With the family name, only that patient.
    assert.deepEqual(await found(`${p.family} ${d}.${m}.${y}`), [p.id]);
    // A day later is somebody else's birthday (or nobody's).
    const next = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d) + 1)).toISOString().slice(0, 10);
    const [ny, nm, nd] = next.split('-');
    assert.equal((await found(`${nd}.${nm}.${ny}`)).includes(p.id), false);
  }
});

test('an ambiguous date finds both readings; DD.MM.YYYY and an impossible day/month pick one', async () => {
  assert.deepEqual((await found('04/05/2009')).sort(), ['april-fifth', 'may-fourth']);
  assert.deepEqual(await found('04.05.2009'), ['may-fourth'], 'the dotted form is day first');
  assert.deepEqual(await found('4 May 2009'), ['may-fourth']);
  assert.deepEqual(await found('May 4 2009'), ['may-fourth']);
  assert.deepEqual(await found('Apr 5 2009'), ['april-fifth']);
  // 22/02 can only be day first, 02/22 only month first.
  const cris = patients.find((p) => p.birthDate === '2006-02-22')!;
  assert.deepEqual(await found('22/02/2006'), [cris.id]);
  assert.deepEqual(await found('02/22/2006'), [cris.id]);
});

test('dates that do not exist find nobody, and words that only look like dates stay words', async () => {
  assert.deepEqual(await found('31/02/2009'), []);
  assert.deepEqual(await found('30 Feb 2009'), []);
  assert.deepEqual(await found('13.13.2009'), []);
  assert.deepEqual(searchQueryTerms('May Datetest'), [['may'], ['datetest']]);
  assert.deepEqual(searchQueryTerms('7 march 1985'), [['1985-03-07']]);
  assert.deepEqual(searchQueryTerms('03/07/1985'), [['1985-07-03', '1985-03-07']]);
});

test('the audit records the query as typed, one entry per patient found', async () => {
  const query = '04/05/2009';
  const db = await cache.db();
  const before = db.prepare('SELECT max(seq) FROM audit_log').pluck().get() as number;
  await found(query);
  const rows = db.prepare('SELECT action, subtype, patient_id, query FROM audit_log WHERE seq > ? ORDER BY patient_id').all(before);
  assert.deepEqual(rows, [
    { action: 'E', subtype: 'search-type', patient_id: 'april-fifth', query },
    { action: 'E', subtype: 'search-type', patient_id: 'may-fourth', query },
  ]);
});

const fullWidth = (s: string) => s.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d)));

test('a birth date typed with full-width digits or pasted with a zero-width space or a NUL finds the patient', async () => {
  for (const p of patients) {
    const [y, m, d] = p.birthDate.split('-');
    const forms = [
      fullWidth(`${d}.${m}.${y}`),
      fullWidth(p.birthDate),
      `\u200B${d}.${m}.${y}`,
      `${d}.${m}.${y}\u200B`,
      `${d}\u200B.${m}.${y}`,
      `\uFEFF${p.birthDate}`,
      `${d}.${m}.${y}\u0000`,
      `${p.family}\u00A0${fullWidth(`${d}/${m}/${y}`)}`,
    ];
    for (const form of forms) assert.ok((await found(form)).includes(p.id), `${JSON.stringify(form)} finds the patient born ${p.birthDate}`);
  }
});

test('a query with full-width digits is audited as typed, not as normalised', async () => {
  const query = `\u200B${fullWidth('04.05.2009')}`;
  const db = await cache.db();
  const before = db.prepare('SELECT max(seq) FROM audit_log').pluck().get() as number;
  assert.deepEqual(await found(query), ['may-fourth']);
  const rows = db.prepare('SELECT patient_id, query FROM audit_log WHERE seq > ?').all(before);
  assert.deepEqual(rows, [{ patient_id: 'may-fourth', query }]);
});
