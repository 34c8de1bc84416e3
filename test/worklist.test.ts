/**
 * "My patients": every cached patient with their latest encounter and flags.
 * The critical fixture's latest vitals are all critical; a Synthea patient's
 * flags equal what a full scan of their record says; drafts, waiting
 * changes, conflicts and allergies are counted per patient; every listed
 * patient gets its audit entry; the list is capped; a vital sign's LOINC
 * code counts in any coding, and its latest reading is the newest with a
 * value that was not entered in error or cancelled; no statement of the
 * worklist walks the resources table (EXPLAIN QUERY PLAN on 200 patients x
 * 150 observations); observation_codes follows resources through the
 * upgrade and every write.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3-multiple-ciphers';
import { importBundle } from '../electron/services/bundle-import';
import { applyMigrations } from '../electron/services/cache-migrations';
import { recordVitals } from '../electron/services/charting';
import { putDraft } from '../electron/services/drafts';
import { listConflicts } from '../electron/services/conflicts';
import { patientWorklist } from '../electron/services/worklist';
import { WORKLIST_STATEMENTS } from '../electron/services/store/operations/worklist-read';
import { createHandlerRegistry, dispatch } from '../electron/services/handler-registry';
import { ADULT_VITAL_RANGES, flagOf, isAbnormal, isCritical } from '../shared/clinical-ranges';
import { WORKLIST_MAX, type WorklistRow } from '../shared/contract';
import type { CacheDatabase } from '../electron/services/cache-database';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';
import { syntheticPatientBundle } from './support/synthetic-bundles';

const CRITICAL_FILE = join(process.cwd(), 'test', 'fixtures', 'critical-patient.json');
const CRITICAL_ID = 'crit-patient-0001';
const synthea = loadFixturePatients();
let cache: TestCache;
/** The test's own connection to the shared cache's file (the oracle's reads, a conflict arranged). */
let db: CacheDatabase;

before(async () => {
  cache = await openTestCache('dr.worklist');
  db = await cache.db();
  for (const file of SYNTHEA_FILES) await importBundle(cache.session, readFileSync(file));
  await importBundle(cache.session, readFileSync(CRITICAL_FILE));
});
after(() => cache.dispose());

