/**
 * What chart.open sends: a patient's newest observation of each code instead
 * of the observation history (chart.results sends the history when the
 * Results tab asks), and the safety lists whole (every allergy and problem,
 * every current medication request besides the newest): through the app's handler registry and dispatch (the
 * contract's schemas checked) on a real encrypted cache in its store worker.
 * A code status recorded before hundreds of newer results still reaches the
 * banner; a newer reading entered in error or cancelled never stands in for
 * the latest; a code carried by any coding counts; each read is audited
 * naming exactly what was sent.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHandlerRegistry, dispatch, type HandlerRegistry } from '../electron/services/handler-registry';
import { importBundle } from '../electron/services/bundle-import';
import { storedEntry } from '../electron/services/audit-chain';
import type { Caller } from '../electron/services/caller-policy';
import type { Chart, ChartGroup } from '../shared/contract';
import { CHART_ITEMS_PER_TYPE } from '../electron/services/patient-records';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { ALLERGIES, COMPLETED_MEDICATIONS, ENCOUNTERS, OBSERVATIONS, PATIENT, PROBLEMS, SAFETY_PATIENT, longHistoryBundle, safetyListsBundle } from './support/long-history-patient';

const ORIGIN = 'app://clinician';
const APP: Caller = { url: `${ORIGIN}/index.html`, isMainFrame: true };
const options = { trustedOrigins: [ORIGIN] };

let cache: TestCache;
let registry: HandlerRegistry;


before(async () => {
  cache = await openTestCache('dr.latest');
  await importBundle(cache.session, longHistoryBundle());
  await importBundle(cache.session, safetyListsBundle());
  registry = createHandlerRegistry({ session: () => cache.session, problem: () => null, actor: () => 'dr.latest' });
});
after(() => cache.dispose());

async function call<T>(name: string, payload: unknown): Promise<T> {
  const r = await dispatch(registry, name, payload, APP, options);
  if (!r.ok) throw new Error(`${name}: ${r.error.code}`);
  return r.value as T;
}

/** The entities of the patient's read entries, oldest first. */
async function readEntities(): Promise<string[][]> {
  const db = await cache.db();
  const rows = db.prepare("SELECT entry FROM audit_log WHERE patient_id = ? AND action = 'R' ORDER BY seq").pluck().all(PATIENT) as string[];
  return rows.map((entry) => storedEntry({ entry }).entities);
}

test('chart.open: the newest usable observation of each code the summary shows, in any coding, once each; the code status however many results came after it', async () => {
  const before = (await readEntities()).length;
  const chart = await call<Chart>('chart.open', { patientId: PATIENT });
  assert.equal(chart.groups.Observation?.total, OBSERVATIONS, 'every observation counted');
  assert.deepEqual(chart.groups.Observation?.items, [], 'the history is not sent with the chart');
  const ids = chart.latestObservations.map((o) => o.id).sort();
  // Not the newest glucose: the summary shows vital signs and the code status only.
  assert.deepEqual(ids, ['bp-local-first', 'code-status', 'height-two-codes', 'hr-usable', 'spo2-two-codes'].sort(), 'each once, the SpO2 carrying two summary codes too');
  // Read entries name the patient and exactly the observations sent.
  const entries = (await readEntities()).slice(before);
  assert.deepEqual(entries.flat().sort(), [`Patient/${PATIENT}`, ...ids.map((id) => `Observation/${id}`)].sort());
});

test('chart.results: the newest observations (at most CHART_ITEMS_PER_TYPE) and their count, audited naming each', async () => {
  const before = (await readEntities()).length;
  const results = await call<ChartGroup>('chart.results', { patientId: PATIENT });
  assert.equal(results.total, OBSERVATIONS);
  assert.equal(results.items.length, CHART_ITEMS_PER_TYPE);
  const dates = results.items.map((o) => String(o.effectiveDateTime));
  assert.deepEqual(dates, [...dates].sort().reverse(), 'newest first');
  assert.equal(results.items[0]!.id, 'hr-error', 'the history holds every reading, voided ones with their status');
  assert.ok(!results.items.some((o) => o.id === 'code-status'), 'the oldest are past the window');
  const entries = (await readEntities()).slice(before);
  assert.deepEqual(entries.flat(), [`Patient/${PATIENT}`, ...results.items.map((o) => `Observation/${o.id}`)]);
});

test('chart.open counts the encounters; chart.encounters sends them newest first, audited naming each', async () => {
  const chart = await call<Chart>('chart.open', { patientId: PATIENT });
  assert.deepEqual(chart.groups.Encounter, { total: ENCOUNTERS, items: [] });
  const before = (await readEntities()).length;
  const encounters = await call<ChartGroup>('chart.encounters', { patientId: PATIENT });
  assert.equal(encounters.total, ENCOUNTERS);
  assert.deepEqual(encounters.items.map((e) => e.id), ['encounter-2', 'encounter-1', 'encounter-0']);
  assert.deepEqual((await readEntities()).slice(before).flat(), [`Patient/${PATIENT}`, 'Encounter/encounter-2', 'Encounter/encounter-1', 'Encounter/encounter-0']);
});

test('chart.results and chart.encounters of a patient not in the cache are NOT_FOUND, audited as failed reads, and name nothing else', async () => {
  for (const name of ['chart.results', 'chart.encounters']) {
    const r = await dispatch(registry, name, { patientId: 'not-in-cache' }, APP, options);
    assert.deepEqual(r.ok ? null : r.error, { code: 'NOT_FOUND', message: "That patient is not in this computer's cache." });
  }
  const db = await cache.db();
  const rows = db.prepare("SELECT entry FROM audit_log WHERE patient_id = 'not-in-cache'").pluck().all() as string[];
  const failed = [['R', '4', ['Patient/not-in-cache']]];
  assert.deepEqual(rows.map((entry) => { const e = storedEntry({ entry }); return [e.action, e.outcome, e.entities]; }), [...failed, ...failed]);
});

test('chart.open sends every allergy and problem however many, and an active medication older than the newest completed ones', async () => {
  const chart = await call<Chart>('chart.open', { patientId: SAFETY_PATIENT });
  assert.equal(chart.groups.AllergyIntolerance?.items.length, ALLERGIES, 'the allergy list whole');
  assert.equal(chart.groups.Condition?.total, PROBLEMS);
  assert.equal(chart.groups.Condition?.items.length, PROBLEMS, 'the problem list whole');
  assert.ok(chart.groups.Condition?.items.some((c) => c.id === 'problem-0'), 'the oldest problem, the active one, is there');
  const meds = chart.groups.MedicationRequest!;
  assert.equal(meds.total, COMPLETED_MEDICATIONS + 1);
  assert.equal(meds.items.length, CHART_ITEMS_PER_TYPE + 1, 'the newest 200, and the current one older than them');
  assert.equal(meds.items.at(-1)!.id, 'warfarin-active', 'newest first: the current one from long ago is last');
  assert.ok(!meds.items.some((m) => m.id === 'completed-0'), 'old completed requests stay past the window');
});
