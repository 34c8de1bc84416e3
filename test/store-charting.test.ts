/**
 * The charting, outbox and conflict calls of the cache store, driven
 * directly through its worker thread over a real encrypted cache file (key from
 * the real keychain). recordChanges is one transaction: the resources, their
 * outbox rows, their audit entries and the draft the change completes
 * commit together, or (a fault at the last step, installed as a trigger by
 * a connection of the test's own) none of them does. A push is read,
 * counted and settled through the store; a conflict is listed (audited) and
 * resolved through the worker, bound to its own resource and patient: a
 * conflict answer naming another patient's resource changes nothing of
 * that patient and loses no work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { parseBundle } from '../shared/fhir-bundle';
import type { FhirResource } from '../shared/contract';
import type { ChangeResult } from '../shared/sync-api';
import { storedEntry } from '../electron/services/audit-chain';
import type { CacheDatabase } from '../electron/services/cache-database';
import type { OutboxEntry } from '../electron/services/store/store-api';
import type { WorkerCacheStore } from '../electron/services/store/store-client';
import { syntheticPatientBundle } from './support/synthetic-bundles';
import { auditCount, openWorkerTestStore } from './support/worker-store';

const ACTOR = 'dr.charting';
const P1 = 'store-chart-p1';
const P2 = 'store-chart-p2';

/** A fresh cache made by the app's first run, then opened in a store worker, and two patients imported. */
async function openStore() {
  const o = await openWorkerTestStore({ actor: ACTOR, actorName: 'Dr Charting', network: 'online' });
  for (const patientId of [P1, P2]) {
    await o.store.call('importResources', { resources: parseBundle(JSON.stringify(syntheticPatientBundle({ patientId, observations: 2 }))) });
  }
  return o;
}

const count = (db: CacheDatabase, sql: string, ...params: unknown[]) => db.prepare(sql).pluck().get(...params) as number;
const readEntries = (db: CacheDatabase) => (db.prepare('SELECT entry FROM audit_log').pluck().all() as string[]).filter((entry) => storedEntry({ entry }).action === 'R').length;
const json = (db: CacheDatabase, type: string, id: string) => db.prepare('SELECT json FROM resources WHERE resource_type = ? AND id = ?').pluck().get(type, id) as string | undefined;

