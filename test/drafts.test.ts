/**
 * Drafts in the encrypted cache: unfinished work is saved as it is typed and
 * survives closing and reopening the cache; a draft may only point at this
 * patient's own note or problem (another patient's is refused with the same
 * words as one that does not exist); junk bodies are refused by the contract
 * and leave the previous draft whole; creating, discarding and listing are
 * audited, keystrokes are not; a body with nothing typed is never stored
 * (it removes the draft), and a flood of keys is refused before any key is
 * validated; signing a note, recording vitals, adding an addendum and saving
 * a problem remove their drafts in the same transaction; an unassigned
 * patient is kept only for a draft with something typed, and then only with
 * what the draft needs.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { importBundle } from '../electron/services/bundle-import';
import { saveNoteDraft, signNote } from '../electron/services/charting';
import { clearDraft, discardDraft, listDrafts, putDraft } from '../electron/services/drafts';
import { applyPulledPage } from '../electron/services/sync-pull';
import { verifyAuditChain } from '../electron/services/audit-chain';
import { createHandlerRegistry, dispatch } from '../electron/services/handler-registry';
import { AppError } from '../shared/app-error';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';

const [alice, bob] = loadFixturePatients();
const now = new Date('2026-11-25T10:00:00Z');
const later = new Date('2026-11-25T10:05:00Z');
let cache: TestCache;

before(async () => {
  cache = await openTestCache('dr.drafts');
  await importBundle(cache.session, readFileSync(SYNTHEA_FILES[0]!));
  await importBundle(cache.session, readFileSync(SYNTHEA_FILES[1]!));
});
after(() => cache.dispose());

const soap = { subjective: 'Cough', objective: 'Clear chest', assessment: 'URTI', plan: 'Fluids' };
const opts = { trustedOrigins: ['app://clinician'] };
const caller = { url: 'app://clinician/index.html', isMainFrame: true };
const registry = () => createHandlerRegistry({ session: () => cache.session, problem: () => null, actor: () => 'dr.drafts' });

// The test's own connection to the cache file (the store runs in its worker): looks only, never writes.
async function auditCount(action?: string): Promise<number> {
  const sql = action ? 'SELECT count(*) FROM audit_log WHERE action = ?' : 'SELECT count(*) FROM audit_log';
  return (await cache.db()).prepare(sql).pluck().get(...(action ? [action] : [])) as number;
}
async function draftRows(): Promise<unknown[]> {
  return (await cache.db()).prepare('SELECT patient_id, kind, target, body_json, updated_at FROM drafts ORDER BY patient_id, kind, target').all();
}
async function conditionOf(patientId: string): Promise<string> {
  return (await cache.db()).prepare("SELECT id FROM resources WHERE resource_type = 'Condition' AND patient_id = ? LIMIT 1").pluck().get(patientId) as string;
}

test('a draft is saved as typed, survives closing the cache, and lists newest first; creation is audited once, keystrokes are not', async () => {
  const creates = await auditCount('C');
  await putDraft(cache.session, { patientId: alice!.id, kind: 'vitals', target: '', body: { heartRate: '7' } }, now);
  assert.equal(await auditCount('C'), creates + 1, 'creating the draft row is one audit entry');
  await putDraft(cache.session, { patientId: alice!.id, kind: 'vitals', target: '', body: { heartRate: '72' } }, now);
  await putDraft(cache.session, { patientId: alice!.id, kind: 'vitals', target: '', body: { heartRate: '72', spo2: '9' } }, now);
  assert.equal(await auditCount('C'), creates + 1, 'updates on each keystroke are not audited');
  await putDraft(cache.session, { patientId: alice!.id, kind: 'note', target: '', body: { subjective: 'Cough for 3 days' } }, later);

  await cache.reopen();
  const drafts = await listDrafts(cache.session, alice!.id);
  assert.deepEqual(
    drafts.map((d) => [d.kind, d.target, d.body, d.updatedAt]),
    [
      ['note', '', { subjective: 'Cough for 3 days' }, later.toISOString()],
      ['vitals', '', { heartRate: '72', spo2: '9' }, now.toISOString()],
    ],
  );
  assert.deepEqual(await listDrafts(cache.session, bob!.id), [], 'drafts are per patient');
});

test('listing drafts is a read of the patient, audited only when there are drafts', async () => {
  const db = await cache.db();
  const reads = () => db.prepare("SELECT count(*) FROM audit_log WHERE action = 'R' AND patient_id = ?").pluck();
  const aliceBefore = reads().get(alice!.id) as number;
  const bobBefore = reads().get(bob!.id) as number;
  await listDrafts(cache.session, alice!.id);
  await listDrafts(cache.session, bob!.id);
  assert.equal(reads().get(alice!.id), aliceBefore + 1);
  assert.equal(reads().get(bob!.id), bobBefore, 'no drafts returned, nothing read');
  await assert.rejects(listDrafts(cache.session, 'no-such-patient'), (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND');
});

test('discarding removes the draft and is audited as a delete; discarding nothing writes nothing', async () => {
  await putDraft(cache.session, { patientId: bob!.id, kind: 'vitals', target: '', body: { temperature: '38' } }, now);
  const deletes = await auditCount('D');
  assert.deepEqual(await discardDraft(cache.session, { patientId: bob!.id, kind: 'vitals', target: '' }), { discarded: true });
  assert.equal(await auditCount('D'), deletes + 1);
  assert.deepEqual(await discardDraft(cache.session, { patientId: bob!.id, kind: 'vitals', target: '' }), { discarded: false });
  assert.equal(await auditCount('D'), deletes + 1);
  assert.deepEqual(await listDrafts(cache.session, bob!.id), []);
});

test("a draft may not point at another patient's note or problem: refused with the same words as one that does not exist, nothing written", async () => {
  const bobsNote = (await saveNoteDraft(cache.session, { patientId: bob!.id, ...soap }, now)).noteId;
  const bobsSigned = (await saveNoteDraft(cache.session, { patientId: bob!.id, ...soap }, now)).noteId;
  await signNote(cache.session, bobsSigned, now);
  const alicesNote = (await saveNoteDraft(cache.session, { patientId: alice!.id, ...soap }, now)).noteId;
  const alicesSigned = (await saveNoteDraft(cache.session, { patientId: alice!.id, ...soap }, now)).noteId;
  await signNote(cache.session, alicesSigned, now);

  const refusal = async (fn: () => Promise<unknown>): Promise<string> => {
    try {
      await fn();
    } catch (e) {
      assert.ok(e instanceof AppError);
      return `${e.code}: ${e.message}`;
    }
    assert.fail('expected a refusal');
  };
  const rows = await draftRows();
  const audits = await auditCount();
  const bobsCondition = await conditionOf(bob!.id);
  const alicesCondition = await conditionOf(alice!.id);
  const put = (kind: 'note' | 'addendum' | 'problem', target: string) => () =>
    putDraft(cache.session, { patientId: alice!.id, kind, target, body: { text: 'x' } }, now);
  const nonexistent = await refusal(put('note', 'no-such-note'));
  assert.match(nonexistent, /^NOT_FOUND: /);
  for (const [what, attempt] of [
    ["another patient's draft note", put('note', bobsNote)],
    ["another patient's signed note (as an addendum)", put('addendum', bobsSigned)],
    ["another patient's condition", put('problem', bobsCondition)],
    ['a signed note as a note draft', put('note', alicesSigned)],
    ['an unsigned note as an addendum', put('addendum', alicesNote)],
    ['an addendum to nothing', put('addendum', '')],
    ['a condition id as a note', put('note', alicesCondition)],
  ] as const) {
    assert.equal(await refusal(attempt), nonexistent, what);
  }
  assert.match(await refusal(() => putDraft(cache.session, { patientId: 'no-such-patient', kind: 'vitals', target: '', body: {} }, now)), /^NOT_FOUND/);
  assert.deepEqual(await draftRows(), rows, 'no draft written');
  assert.equal(await auditCount(), audits, 'no audit entry for a refused draft');

  // This patient's own targets are fine.
  await putDraft(cache.session, { patientId: alice!.id, kind: 'note', target: alicesNote, body: { plan: 'Review' } }, now);
  await putDraft(cache.session, { patientId: alice!.id, kind: 'addendum', target: alicesSigned, body: { text: 'Also' } }, now);
  await putDraft(cache.session, { patientId: alice!.id, kind: 'problem', target: alicesCondition, body: { status: 'resolved' } }, now);
  assert.equal((await listDrafts(cache.session, alice!.id)).length, 5);
});

test('junk draft bodies are refused by the contract and the previous draft stays whole', async () => {
  const r = registry();
  const key = { patientId: bob!.id, kind: 'note', target: '' } as const;
  const ok = await dispatch(r, 'drafts.put', { ...key, body: { subjective: 'Chest pain since 06:00' } }, caller, opts);
  assert.equal(ok.ok, true);
  const before = await draftRows();
  const manyFields = Object.fromEntries(Array.from({ length: 13 }, (_, i) => [`f${i}`, 'x']));
  for (const body of [
    { subjective: 42 },
    { subjective: { nested: 'x' } },
    { subjective: 'x'.repeat(20_001) },
    manyFields,
    JSON.parse('{"__proto__": "x"}'),
    { 'bad key': 'x' },
    'just a string',
    null,
  ]) {
    const res = await dispatch(r, 'drafts.put', { ...key, body }, caller, opts);
    assert.equal(res.ok, false, JSON.stringify(body)?.slice(0, 40));
    assert.equal(!res.ok && res.error.code, 'INVALID_INPUT');
  }
  for (const payload of [
    { ...key, kind: 'letter', body: {} },
    { ...key, target: '../etc', body: {} },
    { ...key, patientId: 'x'.repeat(100), body: {} },
    { ...key, body: {}, extra: 1 },
  ]) {
    const res = await dispatch(r, 'drafts.put', payload, caller, opts);
    assert.equal(res.ok, false);
  }
  assert.deepEqual(await draftRows(), before, 'the earlier draft is untouched');
  const listed = await dispatch(r, 'drafts.list', { patientId: bob!.id }, caller, opts);
  assert.ok(listed.ok);
  assert.deepEqual((listed.value as { drafts: Array<{ body: unknown }> }).drafts[0]!.body, { subjective: 'Chest pain since 06:00' });
});

test("signing a note removes its local draft in the sign's transaction; a refused sign keeps it", async () => {
  const r = registry();
  const { noteId } = await saveNoteDraft(cache.session, { patientId: bob!.id, ...soap }, now);
  await putDraft(cache.session, { patientId: bob!.id, kind: 'note', target: noteId, body: { plan: 'Review tomorrow' } }, now);
  const signed = await dispatch(r, 'notes.sign', { noteId }, caller, opts);
  assert.equal(signed.ok, true);
  assert.equal((await listDrafts(cache.session, bob!.id)).some((d) => d.target === noteId), false);

  // An empty note is refused at signing: its draft remains.
  const empty = (await saveNoteDraft(cache.session, { patientId: bob!.id, subjective: '', objective: '', assessment: '', plan: '' }, now)).noteId;
  await putDraft(cache.session, { patientId: bob!.id, kind: 'note', target: empty, body: { plan: 'typing…' } }, now);
  const refused = await dispatch(r, 'notes.sign', { noteId: empty }, caller, opts);
  assert.equal(refused.ok, false);
  assert.equal((await listDrafts(cache.session, bob!.id)).some((d) => d.target === empty), true);
  assert.equal(await clearDraft(cache.session, bob!.id, 'note', empty), true, 'clearDraft is there for the save flows');
  const s = cache.session;
  assert.equal(verifyAuditChain(await cache.db(), s.keys.publicKey, s.context.deviceId).ok, true);
});

test('a patient no longer assigned is kept while a draft of theirs remains (typed work is never dropped), with only what the draft needs, and goes once it is discarded', async () => {
  const other = await openTestCache('dr.drafts.pull');
  try {
    await importBundle(other.session, readFileSync(SYNTHEA_FILES[0]!));
    await importBundle(other.session, readFileSync(SYNTHEA_FILES[1]!));
    const db = await other.db();
    const condition = db.prepare("SELECT id FROM resources WHERE resource_type = 'Condition' AND patient_id = ? LIMIT 1").pluck().get(alice!.id) as string;
    await putDraft(other.session, { patientId: alice!.id, kind: 'vitals', target: '', body: { heartRate: '88' } }, now);
    await putDraft(other.session, { patientId: alice!.id, kind: 'problem', target: condition, body: { status: 'resolved' } }, now);
    const held = () => db.prepare('SELECT id FROM patients ORDER BY id').pluck().all() as string[];
    const heldResources = () =>
      db.prepare('SELECT resource_type || \'/\' || id FROM resources WHERE patient_id = ? ORDER BY 1').pluck().all(alice!.id) as string[];
    assert.ok(heldResources().length > 10);
    const deletes = db.prepare("SELECT count(*) FROM audit_log WHERE action = 'D' AND patient_id = ?").pluck();
    const aliceDeletes = deletes.get(alice!.id) as number;
    await applyPulledPage(other.session, { resources: [], cursor: null, more: false, assignedPatients: [] });
    assert.deepEqual(held(), [alice!.id], 'the unassigned patient without drafts left; the one with a draft stayed');
    assert.deepEqual((await listDrafts(other.session, alice!.id)).map((d) => d.body).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [{ heartRate: '88' }, { status: 'resolved' }]);
    // Only what the drafts need stays: the patient and the problem the draft edits; the rest of the record is gone, audited.
    assert.deepEqual(heldResources(), [`Condition/${condition}`, `Patient/${alice!.id}`].sort());
    assert.equal(deletes.get(alice!.id), aliceDeletes + 1, 'the removal of the rest of the record is audited');
    await applyPulledPage(other.session, { resources: [], cursor: null, more: false, assignedPatients: [] });
    assert.equal(deletes.get(alice!.id), aliceDeletes + 1, 'a second pull removes nothing more and audits nothing');
    await discardDraft(other.session, { patientId: alice!.id, kind: 'vitals', target: '' });
    await discardDraft(other.session, { patientId: alice!.id, kind: 'problem', target: condition });
    await applyPulledPage(other.session, { resources: [], cursor: null, more: false, assignedPatients: [] });
    assert.deepEqual(held(), []);
    assert.deepEqual(heldResources(), []);
  } finally {
    await other.dispose();
  }
});

test('a put whose every value is blank stores nothing; over an existing draft it deletes it, audited as a discard', async () => {
  const r = registry();
  const key = { patientId: alice!.id, kind: 'vitals', target: '' } as const;
  await discardDraft(cache.session, key);
  const db = await cache.db();
  const rows = () => db.prepare('SELECT count(*) FROM drafts WHERE patient_id = ? AND kind = ? AND target = ?').pluck().get(key.patientId, key.kind, key.target);
  const audits = await auditCount();
  for (const body of [{}, { heartRate: '   ' }, { heartRate: '', spo2: '\u200B', temperature: '\t\n' }]) {
    const res = await dispatch(r, 'drafts.put', { ...key, body }, caller, opts);
    assert.equal(res.ok, true, JSON.stringify(body));
    assert.equal(rows(), 0, `${JSON.stringify(body)} is not stored`);
  }
  assert.equal(await auditCount(), audits, 'nothing stored, nothing deleted, nothing audited');
  assert.equal((await dispatch(r, 'drafts.put', { ...key, body: { heartRate: '88' } }, caller, opts)).ok, true);
  assert.equal(rows(), 1);
  const deletes = await auditCount('D');
  assert.equal((await dispatch(r, 'drafts.put', { ...key, body: { heartRate: ' ' } }, caller, opts)).ok, true);
  assert.equal(rows(), 0, 'emptying every field deletes the draft');
  assert.equal(await auditCount('D'), deletes + 1, 'audited as a discard');
  // Refusals come first: a blank body for a patient or target not in the cache is still NOT_FOUND.
  const refused = await dispatch(r, 'drafts.put', { patientId: alice!.id, kind: 'note', target: 'no-such-note', body: {} }, caller, opts);
  assert.equal(!refused.ok && refused.error.code, 'NOT_FOUND');
});

test('a patient no longer assigned whose only drafts are blank (stored before blank puts were refused) is removed with them', async () => {
  const other = await openTestCache('dr.drafts.blank');
  try {
    await importBundle(other.session, readFileSync(SYNTHEA_FILES[0]!));
    await importBundle(other.session, readFileSync(SYNTHEA_FILES[1]!));
    // Rows as an older version left them, written beside the store through the test's own connection.
    const db = await other.db();
    const insert = db.prepare("INSERT INTO drafts (patient_id, kind, target, body_json, updated_at) VALUES (?, 'vitals', '', ?, ?)");
    insert.run(alice!.id, '{}', now.toISOString());
    insert.run(bob!.id, JSON.stringify({ heartRate: '  ', spo2: '\u200B' }), now.toISOString());
    await applyPulledPage(other.session, { resources: [], cursor: null, more: false, assignedPatients: [] });
    assert.deepEqual(db.prepare('SELECT count(*) FROM patients').pluck().get(), 0);
    assert.deepEqual(db.prepare('SELECT count(*) FROM drafts').pluck().get(), 0);
    assert.deepEqual(db.prepare('SELECT count(*) FROM resources WHERE patient_id IS NOT NULL').pluck().get(), 0);
  } finally {
    await other.dispose();
  }
});

test('a draft body with too many fields is refused before any field is looked at (a flood of keys costs no validation work)', async () => {
  const r = registry();
  const key = { patientId: bob!.id, kind: 'note', target: '' } as const;
  const before = await draftRows();
  // 13 fields, each with a bad name and a bad value: the only error is the field count.
  const reads: PropertyKey[] = [];
  const target = Object.fromEntries(Array.from({ length: 13 }, (_, i) => [`bad key ${i}`, i]));
  const watched = new Proxy(target, {
    get(t, p, recv) {
      reads.push(p);
      return Reflect.get(t, p, recv);
    },
  });
  const res = await dispatch(r, 'drafts.put', { ...key, body: watched }, caller, opts);
  assert.equal(res.ok, false);
  assert.deepEqual(!res.ok && res.error.fields, [{ field: 'body', message: 'a draft has at most 12 fields' }]);
  assert.deepEqual(reads.filter((p) => typeof p === 'string' && p.startsWith('bad key')), [], 'no field value was read');

  // The attack as sent: 200,000 keys are refused without validating each (it took seconds of main-process CPU).
  const flood: Record<string, string> = {};
  for (let i = 0; i < 200_000; i++) flood[`k${i}`] = 'v';
  const t = performance.now();
  const big = await dispatch(r, 'drafts.put', { ...key, body: flood }, caller, opts);
  const ms = performance.now() - t;
  assert.deepEqual(!big.ok && big.error.fields, [{ field: 'body', message: 'a draft has at most 12 fields' }]);
  assert.ok(ms < 1000, `refused after ${ms.toFixed(0)} ms`);
  assert.deepEqual(await draftRows(), before);
});

test('recording vitals, adding an addendum and saving a problem remove their drafts in the same call (a lock or crash right after leaves nothing to record twice)', async () => {
  const r = registry();
  const drafts = async (patientId: string) => (await listDrafts(cache.session, patientId)).map((d) => `${d.kind}:${d.target}`).sort();
  for (const d of await listDrafts(cache.session, alice!.id)) await discardDraft(cache.session, d);
  const ok = async (name: string, payload: unknown) => {
    const res = await dispatch(r, name, payload, caller, opts);
    assert.ok(res.ok, `${name}: ${JSON.stringify(res)}`);
    return res.value as Record<string, string>;
  };
  const { noteId } = await ok('notes.saveDraft', { patientId: alice!.id, ...soap });
  await ok('notes.sign', { noteId });
  const condition = await conditionOf(alice!.id);
  await ok('drafts.put', { patientId: alice!.id, kind: 'vitals', target: '', body: { heartRate: '131' } });
  await ok('drafts.put', { patientId: alice!.id, kind: 'addendum', target: noteId, body: { text: 'K+ 5.9 repeated' } });
  await ok('drafts.put', { patientId: alice!.id, kind: 'problem', target: condition, body: { status: 'resolved' } });
  await ok('drafts.put', { patientId: alice!.id, kind: 'problem', target: '', body: { text: 'Hyperkalaemia' } });
  assert.equal((await drafts(alice!.id)).length, 4);

  const deletes = await auditCount('D');
  await ok('chart.recordVitals', { patientId: alice!.id, heartRate: 131 });
  assert.deepEqual(await drafts(alice!.id), [`addendum:${noteId}`, 'problem:', `problem:${condition}`].sort());
  await ok('notes.addendum', { noteId, text: 'K+ 5.9 repeated' });
  assert.deepEqual(await drafts(alice!.id), ['problem:', `problem:${condition}`].sort());
  await ok('problems.set', { patientId: alice!.id, conditionId: condition, text: 'Problem', status: 'resolved' });
  assert.deepEqual(await drafts(alice!.id), ['problem:']);
  await ok('problems.set', { patientId: alice!.id, text: 'Hyperkalaemia', status: 'active' });
  assert.deepEqual(await drafts(alice!.id), []);
  assert.equal(await auditCount('D'), deletes + 4, 'each removal audited as a delete');

  // As the attack had it: the cache closes (lock, quit, crash) right after the save; nothing comes back.
  await cache.reopen();
  assert.deepEqual(await drafts(alice!.id), []);
});