function rowOf(rows: WorklistRow[], id: string): WorklistRow {
  const row = rows.find((r) => r.id === id);
  assert.ok(row, 'patient listed');
  return row;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The oracle: every Observation of the patient parsed, the newest reading per vital sign flagged. */
function scanFlags(patientId: string): { abnormal: number; critical: number } {
  const all = (db.prepare("SELECT json FROM resources WHERE resource_type = 'Observation' AND patient_id = ?").pluck().all(patientId) as string[]).map(
    (j) => JSON.parse(j) as Json,
  );
  let abnormal = 0;
  let critical = 0;
  for (const range of ADULT_VITAL_RANGES) {
    const readings: Array<{ at: string; value: number }> = [];
    for (const o of all) {
      if (o.status === 'entered-in-error' || o.status === 'cancelled') continue;
      const codes: string[] = (o.code?.coding ?? []).map((c: Json) => c.code);
      if (codes.some((c) => range.loinc.includes(c)) && typeof o.valueQuantity?.value === 'number') readings.push({ at: o.effectiveDateTime, value: o.valueQuantity.value });
      const part = range.key === 'systolic' ? '8480-6' : range.key === 'diastolic' ? '8462-4' : null;
      if (part && codes.some((c) => c === '85354-9' || c === '55284-4')) {
        const comp = (o.component ?? []).find((c: Json) => c.code?.coding?.some((x: Json) => x.code === part));
        if (typeof comp?.valueQuantity?.value === 'number') readings.push({ at: o.effectiveDateTime, value: comp.valueQuantity.value });
      }
    }
    readings.sort((a, b) => (a.at < b.at ? 1 : -1));
    if (!readings[0]) continue;
    const flag = flagOf(readings[0].value, range);
    if (isAbnormal(flag)) abnormal++;
    if (isCritical(flag)) critical++;
  }
  return { abnormal, critical };
}

test('the critical patient: latest encounter, six critical vital signs (not the normal 2020 ones), two allergies', async () => {
  const { patients, truncated } = await patientWorklist(cache.session);
  assert.equal(truncated, false);
  assert.equal(patients.length, synthea.length + 1);
  const row = rowOf(patients, CRITICAL_ID);
  assert.equal(row.name, 'Marguerite Vantongeren');
  assert.deepEqual(row.latestEncounter, { date: '2026-11-25T03:00:00Z', classCode: 'IMP', type: 'Hospital admission (procedure)' });
  // 14:20: BP 182/110, HR 131, RR 28, 39.4 °C, SpO2 86 %: each at or past its critical bound.
  assert.equal(row.flags.criticalVitals, 6);
  assert.equal(row.flags.abnormalVitals, 6);
  assert.equal(row.flags.allergies, 2);
  assert.deepEqual({ drafts: row.flags.drafts, waiting: row.flags.waiting, conflicts: row.flags.conflicts }, { drafts: 0, waiting: 0, conflicts: 0 });
});

test('Synthea patients: flags equal a full scan of their record; rows sorted by name', async (t) => {
  const started = performance.now();
  const { patients } = await patientWorklist(cache.session);
  t.diagnostic(`worklist of the Synthea fixtures and the critical patient: ${(performance.now() - started).toFixed(1)} ms`);
  assert.deepEqual(
    patients.map((p) => p.name),
    [...patients.map((p) => p.name)].sort((a, b) => a.localeCompare(b)),
  );
  for (const p of synthea) {
    const row = rowOf(patients, p.id);
    const oracle = scanFlags(p.id);
    assert.deepEqual({ abnormal: row.flags.abnormalVitals, critical: row.flags.criticalVitals }, oracle, p.id);
    const encounters = p.bundle.entry.map((e) => e.resource).filter((r) => r.resourceType === 'Encounter') as Json[];
    const newest = encounters.sort((a, b) => (a.period.start < b.period.start ? 1 : -1))[0]!;
    assert.equal(row.latestEncounter?.date, newest.period.start);
    assert.equal(row.latestEncounter?.classCode, newest.class.code);
    assert.equal(row.latestEncounter?.type, newest.type[0].text ?? newest.type[0].coding[0].display);
  }
});

test('a new reading replaces the old one: a high heart rate is abnormal, not critical; drafts, waiting changes and conflicts are counted per patient', async () => {
  const p = synthea[0]!;
  const before = rowOf((await patientWorklist(cache.session)).patients, p.id).flags;
  await recordVitals(cache.session, { patientId: p.id, heartRate: 110, systolic: 120, diastolic: 80, temperature: 36.8, spo2: 98, respiratoryRate: 16 }, new Date('2026-11-25T12:00:00Z'));
  await putDraft(cache.session, { patientId: p.id, kind: 'vitals', target: '', body: { heartRate: '1' } }, new Date());
  await putDraft(cache.session, { patientId: p.id, kind: 'note', target: '', body: { plan: 'x' } }, new Date());
  // A conflict the sync left for this patient's condition (as sync settle writes it).
  const condition = db.prepare("SELECT id, json FROM resources WHERE resource_type = 'Condition' AND patient_id = ? LIMIT 1").get(p.id) as { id: string; json: string };
  db
    .prepare("INSERT INTO conflicts (idempotency_key, resource_type, resource_id, mine, theirs, their_version, detected_at) VALUES (?, 'Condition', ?, ?, ?, '2', ?)")
    .run('0b6f6a43-3f0b-4d5e-9c1c-3f4e8a7b9c10', condition.id, condition.json, condition.json, new Date().toISOString());
  const after = rowOf((await patientWorklist(cache.session)).patients, p.id).flags;
  assert.equal(after.abnormalVitals, 1, 'heart rate 110 is high');
  assert.equal(after.criticalVitals, 0);
  assert.equal(after.drafts, before.drafts + 2);
  assert.equal(after.waiting, before.waiting + 5, 'five vital-sign Observations wait for the backend');
  assert.equal(after.conflicts, before.conflicts + 1);
  // The conflict view names whose record it is.
  const conflict = (await listConflicts(cache.session)).find((c) => c.resourceId === condition.id)!;
  assert.equal(conflict.patientName, rowOf((await patientWorklist(cache.session)).patients, p.id).name);
  const others = (await patientWorklist(cache.session)).patients.filter((r) => r.id !== p.id);
  assert.ok(others.every((r) => r.flags.drafts === 0 && r.flags.waiting === 0 && r.flags.conflicts === 0), 'nothing counted for anyone else');
});

test('every listed patient is audited as a worklist query, through the registry too', async () => {
  const entries = () =>
    db.prepare("SELECT patient_id FROM audit_log WHERE action = 'E' AND subtype = 'search-type' AND query = 'worklist'").pluck().all() as string[];
  const before = entries().length;
  const registry = createHandlerRegistry({ session: () => cache.session, problem: () => null, actor: () => 'dr.worklist' });
  const r = await dispatch(registry, 'patients.worklist', {}, { url: 'app://clinician/index.html', isMainFrame: true }, { trustedOrigins: ['app://clinician'] });
  assert.ok(r.ok, JSON.stringify(r));
  const listed = (r.value as { patients: WorklistRow[] }).patients.map((p) => p.id);
  assert.deepEqual(entries().slice(before).sort(), [...listed].sort());
});

test(`at most ${WORKLIST_MAX} patients (truncated), and the latest vital signs come from index seeks`, async (t) => {
  const big = await openTestCache('dr.worklist.big');
  try {
    const n = WORKLIST_MAX + 5;
    for (let i = 0; i < n; i++) {
      await importBundle(big.session, JSON.stringify(syntheticPatientBundle({ patientId: `wl-${String(i).padStart(4, '0')}`, observations: 100 })));
    }
    const times: number[] = [];
    let result = await patientWorklist(big.session);
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      result = await patientWorklist(big.session);
      times.push(performance.now() - started);
    }
    const { patients, truncated } = result;
    t.diagnostic(`worklist of ${patients.length} patients with 100 observations each: ${times.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    assert.equal(patients.length, WORKLIST_MAX);
    assert.equal(truncated, true);
    assertIndexSeeksOnly(await big.db());
  } finally {
    await big.dispose();
  }
});

/** EXPLAIN QUERY PLAN of every statement the worklist runs: none walks the resources table (a SCAN, or a range over every patient's rows). */
function assertIndexSeeksOnly(db: CacheDatabase): void {
  for (const [name, sql] of Object.entries(WORKLIST_STATEMENTS)) {
    const params = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 'x');
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((p) => p.detail).join(' | ');
    assert.doesNotMatch(plan, /SCAN (resources|r)\b|SCAN observation_codes|USING (COVERING )?INDEX \w+ \(patient_id>\?\)/, `${name}: ${plan}`);
    if (/FROM resources|JOIN resources/.test(sql)) assert.match(plan, /SEARCH (resources|r) USING/, `${name} seeks resources by index: ${plan}`);
  }
}

const LOINC = 'http://loinc.org';
function flagBundle(pid: string, obs: Array<Record<string, unknown>>): string {
  const entry = [
    { fullUrl: `urn:uuid:${pid}`, resource: { resourceType: 'Patient', id: pid, name: [{ family: `Flag${pid.slice(-2)}`, given: ['Test'] }], birthDate: '1950-01-01' } },
    ...obs.map((o, i) => ({
      fullUrl: `urn:uuid:${pid}-o${i}`,
      resource: { resourceType: 'Observation', id: `${pid}-o${i}`, status: 'final', subject: { reference: `Patient/${pid}` }, category: [{ coding: [{ code: 'vital-signs' }] }], ...o },
    })),
  ];
  return JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry: entry.map((e) => ({ ...e, request: { method: 'POST', url: e.resource.resourceType } })) });
}
const hr = (value: number, at: string, extra: Record<string, unknown> = {}) => ({
  code: { coding: [{ system: LOINC, code: '8867-4' }] }, effectiveDateTime: at, valueQuantity: { value, unit: '/min', code: '/min' }, ...extra,
});
const bp = (systolic: Record<string, unknown>, at: string) => ({
  code: { coding: [{ system: LOINC, code: '85354-9' }] },
  effectiveDateTime: at,
  component: [
    { code: { coding: [{ system: LOINC, code: '8480-6' }] }, ...systolic },
    { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: 80, unit: 'mm[Hg]' } },
  ],
});

test('a critical value is flagged whichever coding carries its LOINC code; the newest reading with a value that was not entered in error counts', async () => {
  const s = cache.session;
  // HR 145 coded with a local code first, LOINC second (common in real feeds).
  await importBundle(s, flagBundle('flag-pt-a1', [{ code: { coding: [{ system: 'urn:local', code: 'HR' }, { system: LOINC, code: '8867-4' }] }, effectiveDateTime: '2026-11-25T08:00:00Z', valueQuantity: { value: 145, unit: '/min', code: '/min' } }]));
  // HR 145, then a newer HR without a value (dataAbsentReason).
  await importBundle(s, flagBundle('flag-pt-b2', [hr(145, '2026-11-25T08:00:00Z'), { code: { coding: [{ system: LOINC, code: '8867-4' }] }, effectiveDateTime: '2026-11-25T09:00:00Z', dataAbsentReason: { text: 'not performed' } }]));
  // HR 145, then a newer 72 entered in error.
  await importBundle(s, flagBundle('flag-pt-c3', [hr(145, '2026-11-25T08:00:00Z'), hr(72, '2026-11-25T09:00:00Z', { status: 'entered-in-error' })]));
  // HR 72, then a newer 145 entered in error, and a newer 150 cancelled: normal.
  await importBundle(s, flagBundle('flag-pt-d4', [hr(72, '2026-11-25T08:00:00Z'), hr(145, '2026-11-25T09:00:00Z', { status: 'entered-in-error' }), hr(150, '2026-11-25T10:00:00Z', { status: 'cancelled' })]));
  // Systolic 200 in a BP panel, then a newer panel whose systolic has no value: the 200 still counts (the diastolic 80 is normal).
  await importBundle(s, flagBundle('flag-pt-e5', [bp({ valueQuantity: { value: 200, unit: 'mm[Hg]' } }, '2026-11-25T08:00:00Z'), bp({ dataAbsentReason: { text: 'cuff failed' } }, '2026-11-25T09:00:00Z')]));
  const rows = (await patientWorklist(s)).patients;
  const flags = (id: string) => {
    const f = rowOf(rows, id).flags;
    return { abnormal: f.abnormalVitals, critical: f.criticalVitals };
  };
  assert.deepEqual(flags('flag-pt-a1'), { abnormal: 1, critical: 1 }, 'LOINC in coding[1]');
  assert.deepEqual(flags('flag-pt-b2'), { abnormal: 1, critical: 1 }, 'a newer reading without a value does not hide HR 145');
  assert.deepEqual(flags('flag-pt-c3'), { abnormal: 1, critical: 1 }, 'an entered-in-error HR 72 does not hide HR 145');
  assert.deepEqual(flags('flag-pt-d4'), { abnormal: 0, critical: 0 }, 'entered-in-error and cancelled readings do not count');
  assert.deepEqual(flags('flag-pt-e5'), { abnormal: 1, critical: 1 }, 'a panel without a systolic value does not hide systolic 200');
  for (const id of ['flag-pt-a1', 'flag-pt-b2', 'flag-pt-c3', 'flag-pt-d4', 'flag-pt-e5']) assert.deepEqual(flags(id), scanFlags(id), `${id} equals the full scan`);
});

test('200 patients x 150 observations: waiting changes, conflicts and latest vital signs are counted by index seeks, never a walk over every resource', async (t) => {
  const big = await openTestCache('dr.worklist.scan');
  try {
    for (let i = 0; i < 200; i++) await importBundle(big.session, JSON.stringify(syntheticPatientBundle({ patientId: `sc-${String(i).padStart(4, '0')}`, observations: 150 })));
    // Something waiting and in conflict for one patient, so the counts have rows to find.
    await recordVitals(big.session, { patientId: 'sc-0007', heartRate: 80 }, new Date('2026-11-25T12:00:00Z'));
    assertIndexSeeksOnly(await big.db());
    await patientWorklist(big.session);
    const started = performance.now();
    const { patients } = await patientWorklist(big.session);
    t.diagnostic(`worklist of ${patients.length} patients with 150 observations each: ${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(rowOf(patients, 'sc-0007').flags.waiting, 1);
    assert.ok(patients.filter((p) => p.id !== 'sc-0007').every((p) => p.flags.waiting === 0));
  } finally {
    await big.dispose();
  }
});

test('observation_codes follows resources: filled from the cache on upgrade, then kept by every insert, update and delete', async () => {
  const db = new Database(':memory:');
  try {
    applyMigrations(db);
    // Back to a version-6 cache holding observations, as an upgrade meets it.
    db.exec(`DROP TRIGGER observation_codes_insert; DROP TRIGGER observation_codes_update; DROP TRIGGER observation_codes_delete; DROP TABLE observation_codes;
      CREATE INDEX resources_by_code ON resources (patient_id, resource_type, json_extract(json, '$.code.coding[0].code'), sort_date);
      DROP TABLE glass_grants;
      PRAGMA user_version = 6;`);
    const insert = db.prepare("INSERT INTO resources (resource_type, id, patient_id, sort_date, json) VALUES ('Observation', ?, 'p1', ?, ?)");
    const obs = (codes: unknown[]) => JSON.stringify({ resourceType: 'Observation', code: { coding: codes } });
    insert.run('o1', '2026-01-01', obs([{ code: 'HR' }, { code: '8867-4' }]));
    insert.run('o2', '2026-01-02', JSON.stringify({ resourceType: 'Observation', code: { coding: 'junk' } }));
    insert.run('o3', '2026-01-03', obs(['junk', { system: 'x' }, { code: '8867-4' }, { code: '8867-4' }]));
    applyMigrations(db);
    const codes = () =>
      db.prepare('SELECT r.id, c.code, c.sort_date FROM observation_codes c JOIN resources r ON r.rowid = c.resource_rowid ORDER BY r.id, c.code').all();
    assert.deepEqual(codes(), [
      { id: 'o1', code: '8867-4', sort_date: '2026-01-01' },
      { id: 'o1', code: 'HR', sort_date: '2026-01-01' },
      { id: 'o3', code: '8867-4', sort_date: '2026-01-03' },
    ]);
    insert.run('o4', '2026-01-04', obs([{ code: '59408-5' }]));
    db.prepare("UPDATE resources SET json = ?, sort_date = '2026-02-01' WHERE id = 'o1'").run(obs([{ code: '8310-5' }]));
    db.prepare("DELETE FROM resources WHERE id = 'o3'").run();
    db.prepare("INSERT INTO resources (resource_type, id, patient_id, sort_date, json) VALUES ('Condition', 'c1', 'p1', '2026-01-01', ?)").run(obs([{ code: '1' }]));
    assert.deepEqual(codes(), [
      { id: 'o1', code: '8310-5', sort_date: '2026-02-01' },
      { id: 'o4', code: '59408-5', sort_date: '2026-01-04' },
    ]);
  } finally {
    db.close();
  }
});