test('recordChanges commits whole: resources, outbox rows, audit entries and the completed draft, or (the draft removal failing) none of them', async () => {
  const o = await openStore();
  try {
    const { store, db } = o;
    await store.call('putDraft', { patientId: P1, kind: 'vitals', target: '', body: { heartRate: '72' }, now: new Date().toISOString() });
    const vitals = { kind: 'vitals' as const, input: { patientId: P1, heartRate: 72, systolic: 120, diastolic: 80 }, now: new Date().toISOString() };
    const completes = { clearDraft: { patientId: P1, kind: 'vitals' as const, target: '' } };

    // The last step of the call fails: everything before it in the same call is undone.
    const observations = count(db, "SELECT count(*) FROM resources WHERE resource_type = 'Observation'");
    const audits = auditCount(db);
    db.exec("CREATE TRIGGER test_refuse_draft_delete BEFORE DELETE ON drafts BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
    await assert.rejects(store.call('recordChanges', { change: vitals, ...completes }), (err: unknown) => (err as { code?: string }).code === 'INTERNAL');
    assert.equal(count(db, "SELECT count(*) FROM resources WHERE resource_type = 'Observation'"), observations, 'no observation written');
    assert.equal(count(db, 'SELECT count(*) FROM outbox'), 0, 'no outbox row');
    assert.equal(auditCount(db), audits, 'no audit entry');
    assert.equal(count(db, 'SELECT count(*) FROM drafts WHERE patient_id = ?', P1), 1, 'the draft stays: the work it holds was not recorded');

    // Without the fault: all of it, the readings one change group.
    db.exec('DROP TRIGGER test_refuse_draft_delete');
    const { ids, keys } = await store.call('recordChanges', { change: vitals, ...completes });
    assert.equal(ids.length, 2);
    assert.equal(keys.length, 2);
    assert.equal(count(db, 'SELECT count(*) FROM outbox'), 2);
    assert.equal(count(db, 'SELECT count(DISTINCT change_group) FROM outbox WHERE group_size = 2'), 1, 'one change group of two');
    assert.equal(count(db, 'SELECT count(*) FROM drafts WHERE patient_id = ?', P1), 0, 'the draft went with the change');
    const entries = db.prepare('SELECT entry FROM audit_log WHERE seq > (SELECT max(seq) - 3 FROM audit_log) ORDER BY seq').pluck().all() as string[];
    assert.deepEqual(entries.map((entry) => storedEntry({ entry }).action), ['C', 'C', 'D'], 'two creates and the draft removal, in the same call');
    assert.deepEqual(await store.call('syncCounts', {}), { waiting: 2, refused: 0, conflicts: 0 });

    // A refused check (another patient's problem) writes nothing at all.
    const { ids: [p2Condition] } = await store.call('recordChanges', { change: { kind: 'problem', input: { patientId: P2, text: 'Gout', status: 'active' }, now: new Date().toISOString() } });
    const before = auditCount(db);
    await assert.rejects(
      store.call('recordChanges', { change: { kind: 'problem', input: { patientId: P1, conditionId: p2Condition, text: 'Gout', status: 'resolved' }, now: new Date().toISOString() } }),
      (err: unknown) => (err as { code?: string; message?: string }).code === 'NOT_FOUND' && (err as { message: string }).message === 'That problem is not in this computer\'s cache.',
    );
    assert.equal(auditCount(db), before);
    assert.equal((JSON.parse(json(db, 'Condition', p2Condition!)!) as { clinicalStatus: { coding: Array<{ code: string }> } }).clinicalStatus.coding[0]!.code, 'active');
  } finally {
    await o.dispose();
  }
});

/** Pushes everything pending through the store and settles it with `answer` for each entry. */
async function push(store: WorkerCacheStore, answer: (entry: OutboxEntry) => ChangeResult) {
  const batch = await store.call('pendingChanges', { limit: 100, sendHeld: true, heldSentAlready: [], setAside: [] });
  const { marked } = await store.call('markSent', { keys: batch.map((b) => b.idempotencyKey) });
  assert.deepEqual(marked.sort(), batch.map((b) => b.idempotencyKey).sort());
  await store.call('settlePush', { results: batch.map((b) => answer(b)) });
  return batch;
}

test('a conflict through the worker: listed with an R entry, take theirs installs the backend version, keep mine queues mine on it; an answer naming another resource is held, not stored', async () => {
  const o = await openStore();
  try {
    const { store, db } = o;
    const now = () => new Date().toISOString();
    const { ids: [conditionId] } = await store.call('recordChanges', { change: { kind: 'problem', input: { patientId: P1, text: 'Asthma', status: 'active' }, now: now() } });
    await push(store, (b) => ({ idempotencyKey: b.idempotencyKey, status: 'applied', versionId: '1' }));
    assert.equal(await store.call('outboxSize', {}), 0);

    // Mine: inactive; theirs (version 2): remission.
    await store.call('recordChanges', { change: { kind: 'problem', input: { patientId: P1, conditionId, text: 'Asthma', status: 'inactive' }, now: now() } });
    const theirs = { ...(JSON.parse(json(db, 'Condition', conditionId!)!) as FhirResource), note: [{ text: 'theirs' }] };
    await push(store, (b) => ({ idempotencyKey: b.idempotencyKey, status: 'conflict', current: theirs, currentVersion: '2' }));
    const reads = readEntries(db);
    const [conflict, ...more] = await store.call('listConflicts', { limit: 10 });
    assert.equal(more.length, 0);
    assert.equal(conflict!.patientId, P1);
    assert.equal(conflict!.resourceId, conditionId);
    assert.equal(readEntries(db), reads + 1, 'the listing is audited');

    assert.deepEqual(await store.call('resolveConflict', { key: conflict!.key, choice: 'theirs' }), { resourceType: 'Condition', resourceId: conditionId });
    assert.deepEqual(JSON.parse(json(db, 'Condition', conditionId!)!), theirs, 'the backend version is in the cache');
    assert.equal(count(db, "SELECT count(*) FROM resources WHERE id = ? AND version_id = '2'", conditionId), 1);
    await assert.rejects(store.call('resolveConflict', { key: conflict!.key, choice: 'mine' }), (err: unknown) => (err as { code?: string }).code === 'NOT_FOUND');

    // Keep mine: queued again, based on their version, not undoable alone.
    await store.call('recordChanges', { change: { kind: 'problem', input: { patientId: P1, conditionId, text: 'Asthma', status: 'resolved' }, now: now() } });
    const theirs3 = { ...theirs, note: [{ text: 'theirs again' }] };
    await push(store, (b) => ({ idempotencyKey: b.idempotencyKey, status: 'conflict', current: theirs3, currentVersion: '3' }));
    const [again] = await store.call('listConflicts', { limit: 10 });
    await store.call('resolveConflict', { key: again!.key, choice: 'mine' });
    const queued = db.prepare('SELECT base_version, prior_existed, resource FROM outbox').all() as Array<{ base_version: string; prior_existed: number | null; resource: string }>;
    assert.equal(queued.length, 1);
    assert.equal(queued[0]!.base_version, '3');
    assert.equal(queued[0]!.prior_existed, null);
    assert.match(queued[0]!.resource, /"resolved"/);
    await push(store, (b) => ({ idempotencyKey: b.idempotencyKey, status: 'applied', versionId: '4' }));

    // A hostile answer: the "current version" of P1's problem is P2's Patient record, changed. Nothing of P2 changes,
    // no conflict shows P2's record as P1's problem, and the change is kept (held) rather than lost.
    const p2Before = json(db, 'Patient', P2);
    const names = db.prepare('SELECT display_name FROM patients WHERE id = ?').pluck().get(P2);
    await store.call('recordChanges', { change: { kind: 'problem', input: { patientId: P1, conditionId, text: 'Asthma', status: 'active' }, now: now() } });
    const foreign = { ...(JSON.parse(p2Before!) as FhirResource), name: [{ family: 'Replaced', given: ['Someone'] }] };
    const [sent] = await push(store, (b) => ({ idempotencyKey: b.idempotencyKey, status: 'conflict', current: foreign, currentVersion: '9' }));
    assert.deepEqual(await store.call('listConflicts', { limit: 10 }), [], 'no conflict holds another resource');
    assert.equal(json(db, 'Patient', P2), p2Before, "the other patient's record is untouched");
    assert.equal(db.prepare('SELECT display_name FROM patients WHERE id = ?').pluck().get(P2), names);
    assert.equal(count(db, 'SELECT count(*) FROM outbox WHERE idempotency_key = ? AND held_at IS NOT NULL', sent!.idempotencyKey), 1, 'the change is kept, held');
    assert.match(json(db, 'Condition', conditionId!)!, /"active"/, 'my change stays in the cache');
  } finally {
    await o.dispose();
  }
});

test('a push counts only entries still queued: a change taken back after the batch was read is not sent', async () => {
  const o = await openStore();
  try {
    const { store } = o;
    const { ids: [conditionId] } = await store.call('recordChanges', { change: { kind: 'problem', input: { patientId: P1, text: 'Migraine', status: 'active' }, now: new Date().toISOString() } });
    const batch = await store.call('pendingChanges', { limit: 100, sendHeld: true, heldSentAlready: [], setAside: [] });
    assert.equal(batch.length, 1);
    // The undo reaches the store between the batch's read and its count.
    assert.deepEqual(await store.call('undoChange', { resourceType: 'Condition', resourceId: conditionId!, sending: [] }), { undone: true });
    assert.deepEqual(await store.call('markSent', { keys: [batch[0]!.idempotencyKey, randomUUID()] }), { marked: [] });
    assert.equal(await store.call('outboxSize', {}), 0);
  } finally {
    await o.dispose();
  }
});

test('idempotency keys are time-ordered (UUID v7): the outbox\'s keys sort in the order its changes were made, so the backend stores a push\'s answers together', async () => {
  const o = await openStore();
  try {
    const { store } = o;
    for (let n = 0; n < 40; n++) {
      await store.call('recordChanges', { change: { kind: 'problem', input: { patientId: n % 2 ? P1 : P2, text: `Problem ${n}`, status: 'active' }, now: new Date().toISOString() } });
    }
    const batch = await store.call('pendingChanges', { limit: 100, sendHeld: true, heldSentAlready: [], setAside: [] });
    assert.equal(batch.length, 40);
    const keys = batch.map((b) => b.idempotencyKey);
    for (const key of keys) assert.match(key, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual([...keys].sort(), keys, 'in the order made (seq order)');
    assert.equal(new Set(keys).size, keys.length);
  } finally {
    await o.dispose();
  }
});

test('a push reads each change as stored and puts it into the body unparsed, so an outbox row that is not exactly one JSON object (altered outside the app) fails the read in words and sends nothing; the outbox stays as it was', async () => {
  const o = await openStore();
  try {
    const { store, db } = o;
    const { keys: [key] } = await store.call('recordChanges', { change: { kind: 'problem', input: { patientId: P1, text: 'Asthma', status: 'active' }, now: new Date().toISOString() } });
    const [stored] = await store.call('pendingChanges', { limit: 100, sendHeld: true, heldSentAlready: [], setAside: [] });
    assert.equal(stored!.resourceJson, db.prepare('SELECT resource FROM outbox WHERE idempotency_key = ?').pluck().get(key), 'the stored text, as it is');
    for (const altered of [`${stored!.resourceJson},{"resourceType":"Condition","id":"extra"}`, '[1,2]', '{"resourceType":"Condition"', '"text"']) {
      db.prepare('UPDATE outbox SET resource = ? WHERE idempotency_key = ?').run(altered, key);
      const before = JSON.stringify(db.prepare('SELECT * FROM outbox ORDER BY seq').all());
      await assert.rejects(store.call('pendingChanges', { limit: 100, sendHeld: true, heldSentAlready: [], setAside: [] }), (err: unknown) => (err as { code?: string }).code === 'CACHE_CORRUPT', altered);
      assert.equal(JSON.stringify(db.prepare('SELECT * FROM outbox ORDER BY seq').all()), before, 'nothing changed, nothing counted as sent');
    }
  } finally {
    await o.dispose();
  }
});
