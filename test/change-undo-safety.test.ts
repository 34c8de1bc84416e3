/**
 * What undo must never leave behind (cache only, on a real encrypted cache,
 * through dispatch): half a vitals entry (an entry is one unit: undone whole,
 * or refused whole when any part left), a change the backend refused that
 * can never be cleared (discarding it puts back the newest server version
 * known), a signed note made editable under its addendum, and a note draft
 * that names a note the undo removed (it becomes a draft of a new note).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { importBundle } from '../electron/services/bundle-import';
import { recordVitals, setProblem } from '../electron/services/charting';
import { markSent, outboxSize, settle } from '../electron/services/outbox';
import { applyPulledPage } from '../electron/services/sync-pull';
import { verifyAuditChain } from '../electron/services/audit-chain';
import { createHandlerRegistry, dispatch, type HandlerRegistry } from '../electron/services/handler-registry';
import type { Result } from '../shared/app-error';
import type { WaitingChange } from '../shared/contract';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';

const APP = { url: 'app://clinician/index.html', isMainFrame: true };
const options = { trustedOrigins: ['app://clinician'] };
const now = new Date('2026-11-25T10:00:00Z');
const patient = loadFixturePatients()[0]!;

describe('undo leaves nothing half done (cache only)', () => {
  let cache: TestCache;
  let registry: HandlerRegistry;
  const call = <T>(name: string, payload: unknown) => dispatch(registry, name, payload, APP, options) as Promise<Result<T>>;
  const undo = (resourceType: string, resourceId: string) => call<{ undone: boolean }>('changes.undo', { resourceType, resourceId });
  // Looks go through the test's own connection to the cache file (the session's store runs in its worker).
  const exists = async (type: string, id: string) => (await cache.db()).prepare('SELECT 1 FROM resources WHERE resource_type = ? AND id = ?').pluck().get(type, id) !== undefined;
  const keyOf = async (id: string) => (await cache.db()).prepare('SELECT idempotency_key FROM outbox WHERE resource_id = ? ORDER BY seq DESC LIMIT 1').pluck().get(id) as string;
  const existing = async (type: string, ids: string[]) => {
    const found: string[] = [];
    for (const id of ids) if (await exists(type, id)) found.push(id);
    return found;
  };
  const waiting = async () => {
    const r = await call<{ changes: WaitingChange[] }>('sync.waiting', {});
    assert.ok(r.ok);
    return r.ok ? r.value.changes : [];
  };

  before(async () => {
    cache = await openTestCache('dr.undo');
    await importBundle(cache.session, readFileSync(SYNTHEA_FILES[0]!));
    registry = createHandlerRegistry({ session: () => cache.session, problem: () => null, actor: () => 'dr.undo' });
  });
  after(() => cache.dispose());

  test('a vitals entry is undone whole by one call on any of its readings, and listed undoable only while all of it is', async () => {
    const s = cache.session;
    const before = await outboxSize(s);
    const { ids } = await recordVitals(s, { patientId: patient.id, heartRate: 131, spo2: 86, systolic: 182, diastolic: 110 }, now);
    assert.equal(ids.length, 3);
    assert.deepEqual(
      (await waiting()).filter((c) => ids.includes(c.resourceId)).map((c) => c.undoable),
      [true, true, true],
    );
    const r = await undo('Observation', ids[1]!);
    assert.deepEqual(r, { ok: true, value: { undone: true } });
    assert.deepEqual(await existing('Observation', ids), [], 'every reading of the entry is gone');
    assert.equal(await outboxSize(s), before, 'nothing of it waits');
    const db = await cache.db();
    const deletes = db.prepare("SELECT entry FROM audit_log WHERE action = 'D' ORDER BY seq DESC LIMIT 3").pluck().all() as string[];
    for (const id of ids) assert.ok(deletes.some((e) => e.includes(`Observation/${id}`)), 'each reading\'s removal is audited');
    assert.equal(verifyAuditChain(db, s.keys.publicKey, s.context.deviceId).ok, true);
  });

  test('a vitals entry of which one reading already left is refused whole: nothing of it is taken back', async () => {
    const s = cache.session;
    const { ids } = await recordVitals(s, { patientId: patient.id, heartRate: 131, systolic: 182, diastolic: 110 }, now);
    await markSent(s, [await keyOf(ids[0]!)]);
    const listed = (await waiting()).filter((c) => ids.includes(c.resourceId));
    assert.deepEqual(listed.map((c) => c.undoable), [false, false], 'neither reading is offered for undo');
    for (const id of [...ids].reverse()) {
      const r = await undo('Observation', id);
      assert.equal(r.ok ? 'undone' : r.error.code, 'ALREADY_SENT');
    }
    assert.deepEqual(await existing('Observation', ids), ids, 'the entry is whole');
    // The part that left was answered; the rest is still one entry that partly reached the server: still refused.
    await settle(s, [{ idempotencyKey: await keyOf(ids[0]!), status: 'applied', versionId: '1' }]);
    const r = await undo('Observation', ids[1]!);
    assert.equal(r.ok ? 'undone' : r.error.code, 'ALREADY_SENT');
    assert.ok(await exists('Observation', ids[1]!));
  });

  test('a refused change is discarded by undo: the newest server version known comes back, audited; listed as undoable', async () => {
    const s = cache.session;
    const id = 'refused-condition-1';
    const condition = (status: string, versionId: string) => ({
      resourceType: 'Condition',
      id,
      meta: { versionId },
      clinicalStatus: { coding: [{ code: status }] },
      code: { text: 'Hypertension' },
      subject: { reference: `Patient/${patient.id}` },
      recordedDate: '2026-01-01',
    });
    await applyPulledPage(s, { resources: [condition('active', '1') as never], cursor: '10/Condition/refused-condition-1', more: false });
    await setProblem(s, { patientId: patient.id, conditionId: id, text: 'Hypertension', status: 'recurrence' }, now);
    const key = await keyOf(id);
    await markSent(s, [key]);
    await settle(s, [{ idempotencyKey: key, status: 'refused', reason: 'The server refused this change.' }]);
    const listed = (await waiting()).find((c) => c.resourceId === id)!;
    assert.deepEqual([listed.state, listed.undoable], ['refused', true]);
    // A colleague resolved it meanwhile: the pull leaves it beside the refused change.
    await applyPulledPage(s, { resources: [condition('resolved', '2') as never], cursor: '11/Condition/refused-condition-1', more: false });

    assert.deepEqual(await undo('Condition', id), { ok: true, value: { undone: true } });
    const db = await cache.db();
    const row = db.prepare("SELECT version_id, json FROM resources WHERE resource_type = 'Condition' AND id = ?").get(id) as { version_id: string; json: string };
    assert.deepEqual([row.version_id, JSON.parse(row.json).clinicalStatus.coding[0].code], ['2', 'resolved']);
    assert.equal(db.prepare('SELECT count(*) FROM outbox WHERE resource_id = ?').pluck().get(id), 0);
    const audit = db.prepare('SELECT action, patient_id, entry FROM audit_log ORDER BY seq DESC LIMIT 1').get() as { action: string; patient_id: string; entry: string };
    assert.deepEqual([audit.action, audit.patient_id], ['U', patient.id]);
    assert.ok(audit.entry.includes(`Condition/${id}`));

    // Without a newer pulled version, the version before the refused change comes back.
    await setProblem(s, { patientId: patient.id, conditionId: id, text: 'Hypertension', status: 'relapse' }, now);
    const again = await keyOf(id);
    await markSent(s, [again]);
    await settle(s, [{ idempotencyKey: again, status: 'refused', reason: 'The server refused this change.' }]);
    assert.ok((await undo('Condition', id)).ok);
    const restored = db.prepare("SELECT version_id, json FROM resources WHERE resource_type = 'Condition' AND id = ?").get(id) as { version_id: string; json: string };
    assert.deepEqual([restored.version_id, JSON.parse(restored.json).clinicalStatus.coding[0].code], ['2', 'resolved']);
  });

  test('a signed note with an addendum (queued or not) cannot be unsigned', async () => {
    const soap = { patientId: patient.id, subjective: 'Chest pain', objective: 'BP 182/110', assessment: 'Hypertensive urgency', plan: 'Labetalol' };
    const saved = await call<{ noteId: string }>('notes.saveDraft', soap);
    assert.ok(saved.ok);
    const noteId = saved.ok ? saved.value.noteId : '';
    assert.ok((await call('notes.sign', { noteId })).ok);
    assert.ok((await call('notes.addendum', { noteId, text: 'Repeat BP 150/90 after labetalol' })).ok);
    const db = await cache.db();
    const note = () => JSON.parse(db.prepare("SELECT json FROM resources WHERE resource_type = 'Composition' AND id = ?").pluck().get(noteId) as string);
    const r = await undo('Composition', noteId);
    assert.deepEqual(r, { ok: false, error: { code: 'INVALID_INPUT', message: 'This note has an addendum; it cannot be unsigned.' } });
    assert.equal(note().status, 'final');
    assert.equal((await call('notes.saveDraft', { ...soap, noteId, assessment: 'rewritten' })).ok, false, 'still not editable');
    const listed = (await waiting()).filter((c) => c.resourceId === noteId);
    assert.equal(listed.some((c) => c.undoable), false, 'the sign is not offered for undo');
  });

  test('undoing the save of a new note keeps the draft typed on it, as a draft of a new note', async () => {
    const saved = await call<{ noteId: string }>('notes.saveDraft', { patientId: patient.id, subjective: 'S', objective: 'O', assessment: 'A', plan: 'P' });
    assert.ok(saved.ok);
    const noteId = saved.ok ? saved.value.noteId : '';
    const body = { subjective: 'S more text', objective: 'O', assessment: 'A', plan: 'P' };
    assert.ok((await call('drafts.put', { patientId: patient.id, kind: 'note', target: noteId, body })).ok);
    assert.ok((await undo('Composition', noteId)).ok, 'the save is undone');
    const listed = await call<{ drafts: Array<{ kind: string; target: string; body: Record<string, string> }> }>('drafts.list', { patientId: patient.id });
    assert.ok(listed.ok);
    const notes = listed.ok ? listed.value.drafts.filter((d) => d.kind === 'note') : [];
    assert.deepEqual(notes.map((d) => [d.target, d.body]), [['', body]], 'the typed text is a new note\'s draft');
    const next = await call('drafts.put', { patientId: patient.id, kind: 'note', target: '', body: { ...body, subjective: 'S more text and more' } });
    assert.ok(next.ok, 'typing goes on being saved');
    // With a new note's draft already there, the undo is refused rather than losing either draft.
    const second = await call<{ noteId: string }>('notes.saveDraft', { patientId: patient.id, subjective: 'Other', objective: '', assessment: '', plan: '' });
    const otherId = second.ok ? second.value.noteId : '';
    assert.ok((await call('drafts.put', { patientId: patient.id, kind: 'note', target: otherId, body: { subjective: 'Other typed' } })).ok);
    const refused = await undo('Composition', otherId);
    assert.equal(refused.ok ? 'undone' : refused.error.code, 'INVALID_INPUT');
    assert.ok(await exists('Composition', otherId));
    await call('drafts.discard', { patientId: patient.id, kind: 'note', target: '' });
  });
});
