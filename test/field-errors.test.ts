/**
 * Errors at the field, from the one schema: an invalid vital comes back from
 * dispatch as INVALID_INPUT with each invalid field and the schema's message
 * in words, with the plausible range and the unit as clinicians write it
 * (the stored UCUM units are unchanged), and the headline is that message,
 * not "The request was malformed (heartRate)". The renderer's check with
 * the same schema (fieldErrorsOf) says exactly the same. A hostile payload's
 * values, and the names of keys it made up, never come back in the error
 * (a field name that is not a plain name comes back as '?').
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { importBundle } from '../electron/services/bundle-import';
import { recordVitals } from '../electron/services/charting';
import { outboxSize } from '../electron/services/outbox';
import { createHandlerRegistry, dispatch, type HandlerRegistry } from '../electron/services/handler-registry';
import { typedDecimal, vitalsInputSchema } from '../shared/charting';
import { fieldErrorsOf } from '../shared/field-errors';
import type { AppErrorShape, Result } from '../shared/app-error';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';

const patient = loadFixturePatients()[0]!;
const APP = { url: 'app://clinician/index.html', isMainFrame: true };
const options = { trustedOrigins: ['app://clinician'] };
let cache: TestCache;
let registry: HandlerRegistry;

before(async () => {
  cache = await openTestCache('dr.fields');
  await importBundle(cache.session, readFileSync(SYNTHEA_FILES[0]!));
  registry = createHandlerRegistry({ session: () => cache.session, problem: () => null, actor: () => 'dr.fields' });
});
after(() => cache.dispose());

async function refusal(name: string, payload: unknown): Promise<AppErrorShape> {
  const r = (await dispatch(registry, name, payload, APP, options)) as Result<unknown>;
  assert.equal(r.ok, false, `${name} was accepted`);
  if (r.ok) throw new Error('unreachable');
  assert.equal(r.error.code, 'INVALID_INPUT');
  return r.error;
}

test('each out-of-range vital is refused at its field with the plausible range and unit in words, and that is the headline', async () => {
  const cases: Array<[Record<string, unknown>, string, string]> = [
    [{ heartRate: 900 }, 'heartRate', 'Heart rate must be between 20 and 300 /min'],
    [{ heartRate: 5 }, 'heartRate', 'Heart rate must be between 20 and 300 /min'],
    [{ heartRate: '72' }, 'heartRate', 'Heart rate must be between 20 and 300 /min'],
    [{ heartRate: Number.NaN }, 'heartRate', 'Heart rate must be between 20 and 300 /min'],
    [{ respiratoryRate: 90 }, 'respiratoryRate', 'Respiratory rate must be between 4 and 60 /min'],
    [{ temperature: 98.6 }, 'temperature', 'Temperature must be between 30 and 45 °C'],
    [{ spo2: 101 }, 'spo2', 'Oxygen saturation must be between 50 and 100 %'],
    [{ weight: 0 }, 'weight', 'Weight must be between 0.3 and 400 kg'],
    [{ systolic: 300, diastolic: 80 }, 'systolic', 'Systolic must be between 50 and 260 mmHg'],
    [{ systolic: 120, diastolic: 10 }, 'diastolic', 'Diastolic must be between 25 and 160 mmHg'],
  ];
  for (const [values, field, message] of cases) {
    const error = await refusal('chart.recordVitals', { patientId: patient.id, ...values });
    assert.deepEqual(error.fields, [{ field, message }], JSON.stringify(values));
    assert.equal(error.message, message);
    assert.doesNotMatch(error.message, /malformed/);
  }
});

test('blood pressure rules are at the field they are about; "enter at least one" is about the whole form', async () => {
  assert.deepEqual((await refusal('chart.recordVitals', { patientId: patient.id, systolic: 80, diastolic: 120 })).fields, [
    { field: 'systolic', message: 'Systolic must be above diastolic' },
  ]);
  assert.deepEqual((await refusal('chart.recordVitals', { patientId: patient.id, systolic: 120 })).fields, [
    { field: 'diastolic', message: 'Blood pressure needs both systolic and diastolic' },
  ]);
  assert.deepEqual((await refusal('chart.recordVitals', { patientId: patient.id, diastolic: 80 })).fields, [
    { field: 'systolic', message: 'Blood pressure needs both systolic and diastolic' },
  ]);
  const none = await refusal('chart.recordVitals', { patientId: patient.id });
  assert.deepEqual(none.fields, [{ field: '', message: 'Enter at least one vital sign' }]);
  assert.equal(none.message, 'Enter at least one vital sign');
});

test('several wrong fields each come back, the first as the headline; the renderer\'s own check says the same', async () => {
  const payload = { patientId: patient.id, heartRate: 900, temperature: 20, spo2: 30 };
  const error = await refusal('chart.recordVitals', payload);
  assert.deepEqual(error.fields?.map((f) => f.field), ['heartRate', 'temperature', 'spo2']);
  assert.equal(error.message, 'Heart rate must be between 20 and 300 /min');
  const local = vitalsInputSchema.safeParse(payload);
  assert.equal(local.success, false);
  assert.deepEqual(fieldErrorsOf(local.error!), error.fields, 'client-side and main say the same thing');
});

test('the raised heart-rate range takes 280 /min, and stored units stay UCUM', async () => {
  const r = await dispatch(registry, 'chart.recordVitals', { patientId: patient.id, heartRate: 280, temperature: 39.4, systolic: 182, diastolic: 110 }, APP, options);
  assert.ok(r.ok, JSON.stringify(r));
  // Read through the test's own connection to the cache file (the session's store runs in its worker).
  const units = (await cache.db())
    .prepare("SELECT json_extract(json, '$.valueQuantity.code') AS u, json_extract(json, '$.component[0].valueQuantity.code') AS c FROM resources WHERE id IN (SELECT value FROM json_each(?))")
    .all(JSON.stringify((r.value as { ids: string[] }).ids)) as Array<{ u: string | null; c: string | null }>;
  assert.deepEqual(units.map((x) => x.u ?? x.c).sort(), ['/min', 'Cel', 'mm[Hg]']);
  await assert.rejects(async () => await recordVitals(cache.session, vitalsInputSchema.parse({ patientId: patient.id, heartRate: 301 }), new Date()));
});

test('at most 10 fields, each capped; other schemas\' messages come through too', async () => {
  const issues = Array.from({ length: 12 }, (_, i) => ({ code: 'too_big', path: [`section${i}`, 'aVeryLongFieldNameInsideTheSection'], message: 'm'.repeat(300) }));
  const capped = fieldErrorsOf({ issues });
  assert.equal(capped.length, 10);
  for (const f of capped) assert.ok(f.field.length <= 40 && f.message.length <= 200);
  // Twelve over-long draft fields are one mistake at the body (its keys are input, not the schema's names).
  const body = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`field${i}`, 'x'.repeat(20_001)]));
  const error = await refusal('drafts.put', { patientId: patient.id, kind: 'note', target: '', body });
  assert.deepEqual(error.fields?.map((f) => f.field), ['body']);
  assert.doesNotMatch(JSON.stringify(error), /xxxx|field\d/);
  const problem = await refusal('problems.set', { patientId: patient.id, text: '   ', status: 'cured' });
  assert.deepEqual(problem.fields, [
    { field: 'text', message: 'Enter the problem' },
    { field: 'status', message: 'Choose a status from the list' },
  ]);
  assert.equal(problem.message, 'Enter the problem');
});

test('a hostile payload\'s values and made-up key names never appear in the error, and nothing is queued', async () => {
  const before = await outboxSize(cache.session);
  const SECRET = 'Smith-John-1970-01-01';
  const hostile: Array<[string, unknown]> = [
    ['chart.recordVitals', { patientId: patient.id, heartRate: SECRET }],
    ['chart.recordVitals', { patientId: patient.id, heartRate: 72, [SECRET]: SECRET }],
    ['chart.recordVitals', { patientId: patient.id, heartRate: 72, SmithJohn: SECRET }],
    ['chart.recordVitals', { patientId: `${SECRET}/../x`, heartRate: 72 }],
    ['chart.recordVitals', JSON.parse(`{"__proto__": {"${SECRET}": 1}, "patientId": "${patient.id}", "heartRate": 72, "x${SECRET.replace(/-/g, '')}": 1}`)],
    ['notes.saveDraft', { patientId: patient.id, subjective: `${SECRET} `.repeat(1000), objective: SECRET, assessment: 1, plan: [SECRET] }],
    ['problems.set', { patientId: patient.id, text: SECRET.repeat(40), status: SECRET }],
    ['drafts.put', { patientId: patient.id, kind: 'note', target: '', body: { [SECRET]: SECRET, note: { v: SECRET } } }],
    ['changes.undo', { resourceType: SECRET, resourceId: SECRET }],
    ['patients.search', { query: SECRET.repeat(10), SmithJohn: SECRET }],
  ];
  for (const [name, payload] of hostile) {
    const error = await refusal(name, payload);
    const text = JSON.stringify(error);
    for (const needle of [SECRET, 'Smith', 'John', '1970']) assert.ok(!text.includes(needle), `${name}: ${needle} echoed in ${text}`);
  }
  assert.equal(await outboxSize(cache.session), before);
});

test('keys of a record (a draft body\'s names) never come back: the field is cut at the record', async () => {
  const secret = 'JaneDoe_HIV_positive';
  const named = await refusal('drafts.put', { patientId: patient.id, kind: 'note', target: '', body: { [secret]: 'x' } });
  const tooLong = await refusal('drafts.put', { patientId: patient.id, kind: 'note', target: '', body: { JaneDoeHIVpositive: 'x'.repeat(20_001) } });
  for (const error of [named, tooLong]) {
    assert.ok(!/JaneDoe/i.test(JSON.stringify(error)), `the key came back: ${JSON.stringify(error)}`);
    assert.deepEqual(error.fields?.map((f) => f.field), ['body']);
  }
});

test('typed numbers: only plain decimals (point or comma, full-width digits) are numbers; hex, exponents and infinities are not', () => {
  assert.equal(typedDecimal('38.5'), 38.5);
  assert.equal(typedDecimal(' 38,5 '), 38.5);
  assert.equal(typedDecimal('３８．５'), 38.5);
  assert.equal(typedDecimal('80'), 80);
  for (const junk of ['0x50', '1e2', '0b101', '0o17', 'Infinity', '∞', '1_000', '38.5.1', '38,5,1', '', ' ', '.', '+', 'NaN']) {
    assert.ok(Number.isNaN(typedDecimal(junk)), `${JSON.stringify(junk)} is not a number a clinician typed`);
  }
  const parsed = vitalsInputSchema.safeParse({ patientId: 'p1', heartRate: typedDecimal('0x50') });
  assert.equal(parsed.success, false, '"0x50" never reaches the cache as 80');
});
