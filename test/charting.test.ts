/**
 * Charting in the encrypted cache: vitals become LOINC-coded Observations
 * and implausible values are refused; a SOAP note is a draft until signed
 * and immutable after; a correction is an addendum that appends to it;
 * problem list changes are Conditions. Every change is written with its
 * outbox entry and audit entry, all or nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { importBundle } from '../electron/services/bundle-import';
import { addAddendum, recordVitals, saveNoteDraft, setProblem, signNote } from '../electron/services/charting';
import { outboxSize, syncCounts } from '../electron/services/outbox';
import { verifyAuditChain } from '../electron/services/audit-chain';
import { createHandlerRegistry, dispatch } from '../electron/services/handler-registry';
import { vitalsInputSchema } from '../shared/charting';
import { AppError } from '../shared/app-error';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { openCacheSession } from '../electron/services/cache-session';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { join } from 'node:path';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';

const patient = loadFixturePatients()[0]!;
const now = new Date('2026-11-25T10:00:00Z');
let cache: TestCache;

const scratch = scratchDir('charting');
const keychain = testKeychain();

before(async () => {
  cache = await openTestCache('dr.chart');
  await importBundle(cache.session, readFileSync(SYNTHEA_FILES[0]!));
});
after(async () => {
  await cache.dispose();
  scratch.remove();
  await keychain.cleanup();
});

/** A resource as the cache file holds it, read through the test's own connection (the store runs in its worker). */
async function stored(type: string, id: string): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return JSON.parse((await cache.db()).prepare('SELECT json FROM resources WHERE resource_type = ? AND id = ?').pluck().get(type, id) as string);
}

test('vitals become LOINC-coded vital-sign Observations with UCUM units, queued in one transaction', async () => {
  const before = await outboxSize(cache.session);
  const { ids } = await recordVitals(cache.session, { patientId: patient.id, heartRate: 72, systolic: 120, diastolic: 80, temperature: 37.2, spo2: 98 }, now);
  assert.equal(ids.length, 4);
  assert.equal(await outboxSize(cache.session), before + 4);
  const observations = await Promise.all(ids.map((id) => stored('Observation', id)));
  const byCode = new Map(observations.map((o) => [o.code.coding[0].code as string, o]));
  assert.equal(byCode.get('8867-4')!.valueQuantity.value, 72);
  assert.equal(byCode.get('8867-4')!.valueQuantity.system, 'http://unitsofmeasure.org');
  assert.equal(byCode.get('8310-5')!.valueQuantity.code, 'Cel');
  const bp = byCode.get('85354-9')!;
  assert.deepEqual(bp.component.map((c: { code: { coding: Array<{ code: string }> }; valueQuantity: { value: number } }) => [c.code.coding[0]!.code, c.valueQuantity.value]), [['8480-6', 120], ['8462-4', 80]]);
  for (const o of observations) {
    assert.equal(o.category[0].coding[0].code, 'vital-signs');
    assert.equal(o.subject.reference, `Patient/${patient.id}`);
  }
});

test('implausible or incomplete vitals are refused', () => {
  const bad = [
    { patientId: patient.id },
    { patientId: patient.id, heartRate: 900 },
    { patientId: patient.id, heartRate: -1 },
    { patientId: patient.id, temperature: 60 },
    { patientId: patient.id, spo2: 101 },
    { patientId: patient.id, systolic: 120 },
    { patientId: patient.id, systolic: 80, diastolic: 120 },
    { patientId: patient.id, heartRate: Number.NaN },
    { patientId: patient.id, heartRate: '72' },
  ];
  for (const input of bad) assert.equal(vitalsInputSchema.safeParse(input).success, false, JSON.stringify(input));
});

