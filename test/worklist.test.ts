/**
 * "My patients": every cached patient with their latest encounter and flags.
 * The critical fixture's latest vitals are all critical; a Synthea patient's
 * flags equal what a full scan of their record says; drafts, waiting
 * changes, conflicts and allergies are counted per patient; every listed
 * patient gets its audit entry; the list is capped; and the latest vital
 * signs are found by index seeks (measured on 200 patients).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importBundle } from '../electron/services/bundle-import';
import { recordVitals } from '../electron/services/charting';
import { putDraft } from '../electron/services/drafts';
import { listConflicts } from '../electron/services/conflicts';
import { patientWorklist } from '../electron/services/worklist';
import { createHandlerRegistry, dispatch } from '../electron/services/handler-registry';
import { ADULT_VITAL_RANGES, flagOf, isAbnormal, isCritical } from '../shared/clinical-ranges';
import { WORKLIST_MAX, type WorklistRow } from '../shared/contract';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';
import { syntheticPatientBundle } from './support/synthetic-bundles';

const CRITICAL_FILE = join(process.cwd(), 'test', 'fixtures', 'critical-patient.json');
const CRITICAL_ID = 'crit-patient-0001';
const synthea = loadFixturePatients();
let cache: TestCache;

before(async () => {
  cache = await openTestCache('dr.worklist');
  for (const file of SYNTHEA_FILES) importBundle(cache.session, readFileSync(file));
  importBundle(cache.session, readFileSync(CRITICAL_FILE));
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
  const all = (cache.session.db.prepare("SELECT json FROM resources WHERE resource_type = 'Observation' AND patient_id = ?").pluck().all(patientId) as string[]).map(
    (j) => JSON.parse(j) as Json,
  );
  let abnormal = 0;
  let critical = 0;
  for (const range of ADULT_VITAL_RANGES) {
    const readings: Array<{ at: string; value: number }> = [];
    for (const o of all) {
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

test('the critical patient: latest encounter, six critical vital signs (not the normal 2020 ones), two allergies', () => {
  const { patients, truncated } = patientWorklist(cache.session);
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

test('Synthea patients: flags equal a full scan of their record; rows sorted by name', (t) => {
  const started = performance.now();
  const { patients } = patientWorklist(cache.session);
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

test('a new reading replaces the old one: a high heart rate is abnormal, not critical; drafts, waiting changes and conflicts are counted per patient', () => {
  const p = synthea[0]!;
  const before = rowOf(patientWorklist(cache.session).patients, p.id).flags;
  recordVitals(cache.session, { patientId: p.id, heartRate: 110, systolic: 120, diastolic: 80, temperature: 36.8, spo2: 98, respiratoryRate: 16 }, new Date('2026-11-25T12:00:00Z'));
  putDraft(cache.session, { patientId: p.id, kind: 'vitals', target: '', body: { heartRate: '1' } }, new Date());
  putDraft(cache.session, { patientId: p.id, kind: 'note', target: '', body: { plan: 'x' } }, new Date());
  // A conflict the sync left for this patient's condition (as sync settle writes it).
  const condition = cache.session.db.prepare("SELECT id, json FROM resources WHERE resource_type = 'Condition' AND patient_id = ? LIMIT 1").get(p.id) as { id: string; json: string };
  cache.session.db
    .prepare("INSERT INTO conflicts (idempotency_key, resource_type, resource_id, mine, theirs, their_version, detected_at) VALUES (?, 'Condition', ?, ?, ?, '2', ?)")
    .run('0b6f6a43-3f0b-4d5e-9c1c-3f4e8a7b9c10', condition.id, condition.json, condition.json, new Date().toISOString());
  const after = rowOf(patientWorklist(cache.session).patients, p.id).flags;
  assert.equal(after.abnormalVitals, 1, 'heart rate 110 is high');
  assert.equal(after.criticalVitals, 0);
  assert.equal(after.drafts, before.drafts + 2);
  assert.equal(after.waiting, before.waiting + 5, 'five vital-sign Observations wait for the backend');
  assert.equal(after.conflicts, before.conflicts + 1);
  // The conflict view names whose record it is.
  const conflict = listConflicts(cache.session).find((c) => c.resourceId === condition.id)!;
  assert.equal(conflict.patientName, rowOf(patientWorklist(cache.session).patients, p.id).name);
  const others = patientWorklist(cache.session).patients.filter((r) => r.id !== p.id);
  assert.ok(others.every((r) => r.flags.drafts === 0 && r.flags.waiting === 0 && r.flags.conflicts === 0), 'nothing counted for anyone else');
});

test('every listed patient is audited as a worklist query, through the registry too', async () => {
  const entries = () =>
    cache.session.db.prepare("SELECT patient_id FROM audit_log WHERE action = 'E' AND subtype = 'search-type' AND query = 'worklist'").pluck().all() as string[];
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
      importBundle(big.session, JSON.stringify(syntheticPatientBundle({ patientId: `wl-${String(i).padStart(4, '0')}`, observations: 100 })));
    }
    const times: number[] = [];
    let result = patientWorklist(big.session);
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      result = patientWorklist(big.session);
      times.push(performance.now() - started);
    }
    const { patients, truncated } = result;
    t.diagnostic(`worklist of ${patients.length} patients with 100 observations each: ${times.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    assert.equal(patients.length, WORKLIST_MAX);
    assert.equal(truncated, true);
    const plan = big.session.db
      .prepare(
        "EXPLAIN QUERY PLAN SELECT sort_date AS at, json FROM resources WHERE patient_id = ? AND resource_type = 'Observation' AND json_extract(json, '$.code.coding[0].code') = ? ORDER BY sort_date DESC LIMIT 1",
      )
      .all('wl-0001', '8867-4') as Array<{ detail: string }>;
    assert.match(plan.map((p) => p.detail).join('\n'), /USING INDEX resources_by_code/);
  } finally {
    await big.dispose();
  }
});
