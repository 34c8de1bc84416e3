/**
 * The sync bookkeeping's store calls, driven through the store's worker
 * thread over a real encrypted cache file (key from the real keychain):
 * syncState/setSyncState keep and remove a value and refuse the keys the
 * store owns (the pull cursor, a version kept beside the queue);
 * changesSince lists the queued changes younger than a time, in order,
 * without the failed ones; unmarkSent gives an attempt back and never below
 * zero; applyPullPage answers the distinct patients a slice wrote to (the
 * first sync's progress counts them). The same calls on the session (its
 * store in the worker), through sync-state's syncState/setSyncState.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../shared/app-error';
import type { FhirResource } from '../shared/contract';
import { recordChange } from '../electron/services/outbox';
import { setSyncState, syncState } from '../electron/services/sync-state';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { openWorkerTestStore, rejectsWith } from './support/worker-store';

const ACTOR = 'dr.syncstate';

function observation(id: string, patientId: string): FhirResource {
  return { resourceType: 'Observation', id, status: 'final', code: { text: 'Heart rate' }, subject: { reference: `Patient/${patientId}` }, valueQuantity: { value: 60, unit: '/min' } } as FhirResource;
}

/** A cache made by the app (with `arrange` run on its session first), then opened in a store worker, plus a connection of the test's own. */
const openStore = (arrange?: (cache: TestCache) => void | Promise<void>) => openWorkerTestStore({ actor: ACTOR, network: 'online', arrange });

test('sync state through the worker: kept, replaced, removed with null; the keys the store owns are refused', async () => {
  const o = await openStore();
  try {
    assert.equal(await o.store.call('syncState', { key: 'audit_receipt' }), null);
    await o.store.call('setSyncState', { key: 'audit_receipt', value: '{"seq":1}' });
    await o.store.call('setSyncState', { key: 'audit_receipt', value: '{"seq":2}' });
    assert.equal(await o.store.call('syncState', { key: 'audit_receipt' }), '{"seq":2}');
    assert.equal(o.db.prepare("SELECT value FROM sync_state WHERE key = 'audit_receipt'").pluck().get(), '{"seq":2}', 'committed');
    await o.store.call('setSyncState', { key: 'audit_receipt', value: null });
    assert.equal(await o.store.call('syncState', { key: 'audit_receipt' }), null);
    assert.equal(o.db.prepare("SELECT count(*) FROM sync_state WHERE key = 'audit_receipt'").pluck().get(), 0, 'the row is gone');

    o.db.prepare("INSERT INTO sync_state (key, value) VALUES ('pull_cursor', '7/Observation/x')").run();
    await rejectsWith(o.store.call('setSyncState', { key: 'pull_cursor', value: '1/Patient/a' }), 'INVALID_INPUT');
    await rejectsWith(o.store.call('setSyncState', { key: 'pull_cursor', value: null }), 'INVALID_INPUT');
    await rejectsWith(o.store.call('syncState', { key: 'pulled-while-queued:Observation/x' }), 'INVALID_INPUT');
    assert.equal(o.db.prepare("SELECT value FROM sync_state WHERE key = 'pull_cursor'").pluck().get(), '7/Observation/x', 'the cursor moves only with its page');
  } finally {
    await o.dispose();
  }
});

test('changesSince lists the young queued changes in order, without failed ones; unmarkSent gives an attempt back, never below zero', async () => {
  const keys: string[] = [];
  const o = await openStore(async (cache) => {
    for (const id of ['cs-1', 'cs-2', 'cs-3']) keys.push(await recordChange(cache.session, observation(id, 'cs-patient')));
    const db = await cache.db();
    db.prepare("UPDATE outbox SET created_at = '2020-01-01T00:00:00.000Z' WHERE idempotency_key = ?").run(keys[0]);
    db.prepare("UPDATE outbox SET last_error = 'refused' WHERE idempotency_key = ?").run(keys[2]);
    db.prepare('UPDATE outbox SET attempts = 1 WHERE idempotency_key IN (?, ?)').run(keys[0], keys[1]);
  });
  try {
    const young = await o.store.call('changesSince', { since: '2021-01-01T00:00:00.000Z' });
    assert.deepEqual(young.map((c) => c.idempotencyKey), [keys[1]], 'only the young one that has not failed');
    assert.ok(young[0]!.seq > 0 && !Number.isNaN(Date.parse(young[0]!.createdAt)));
    assert.deepEqual((await o.store.call('changesSince', { since: '2019-01-01T00:00:00.000Z' })).map((c) => c.idempotencyKey), [keys[0], keys[1]], 'in queue order');

    await o.store.call('unmarkSent', { keys: [keys[0]!, keys[2]!, 'not-queued'] });
    const attempts = (key: string) => o.db.prepare('SELECT attempts FROM outbox WHERE idempotency_key = ?').pluck().get(key);
    assert.equal(attempts(keys[0]!), 0);
    assert.equal(attempts(keys[1]!), 1, 'another change keeps its attempt');
    assert.equal(attempts(keys[2]!), 0, 'one never counted as sent stays at zero');
    await o.store.call('unmarkSent', { keys: [keys[0]!] });
    assert.equal(attempts(keys[0]!), 0, 'never below zero');
    await o.store.call('unmarkSent', { keys: [] });
  } finally {
    await o.dispose();
  }
});

test('applyPullPage answers the distinct patients each slice wrote to, and none for what it skipped', async () => {
  const o = await openStore();
  try {
    const pulled = (id: string, patientId: string, versionId = '1') => ({ ...observation(id, patientId), meta: { versionId } });
    const resources = [pulled('ap-1', 'ap-a'), pulled('ap-2', 'ap-a'), pulled('ap-3', 'ap-b')];
    const first = await o.store.call('applyPullPage', { resources, cursor: '5/Observation/ap-3', assignedPatients: null, last: true });
    assert.equal(first.written, 3);
    assert.deepEqual([...first.patients].sort(), ['ap-a', 'ap-b']);
    const again = await o.store.call('applyPullPage', { resources, cursor: '5/Observation/ap-3', assignedPatients: null, last: true });
    assert.deepEqual(again, { written: 0, patients: [] }, 'the same versions again write nothing');
  } finally {
    await o.dispose();
  }
});

test('sync state on the session: kept, replaced, removed with null; the keys the store owns are refused', async () => {
  const cache = await openTestCache(ACTOR);
  try {
    await setSyncState(cache.session, 'probe', 'one');
    assert.equal(await syncState(cache.session, 'probe'), 'one');
    await setSyncState(cache.session, 'probe', 'two');
    assert.equal(await syncState(cache.session, 'probe'), 'two');
    await setSyncState(cache.session, 'probe', null);
    assert.equal(await syncState(cache.session, 'probe'), null);
    await assert.rejects(setSyncState(cache.session, 'pull_cursor', 'x'), (e: unknown) => e instanceof AppError && e.code === 'INVALID_INPUT');
  } finally {
    await cache.dispose();
  }
});