test('a note is a draft until signed, then immutable; a correction is an addendum that appends to it', async () => {
  const draft = { patientId: patient.id, subjective: 'Cough <3 days>', objective: 'Clear chest', assessment: 'Viral URTI', plan: 'Fluids' };
  const { noteId } = await saveNoteDraft(cache.session, draft, now);
  assert.equal((await stored('Composition', noteId)).status, 'preliminary');
  await saveNoteDraft(cache.session, { ...draft, noteId, plan: 'Fluids, review in 3 days' }, now);
  await signNote(cache.session, noteId, now);
  const signed = await stored('Composition', noteId);
  assert.equal(signed.status, 'final');
  assert.equal(signed.type.coding[0].code, '11506-3');
  assert.deepEqual(signed.section.map((s: { code: { coding: Array<{ code: string }> } }) => s.code.coding[0]!.code), ['61150-9', '61149-1', '51848-0', '18776-5']);
  assert.match(signed.section[0].text.div, /Cough &lt;3 days&gt;/, 'narrative is escaped XHTML');
  await assert.rejects(async () => await saveNoteDraft(cache.session, { ...draft, noteId }, now), (e: unknown) => e instanceof AppError && /signed note cannot be changed/.test(e.message));
  await assert.rejects(async () => await signNote(cache.session, noteId, now), AppError);
  const { addendumId } = await addAddendum(cache.session, noteId, 'Correction: symptoms for 4 days.', now);
  const addendum = await stored('Composition', addendumId);
  assert.deepEqual(addendum.relatesTo, [{ code: 'appends', targetReference: { reference: `Composition/${noteId}` } }]);
  assert.equal(addendum.status, 'final');
  assert.equal((await stored('Composition', noteId)).status, 'final', 'the signed note itself is untouched');
});

test('problem list: add a problem, then resolve it', async () => {
  const { conditionId } = await setProblem(cache.session, { patientId: patient.id, text: 'Asthma', status: 'active' }, now);
  assert.equal((await stored('Condition', conditionId)).clinicalStatus.coding[0].code, 'active');
  await setProblem(cache.session, { patientId: patient.id, conditionId, text: 'Asthma', status: 'resolved' }, now);
  const c = await stored('Condition', conditionId);
  assert.equal(c.clinicalStatus.coding[0].code, 'resolved');
  assert.equal(c.category[0].coding[0].code, 'problem-list-item');
});

test('every change is audited in the same transaction, and the chain stays whole', async () => {
  // The import at the start wrote one entry for the patient (and one for its resources without a patient); every charting change wrote one more.
  const db = await cache.db();
  const audits = db.prepare("SELECT count(*) FROM audit_log WHERE action IN ('C', 'U') AND patient_id IS NOT NULL").pluck().get() as number;
  const queued = await outboxSize(cache.session);
  assert.equal(audits, queued + 1, 'one audit entry per queued change');
  const s = cache.session;
  assert.equal(verifyAuditChain(db, s.keys.publicKey, s.context.deviceId).ok, true);
  assert.deepEqual(await syncCounts(s), { waiting: queued, refused: 0, conflicts: 0 });
});

test('charting calls through the registry refuse bad input without queuing anything', async () => {
  const registry = createHandlerRegistry({ session: () => cache.session, problem: () => null, actor: () => 'dr.chart' });
  const opts = { trustedOrigins: ['app://clinician'] };
  const caller = { url: 'app://clinician/index.html', isMainFrame: true };
  const before = await outboxSize(cache.session);
  for (const [name, payload] of [
    ['chart.recordVitals', { patientId: patient.id, heartRate: 1e9 }],
    ['chart.recordVitals', { patientId: 'no-such', heartRate: 70 }],
    ['notes.saveDraft', { patientId: patient.id, subjective: 'x'.repeat(30_000), objective: '', assessment: '', plan: '' }],
    ['notes.sign', { noteId: '../x' }],
    ['notes.addendum', { noteId: 'nope', text: 'x' }],
    ['problems.set', { patientId: patient.id, text: '', status: 'active' }],
    ['problems.set', { patientId: patient.id, text: 'x', status: 'cured' }],
  ] as const) {
    const r = await dispatch(registry, name, payload, caller, opts);
    assert.equal(r.ok, false, name);
  }
  assert.equal(await outboxSize(cache.session), before);
});

