/**
 * The encrypted cache's import and queries: the Synthea bundles import
 * unchanged, bad bundles are refused whole, search by name, MRN and birth
 * date works by prefix and case-insensitively, and a chart comes back grouped
 * by type, newest first, with every read audited.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { importBundle } from '../electron/services/bundle-import';
import { openChart, searchPatients } from '../electron/services/patient-records';
import { cacheStats } from '../electron/services/cache-maintenance';
import { verifyAuditChain } from '../electron/services/audit-chain';
import { AppError } from '../shared/app-error';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';

const patients = loadFixturePatients();
let cache: TestCache;

before(async () => {
  cache = await openTestCache();
  for (const file of SYNTHEA_FILES) importBundle(cache.session, readFileSync(file));
});
after(() => cache.dispose());

test('imports the three Synthea bundles unchanged', () => {
  const get = cache.session.db.prepare('SELECT json FROM resources WHERE resource_type = ? AND id = ?').pluck();
  for (const p of patients) {
    for (const { resource } of p.bundle.entry) {
      const stored = get.get(resource.resourceType, resource.id) as string | undefined;
      assert.ok(stored, `${resource.resourceType} stored`);
      assert.deepEqual(JSON.parse(stored), resource);
    }
  }
  const stats = cacheStats(cache.session);
  assert.equal(stats.patients, 3);
  const total = Object.values(stats.resources).reduce((a, b) => a + b, 0);
  assert.equal(total, patients.reduce((a, p) => a + p.resourceCount, 0));
});

test('links every resource of a bundle to its patient through urn:uuid references', () => {
  const linked = cache.session.db.prepare('SELECT count(*) FROM resources WHERE patient_id = ?').pluck();
  for (const p of patients) {
    const expected = p.bundle.entry.filter((e) => !['Organization', 'Practitioner'].includes(e.resource.resourceType)).length;
    assert.equal(linked.get(p.id), expected);
  }
});

test('finds patients by name prefix, case-insensitively, by MRN and by birth date', () => {
  const [a, b] = patients as [(typeof patients)[0], (typeof patients)[0]];
  const ids = (q: string) => searchPatients(cache.session, q).patients.map((x) => x.id);
  assert.deepEqual(ids(a.given.slice(0, 3).toUpperCase()), [a.id]);
  assert.deepEqual(ids(a.family.toLowerCase()), [a.id]);
  assert.deepEqual(ids(`${a.given.slice(0, 4)} ${a.family.slice(0, 4)}`), [a.id]);
  assert.deepEqual(ids(`${a.given.slice(0, 4)} ${b.family.slice(0, 4)}`), [], 'every word must match the same patient');
  assert.deepEqual(ids(b.mrn.slice(0, 8)), [b.id]);
  assert.deepEqual(ids(b.birthDate), [b.id]);
  assert.deepEqual(ids(b.birthDate.slice(0, 7)), [b.id]);
  assert.deepEqual(ids('zzzz-nobody'), []);
  const summary = searchPatients(cache.session, a.mrn).patients[0]!;
  assert.deepEqual(summary, { id: a.id, name: `${a.given} ${a.family}`, birthDate: a.birthDate, gender: summary.gender, mrn: a.mrn });
});

test('a chart groups the patient\'s resources by type, newest first', () => {
  const p = patients[2]!;
  const chart = openChart(cache.session, p.id);
  assert.equal(chart.patient.id, p.id);
  const expectedTypes = new Set(
    p.bundle.entry.map((e) => e.resource.resourceType).filter((t) => !['Patient', 'Organization', 'Practitioner'].includes(t)),
  );
  assert.deepEqual(new Set(Object.keys(chart.groups)), expectedTypes);
  const encounters = chart.groups.Encounter!;
  assert.equal(encounters.total, p.bundle.entry.filter((e) => e.resource.resourceType === 'Encounter').length);
  const starts = encounters.items.map((e) => Date.parse((e.period as { start: string }).start));
  assert.deepEqual(starts, [...starts].sort((x, y) => y - x), 'newest first');
  assert.equal(chart.groups.Claim!.items.length, 0, 'billing is counted, not sent');
  assert.ok(chart.groups.Claim!.total > 0);
});

test('every search and chart read leaves its audit entry; an unknown patient is a failed, audited read', () => {
  const count = cache.session.db.prepare('SELECT count(*) FROM audit_log').pluck();
  const last = cache.session.db.prepare('SELECT action, subtype, patient_id, outcome, query FROM audit_log ORDER BY seq DESC LIMIT 1');
  const p = patients[0]!;
  const before = count.get() as number;
  openChart(cache.session, p.id);
  assert.equal(count.get(), before + 1);
  assert.deepEqual(last.get(), { action: 'R', subtype: 'read', patient_id: p.id, outcome: '0', query: null });
  searchPatients(cache.session, p.family);
  assert.equal(count.get(), before + 2);
  assert.deepEqual(last.get(), { action: 'E', subtype: 'search-type', patient_id: p.id, outcome: '0', query: p.family });
  assert.throws(() => openChart(cache.session, 'no-such-patient'), (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND');
  assert.equal(count.get(), before + 3);
  assert.deepEqual(last.get(), { action: 'R', subtype: 'read', patient_id: 'no-such-patient', outcome: '4', query: null });
  const report = verifyAuditChain(cache.session.db, cache.session.keys.publicKey, cache.session.context.deviceId);
  assert.equal(report.ok, true);
});

const badBundles: Array<[string, string | Buffer]> = [
  ['not JSON', '{"resourceType": "Bundle", "type": "batch", "entry": ['],
  ['empty file', ''],
  ['JSON that is not an object', '[1,2,3]'],
  ['not a Bundle', JSON.stringify({ resourceType: 'Patient', id: 'x' })],
  ['a Bundle of a type that cannot be imported', JSON.stringify({ resourceType: 'Bundle', type: 'history', entry: [] })],
  ['an entry without a resource', JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry: [{ fullUrl: 'urn:uuid:a' }] })],
  ['a resource without a type', JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { id: 'a' } }] })],
  ['a resource with a bad id', JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', id: '../../etc' } }] })],
  ['a resource without any id', JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient' } }] })],
  ['entry that is not an array', JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry: { resource: {} } })],
  ['a duplicate resource', JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', id: 'd1' } }, { resource: { resourceType: 'Patient', id: 'd1' } }] })],
  ['nesting deeper than the limit', `{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Basic","id":"n","x":${'['.repeat(200)}${']'.repeat(200)}}}]}`],
];

test('refuses malformed bundles with a clear error and imports nothing from them', () => {
  const valid = JSON.parse(readFileSync(SYNTHEA_FILES[0]!, 'utf8')) as { entry: unknown[] };
  // A valid bundle with one bad entry at the end: the good entries before it must not land either.
  const goodThenBad = JSON.stringify({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [{ resource: { resourceType: 'Patient', id: 'half-import-probe' } }, { request: { method: 'DELETE', url: 'Patient/x' } }],
  });
  const huge = JSON.stringify({
    resourceType: 'Bundle',
    type: 'batch',
    entry: [...valid.entry.slice(0, 3), { resource: { resourceType: 'Basic', id: 'big', note: 'x'.repeat(50 * 1024 * 1024) } }],
  });
  const before = JSON.stringify(cacheStats(cache.session));
  for (const [name, input] of [...badBundles, ['good entries then a bad one', goodThenBad] as [string, string], ['a 50 MB string', huge] as [string, string]]) {
    assert.throws(
      () => importBundle(cache.session, input),
      (e: unknown) => e instanceof AppError && e.code === 'BUNDLE_INVALID' && /Nothing from it was stored/.test(e.message),
      name,
    );
  }
  assert.equal(JSON.stringify(cacheStats(cache.session)), before, 'nothing changed');
  assert.equal(cache.session.db.prepare("SELECT count(*) FROM resources WHERE id = 'half-import-probe'").pluck().get(), 0);
});

test('imports transaction, collection and searchset bundles, and a re-import updates in place', () => {
  const make = (type: string, id: string) =>
    JSON.stringify({
      resourceType: 'Bundle',
      type,
      entry: [
        { fullUrl: `urn:uuid:${id}`, resource: { resourceType: 'Patient', name: [{ family: `Probe${type}`, given: ['Ann'] }] }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Observation', id: `${id}-obs`, status: 'final', subject: { reference: `urn:uuid:${id}` }, effectiveDateTime: '2020-01-01' } },
      ],
    });
  for (const [i, type] of ['transaction', 'collection', 'searchset'].entries()) {
    const id = `00000000-0000-4000-8000-00000000000${i}`;
    const summary = importBundle(cache.session, make(type, id));
    assert.equal(summary.resources, 2);
    const chart = openChart(cache.session, id);
    assert.equal(chart.groups.Observation!.total, 1);
    assert.equal(chart.patient.id, id, 'id taken from the urn:uuid fullUrl');
  }
  const again = importBundle(cache.session, make('collection', '00000000-0000-4000-8000-000000000001'));
  assert.equal(again.patients, 1);
  const last = cache.session.db.prepare('SELECT action FROM audit_log WHERE subtype IN (\'create\', \'update\') ORDER BY seq DESC LIMIT 1').pluck();
  assert.equal(last.get(), 'U');
});
