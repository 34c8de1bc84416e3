/**
 * The encrypted cache's import and queries: the Synthea bundles import
 * unchanged, bad bundles are refused whole, search by name, MRN and birth
 * date works by prefix and case-insensitively, and a chart comes back grouped
 * by type, newest first, with every read audited; every import is audited
 * too (resources without a patient, and refusals as failed imports), and the
 * command line reports each bundle's outcome and goes on to the next.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importBundle } from '../electron/services/bundle-import';
import { chartEncounters, openChart, searchPatients } from '../electron/services/patient-records';
import { auditEventList, cacheStats } from '../electron/services/cache-maintenance';
import { openCacheSession } from '../electron/services/cache-session';
import { storedEntry, verifyAuditChain } from '../electron/services/audit-chain';
import { AppError } from '../shared/app-error';
import { inspectCache } from './support/cache-inspect';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { runCli } from './support/cache-cli';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { SYNTHEA_FILES, findLeaks, loadFixturePatients, phiNeedles } from './support/synthea';

const FIXTURES = join(process.env.CLINICIAN_TEST_ROOT ?? process.cwd(), 'test', 'fixtures', 'import');

const patients = loadFixturePatients();
let cache: TestCache;

before(async () => {
  cache = await openTestCache();
  for (const file of SYNTHEA_FILES) await importBundle(cache.session, readFileSync(file));
});
after(() => cache.dispose());

test('imports the three Synthea bundles unchanged', async () => {
  const get = (await cache.db()).prepare('SELECT json FROM resources WHERE resource_type = ? AND id = ?').pluck();
  for (const p of patients) {
    for (const { resource } of p.bundle.entry) {
      const stored = get.get(resource.resourceType, resource.id) as string | undefined;
      assert.ok(stored, `${resource.resourceType} stored`);
      assert.deepEqual(JSON.parse(stored), resource);
    }
  }
  const stats = await cacheStats(cache.session);
  assert.equal(stats.patients, 3);
  const total = Object.values(stats.resources).reduce((a, b) => a + b, 0);
  assert.equal(total, patients.reduce((a, p) => a + p.resourceCount, 0));
});

test('links every resource of a bundle to its patient through urn:uuid references', async () => {
  const linked = (await cache.db()).prepare('SELECT count(*) FROM resources WHERE patient_id = ?').pluck();
  for (const p of patients) {
    const expected = p.bundle.entry.filter((e) => !['Organization', 'Practitioner'].includes(e.resource.resourceType)).length;
    assert.equal(linked.get(p.id), expected);
  }
});

test('finds patients by name prefix, case-insensitively, by MRN and by birth date', async () => {
  const [a, b] = patients as [(typeof patients)[0], (typeof patients)[0]];
  const ids = async (q: string) => (await searchPatients(cache.session, q)).patients.map((x) => x.id);
  assert.deepEqual(await ids(a.given.slice(0, 3).toUpperCase()), [a.id]);
  assert.deepEqual(await ids(a.family.toLowerCase()), [a.id]);
  assert.deepEqual(await ids(`${a.given.slice(0, 4)} ${a.family.slice(0, 4)}`), [a.id]);
  assert.deepEqual(await ids(`${a.given.slice(0, 4)} ${b.family.slice(0, 4)}`), [], 'every word must match the same patient');
  assert.deepEqual(await ids(b.mrn.slice(0, 8)), [b.id]);
  assert.deepEqual(await ids(b.birthDate), [b.id]);
  assert.deepEqual(await ids(b.birthDate.slice(0, 7)), [b.id]);
  assert.deepEqual(await ids('zzzz-nobody'), []);
  const summary = (await searchPatients(cache.session, a.mrn)).patients[0]!;
  assert.deepEqual(summary, { id: a.id, name: `${a.given} ${a.family}`, birthDate: a.birthDate, gender: summary.gender, mrn: a.mrn });
});

test('a chart groups the patient\'s resources by type, newest first', async () => {
  const p = patients[2]!;
  const chart = await openChart(cache.session, p.id);
  assert.equal(chart.patient.id, p.id);
  const expectedTypes = new Set(
    p.bundle.entry.map((e) => e.resource.resourceType).filter((t) => !['Patient', 'Organization', 'Practitioner'].includes(t)),
  );
  assert.deepEqual(new Set(Object.keys(chart.groups)), expectedTypes);
  const total = p.bundle.entry.filter((e) => e.resource.resourceType === 'Encounter').length;
  assert.deepEqual(chart.groups.Encounter, { total, items: [] }, 'encounters counted; the Encounters tab reads them');
  const encounters = await chartEncounters(cache.session, p.id);
  assert.equal(encounters.total, total);
  assert.ok(encounters.items.length > 1);
  const starts = encounters.items.map((e) => Date.parse((e.period as { start: string }).start));
  assert.deepEqual(starts, [...starts].sort((x, y) => y - x), 'newest first');
  assert.equal(chart.groups.Claim!.items.length, 0, 'billing is counted, not sent');
  assert.ok(chart.groups.Claim!.total > 0);
});

test('every search and chart read leaves its audit entry; an unknown patient is a failed, audited read', async () => {
  const db = await cache.db();
  const count = db.prepare('SELECT count(*) FROM audit_log').pluck();
  const last = db.prepare('SELECT action, subtype, patient_id, outcome, query FROM audit_log ORDER BY seq DESC LIMIT 1');
  const p = patients[0]!;
  const before = count.get() as number;
  await openChart(cache.session, p.id);
  assert.equal(count.get(), before + 1);
  assert.deepEqual(last.get(), { action: 'R', subtype: 'read', patient_id: p.id, outcome: '0', query: null });
  await searchPatients(cache.session, p.family);
  assert.equal(count.get(), before + 2);
  assert.deepEqual(last.get(), { action: 'E', subtype: 'search-type', patient_id: p.id, outcome: '0', query: p.family });
  await assert.rejects(openChart(cache.session, 'no-such-patient'), (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND');
  assert.equal(count.get(), before + 3);
  assert.deepEqual(last.get(), { action: 'R', subtype: 'read', patient_id: 'no-such-patient', outcome: '4', query: null });
  const report = verifyAuditChain(db, cache.session.keys.publicKey, cache.session.context.deviceId);
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

test('refuses malformed bundles with a clear error and imports nothing from them', async () => {
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
  const before = await cacheStats(cache.session);
  const cases = [...badBundles, ['good entries then a bad one', goodThenBad] as [string, string], ['a 50 MB string', huge] as [string, string]];
  for (const [name, input] of cases) {
    await assert.rejects(
      importBundle(cache.session, input),
      (e: unknown) => e instanceof AppError && e.code === 'BUNDLE_INVALID' && /Nothing from it was stored/.test(e.message),
      name,
    );
  }
  const after = await cacheStats(cache.session);
  assert.deepEqual({ ...after, auditEntries: 0, signedHeads: 0 }, { ...before, auditEntries: 0, signedHeads: 0 }, 'no resource or patient changed');
  assert.equal(after.auditEntries, before.auditEntries + cases.length, 'each refusal is audited once');
  assert.equal((await cache.db()).prepare("SELECT count(*) FROM resources WHERE id = 'half-import-probe'").pluck().get(), 0);
});

test('imports transaction, collection and searchset bundles, and a re-import updates in place', async () => {
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
    const summary = await importBundle(cache.session, make(type, id));
    assert.equal(summary.resources, 2);
    const chart = await openChart(cache.session, id);
    assert.equal(chart.groups.Observation!.total, 1);
    assert.equal(chart.patient.id, id, 'id taken from the urn:uuid fullUrl');
  }
  const again = await importBundle(cache.session, make('collection', '00000000-0000-4000-8000-000000000001'));
  assert.equal(again.patients, 1);
  const last = (await cache.db()).prepare('SELECT action FROM audit_log WHERE subtype IN (\'create\', \'update\') ORDER BY seq DESC LIMIT 1').pluck();
  assert.equal(last.get(), 'U');
});

test('every resource an import writes is named in its audit entries, those without a patient too (Organization, Practitioner, Medication)', async () => {
  const t = await openTestCache();
  try {
    const db = await t.db();
    const named = () =>
      (db.prepare("SELECT entry FROM audit_log WHERE subtype IN ('create', 'update') AND json_extract(entry, '$[9]') = '0' ORDER BY seq").pluck().all() as string[])
        .map((e) => storedEntry({ entry: e }))
        .flatMap((e) => e.entities);
    const synthea = JSON.parse(readFileSync(SYNTHEA_FILES[0]!, 'utf8')) as { entry: Array<{ resource: { resourceType: string; id: string } }> };
    await importBundle(t.session, readFileSync(SYNTHEA_FILES[0]!));
    assert.deepEqual(new Set(named()), new Set(synthea.entry.map((e) => `${e.resource.resourceType}/${e.resource.id}`)), 'each resource named');
    assert.equal(named().length, synthea.entry.length, 'and named once');

    const noPatient = JSON.stringify({
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { resource: { resourceType: 'Organization', id: 'org-1', name: 'Synthetic Hospital' } },
        { resource: { resourceType: 'Practitioner', id: 'dr-1', name: [{ family: 'Synthetic' }] } },
        { resource: { resourceType: 'Medication', id: 'med-1', code: { text: 'Synthetic' } } },
      ],
    });
    const last = db.prepare('SELECT entry FROM audit_log ORDER BY seq DESC LIMIT 1').pluck();
    await importBundle(t.session, noPatient);
    const created = storedEntry({ entry: last.get() as string });
    assert.deepEqual([created.action, created.subtype, created.patientId, created.outcome], ['C', 'create', null, '0']);
    assert.deepEqual(created.entities, ['Organization/org-1', 'Practitioner/dr-1', 'Medication/med-1']);
    await importBundle(t.session, noPatient);
    const updated = storedEntry({ entry: last.get() as string });
    assert.deepEqual([updated.action, updated.subtype, updated.patientId], ['U', 'update', null]);
    assert.deepEqual(updated.entities, created.entities);
    // An import with nothing in it still leaves its entry.
    await importBundle(t.session, JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [] }));
    const empty = storedEntry({ entry: last.get() as string });
    assert.deepEqual([empty.action, empty.patientId, empty.entities, empty.outcome], ['C', null, [], '0']);
    assert.equal(verifyAuditChain(db, t.session.keys.publicKey, t.session.context.deviceId).ok, true);
  } finally {
    await t.dispose();
  }
});

test('a refused import is audited as a failed import (outcome 4) with no PHI, and exports as a valid BALP failure', async () => {
  const t = await openTestCache();
  try {
    const db = await t.db();
    const count = db.prepare('SELECT count(*) FROM audit_log').pluck();
    const before = count.get() as number;
    await assert.rejects(importBundle(t.session, readFileSync(join(FIXTURES, 'dstu2-bundle.json'))), (e: unknown) => e instanceof AppError && e.code === 'FHIR_VERSION_UNSUPPORTED');
    await assert.rejects(importBundle(t.session, '{"resourceType": "Bundle"'), (e: unknown) => e instanceof AppError && e.code === 'BUNDLE_INVALID');
    assert.equal(count.get(), before + 2);
    const rows = db.prepare('SELECT entry FROM audit_log ORDER BY seq DESC LIMIT 2').pluck().all() as string[];
    for (const row of rows) {
      const e = storedEntry({ entry: row });
      assert.deepEqual([e.action, e.subtype, e.patientId, e.entities, e.query, e.outcome], ['C', 'create', null, [], null, '4']);
      assert.ok(!/dstu2|Testdstu|Synthetic/i.test(row), 'nothing from the bundle in the entry');
    }
    const event = (await auditEventList(t.session)).at(-1) as { outcome: string; action: string; contained: Array<{ resourceType: string; issue: Array<{ diagnostics: string }> }>; entity: Array<{ role?: { code: string } }> };
    assert.equal(event.outcome, '4');
    assert.equal(event.action, 'C');
    assert.equal(event.contained[0]!.resourceType, 'OperationOutcome');
    assert.ok(!event.entity.some((x) => x.role?.code === '1'), 'no patient entity');
    assert.equal(verifyAuditChain(db, t.session.keys.publicKey, t.session.context.deviceId).ok, true);
  } finally {
    await t.dispose();
  }
});

test('a resource with only an absolute fullUrl takes its id from it; a fullUrl that disagrees with the id is refused', async () => {
  const bundle = (fullUrl: string, id?: string) =>
    JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl, resource: { resourceType: 'Organization', ...(id ? { id } : {}), name: 'Synthetic' } }] });
  assert.equal((await importBundle(cache.session, bundle('http://example.org/fhir/Organization/from-url'))).resources, 1);
  assert.equal((await cache.db()).prepare("SELECT json_extract(json, '$.id') FROM resources WHERE id = 'from-url'").pluck().get(), 'from-url');
  for (const [fullUrl, id] of [['http://example.org/fhir/Organization/one', 'other'], ['http://example.org/fhir/Patient/same', 'same']]) {
    await assert.rejects(
      importBundle(cache.session, bundle(fullUrl!, id)),
      (e: unknown) => e instanceof AppError && e.code === 'BUNDLE_INVALID' && /entry 0\b.*fullUrl/.test(e.message),
    );
  }
});

test('the command line imports a.json bad.json c.json: each bundle\'s outcome reported, the third still imported, exit non-zero', async () => {
  const keychain = testKeychain();
  const dir = scratchDir('cli-multi');
  try {
    const dataDir = join(dir.path, 'cache');
    const env = { ...process.env, CLINICIAN_KEYCHAIN_SERVICE: keychain.service };
    const truncated = join(dir.path, 'truncated.json');
    writeFileSync(truncated, readFileSync(SYNTHEA_FILES[2]!).subarray(0, 5000));
    const files = [SYNTHEA_FILES[0]!, join(FIXTURES, 'dstu2-bundle.json'), SYNTHEA_FILES[1]!, join(dir.path, 'missing.json'), truncated];
    const r = runCli(['import', ...files, '--data-dir', dataDir], env);
    assert.notEqual(r.status, 0, 'non-zero when any bundle failed');
    assert.equal(r.status, 1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { bundle: number; imported?: number; refused?: { code: string; message: string } });
    assert.deepEqual(lines.map((l) => l.bundle), [1, 2, 3, 4, 5], 'one line per bundle, in order');
    assert.ok(lines[0]!.imported! > 0 && lines[2]!.imported! > 0, 'the bundle after the bad one was still tried and imported');
    assert.equal(lines[1]!.refused!.code, 'FHIR_VERSION_UNSUPPORTED');
    assert.match(lines[1]!.refused!.message, /This file is FHIR DSTU2, not R4; it was not imported/);
    assert.equal(lines[3]!.refused!.code, 'BUNDLE_INVALID');
    assert.equal(lines[4]!.refused!.code, 'BUNDLE_INVALID');
    assert.match(r.stderr, /bundle 2 of 5: error FHIR_VERSION_UNSUPPORTED/);
    assert.match(r.stderr, /3 of 5 bundles were not imported|2 of 5 bundles imported, 3 refused/);
    assert.deepEqual(findLeaks(Buffer.from(r.stdout + r.stderr), phiNeedles(loadFixturePatients())), [], 'no PHI printed');
    assert.ok(!(r.stdout + r.stderr).includes('dstu2-bundle'), 'bundles named by position, not by file name');

    const session = await openCacheSession({ dataDir, secrets: keychain, actor: 'test', create: false });
    try {
      const db = await inspectCache(session, keychain);
      assert.equal(db.prepare('SELECT count(*) FROM patients').pluck().get(), 2);
      const failed = db.prepare("SELECT count(*) FROM audit_log WHERE json_extract(entry, '$[9]') = '4' AND json_extract(entry, '$[4]') = 'C'").pluck().get();
      assert.equal(failed, 3, 'each refused bundle audited as a failed import');
    } finally {
      await session.close();
    }
  } finally {
    dir.remove();
    await keychain.cleanup();
  }
});