test('an empty note is refused at signing: nothing written, no outbox entry, no audit entry', async () => {
  const registry = createHandlerRegistry({ session: () => cache.session, problem: () => null, actor: () => 'dr.chart' });
  const opts = { trustedOrigins: ['app://clinician'] };
  const caller = { url: 'app://clinician/index.html', isMainFrame: true };
  const { noteId } = await saveNoteDraft(cache.session, { patientId: patient.id, subjective: '  ', objective: '\n\t', assessment: '', plan: ' \n ' }, now);
  const s = cache.session;
  const db = await cache.db();
  const before = { outbox: await outboxSize(s), audit: db.prepare('SELECT count(*) FROM audit_log').pluck().get(), json: JSON.stringify(await stored('Composition', noteId)) };
  const r = await dispatch(registry, 'notes.sign', { noteId }, caller, opts);
  assert.deepEqual(r, { ok: false, error: { code: 'INVALID_INPUT', message: 'An empty note cannot be signed. Write at least one section.' } });
  assert.equal(await outboxSize(s), before.outbox, 'nothing queued');
  assert.equal(db.prepare('SELECT count(*) FROM audit_log').pluck().get(), before.audit, 'nothing audited');
  assert.equal(JSON.stringify(await stored('Composition', noteId)), before.json, 'the draft is untouched, still preliminary');
  // One written section is enough.
  await saveNoteDraft(s, { patientId: patient.id, noteId, subjective: '', objective: '', assessment: '', plan: 'Review tomorrow' }, now);
  const signed = await dispatch(registry, 'notes.sign', { noteId }, caller, opts);
  assert.ok(signed.ok);
  assert.equal((await stored('Composition', noteId)).status, 'final');
});

test('notes and addenda name their author by the clinician\'s display name (the id where the cache knows no name)', async () => {
  const named = await openCacheSession({ dataDir: join(scratch.path, 'named'), secrets: keychain, actor: 'dr.ada', actorName: 'Dr Ada Byron', create: true });
  try {
    await importBundle(named, readFileSync(SYNTHEA_FILES[0]!));
    const { noteId } = await saveNoteDraft(named, { patientId: patient.id, subjective: 'Better', objective: '', assessment: '', plan: '' }, now);
    await signNote(named, noteId, now);
    const { addendumId } = await addAddendum(named, noteId, 'Seen again at noon.', now);
    const db = await inspectCache(named, keychain);
    const author = (id: string) => JSON.parse(db.prepare("SELECT json FROM resources WHERE resource_type = 'Composition' AND id = ?").pluck().get(id) as string).author;
    assert.deepEqual(author(noteId), [{ display: 'Dr Ada Byron' }]);
    assert.deepEqual(author(addendumId), [{ display: 'Dr Ada Byron' }]);
  } finally {
    await named.close();
  }
  const { noteId } = await saveNoteDraft(cache.session, { patientId: patient.id, subjective: 'x', objective: '', assessment: '', plan: '' }, now);
  assert.deepEqual((await stored('Composition', noteId)).author, [{ display: 'dr.chart' }]);
});

test('problems.set with another patient\'s conditionId is refused with the unknown-problem text, and that problem stays where it was', async () => {
  const s = cache.session;
  const other = loadFixturePatients()[1]!;
  await importBundle(s, readFileSync(SYNTHEA_FILES[1]!));
  const registry = createHandlerRegistry({ session: () => s, problem: () => null, actor: () => 'dr.chart' });
  const caller = { url: 'app://clinician/index.html', isMainFrame: true };
  const opts = { trustedOrigins: ['app://clinician'] };
  const db = await cache.db();
  const theirs = db.prepare("SELECT id FROM resources WHERE resource_type = 'Condition' AND patient_id = ? LIMIT 1").pluck().get(other.id) as string;
  const before = { json: JSON.stringify(await stored('Condition', theirs)), outbox: await outboxSize(s) };
  const crossed = await dispatch(registry, 'problems.set', { patientId: patient.id, conditionId: theirs, text: 'x', status: 'resolved' }, caller, opts);
  const unknown = await dispatch(registry, 'problems.set', { patientId: patient.id, conditionId: 'no-such-condition', text: 'x', status: 'resolved' }, caller, opts);
  assert.equal(crossed.ok, false, 'refused');
  assert.equal(unknown.ok, false);
  if (crossed.ok || unknown.ok) return;
  assert.deepEqual(crossed.error, unknown.error, 'the same NOT_FOUND as an unknown problem');
  assert.equal(crossed.error.code, 'NOT_FOUND');
  assert.equal(JSON.stringify(await stored('Condition', theirs)), before.json, 'the other patient\'s problem is untouched');
  assert.equal(db.prepare("SELECT patient_id FROM resources WHERE resource_type = 'Condition' AND id = ?").pluck().get(theirs), other.id);
  assert.equal(await outboxSize(s), before.outbox, 'nothing queued');
  // A note of the other patient cannot be saved under this one either (sign and addendum take only the note's id).
  const { noteId } = await saveNoteDraft(s, { patientId: other.id, subjective: 'Theirs', objective: '', assessment: '', plan: '' }, now);
  const note = await dispatch(registry, 'notes.saveDraft', { patientId: patient.id, noteId, subjective: 'Mine', objective: '', assessment: '', plan: '' }, caller, opts);
  const noNote = await dispatch(registry, 'notes.saveDraft', { patientId: patient.id, noteId: 'no-such-note', subjective: 'Mine', objective: '', assessment: '', plan: '' }, caller, opts);
  assert.equal(note.ok, false);
  assert.deepEqual(note.ok ? null : note.error, noNote.ok ? undefined : noNote.error, 'the same NOT_FOUND as an unknown note');
  assert.equal((await stored('Composition', noteId)).subject.reference, `Patient/${other.id}`);
});

test('a status change keeps the problem\'s verification status and category; a new problem is a confirmed problem-list item', async () => {
  const s = cache.session;
  const id = 'provisional-diagnosis-1';
  const condition = {
    resourceType: 'Condition',
    id,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'provisional' }] },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'encounter-diagnosis' }] }],
    code: { text: 'Suspected pulmonary embolism' },
    subject: { reference: `Patient/${patient.id}` },
    recordedDate: '2026-11-20',
  };
  await importBundle(s, JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry: [{ fullUrl: `urn:uuid:${id}`, resource: condition, request: { method: 'POST', url: 'Condition' } }] }));
  await setProblem(s, { patientId: patient.id, conditionId: id, text: 'Suspected pulmonary embolism', status: 'inactive' }, now);
  const changed = await stored('Condition', id);
  assert.equal(changed.clinicalStatus.coding[0].code, 'inactive');
  assert.deepEqual(changed.verificationStatus, condition.verificationStatus, 'still provisional');
  assert.deepEqual(changed.category, condition.category, 'still an encounter diagnosis');
  const { conditionId } = await setProblem(s, { patientId: patient.id, text: 'Gout', status: 'active' }, now);
  assert.equal((await stored('Condition', conditionId)).verificationStatus.coding[0].code, 'confirmed');
  assert.equal((await stored('Condition', conditionId)).category[0].coding[0].code, 'problem-list-item');
});

test('a note of only invisible characters (zero-width, word joiner, soft hyphen, BOM, no-break spaces) is refused at signing', async () => {
  const registry = createHandlerRegistry({ session: () => cache.session, problem: () => null, actor: () => 'dr.chart' });
  const opts = { trustedOrigins: ['app://clinician'] };
  const caller = { url: 'app://clinician/index.html', isMainFrame: true };
  const { noteId } = await saveNoteDraft(
    cache.session,
    { patientId: patient.id, subjective: '\u200B\u200C\u200D\u2060', objective: '\uFEFF\u00A0\u3000', assessment: '\u00AD', plan: '\u180E\u2028\u034F\u115F\u3164' },
    now,
  );
  const r = await dispatch(registry, 'notes.sign', { noteId }, caller, opts);
  assert.deepEqual(r, { ok: false, error: { code: 'INVALID_INPUT', message: 'An empty note cannot be signed. Write at least one section.' } });
  assert.equal((await stored('Composition', noteId)).status, 'preliminary');
  // A visible character beside them is a note.
  await saveNoteDraft(cache.session, { patientId: patient.id, noteId, subjective: '\u200B.', objective: '', assessment: '', plan: '' }, now);
  assert.ok((await dispatch(registry, 'notes.sign', { noteId }, caller, opts)).ok);
});
