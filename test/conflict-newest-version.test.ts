/**
 * A conflict waits for the clinician while the backend's record moves on:
 * the pull makes the newer version the conflict's "theirs" (its cursor moves
 * past it), so the clinician compares with it, "take theirs" installs the
 * newest server version, and "keep mine" goes out based on it (cache only,
 * real encrypted cache).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { importBundle } from '../electron/services/bundle-import';
import { setProblem } from '../electron/services/charting';
import { markSent, settle } from '../electron/services/outbox';
import { applyPulledPage } from '../electron/services/sync-pull';
import { listConflicts, resolveConflict } from '../electron/services/conflicts';
import { openTestCache } from './support/open-test-cache';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';

const patient = loadFixturePatients()[0]!;

async function conflictThenNewerVersion(id: string) {
  const cache = await openTestCache('dr.conflict');
  after(() => cache.dispose());
  const s = cache.session;
  // The test's own connection to the cache file (the session's store runs in its worker).
  const db = await cache.db();
  await importBundle(s, readFileSync(SYNTHEA_FILES[0]!));
  const condition = (status: string, versionId: string) => ({
    resourceType: 'Condition',
    id,
    meta: { versionId },
    clinicalStatus: { coding: [{ code: status }] },
    code: { text: 'Hypertension' },
    subject: { reference: `Patient/${patient.id}` },
    recordedDate: '2026-01-01',
  });
  await applyPulledPage(s, { resources: [condition('active', '1') as never], cursor: `10/Condition/${id}`, more: false });
  await setProblem(s, { patientId: patient.id, conditionId: id, text: 'Hypertension', status: 'recurrence' }, new Date());
  const key = db.prepare('SELECT idempotency_key FROM outbox WHERE resource_id = ?').pluck().get(id) as string;
  await markSent(s, [key]);
  await settle(s, [{ idempotencyKey: key, status: 'conflict', current: condition('inactive', '2') as never, currentVersion: '2' }]);
  // While the conflict waits, a colleague resolves it: version 3 is pulled, and the cursor moves past it.
  await applyPulledPage(s, { resources: [condition('resolved', '3') as never], cursor: `12/Condition/${id}`, more: false });
  const row = () => db.prepare("SELECT version_id, json FROM resources WHERE resource_type = 'Condition' AND id = ?").get(id) as { version_id: string; json: string };
  return { s, db, key, row };
}

test('taking theirs after a newer version was pulled during the conflict installs the newest server version', async () => {
  const { s, db, key, row } = await conflictThenNewerVersion('conflict-newest-1');
  const shown = (await listConflicts(s)).find((c) => c.key === key)!;
  assert.deepEqual([shown.theirVersion, (shown.theirs as { clinicalStatus?: { coding: Array<{ code: string }> } }).clinicalStatus?.coding[0]?.code], ['3', 'resolved'], 'the clinician compares with the newest');
  await resolveConflict(s, key, 'theirs');
  await applyPulledPage(s, { resources: [], cursor: '12/Condition/conflict-newest-1', more: false });
  assert.deepEqual([row().version_id, JSON.parse(row().json).clinicalStatus.coding[0].code], ['3', 'resolved']);
  const audit = db.prepare('SELECT entry FROM audit_log ORDER BY seq DESC LIMIT 1').pluck().get() as string;
  assert.ok(audit.includes('Condition/conflict-newest-1/_history/3'), 'the choice names the version installed');
});

test('keeping mine after a newer version was pulled during the conflict goes out based on the newest version', async () => {
  const { s, db, key, row } = await conflictThenNewerVersion('conflict-newest-2');
  await resolveConflict(s, key, 'mine');
  const queued = db.prepare("SELECT base_version, resource FROM outbox WHERE resource_id = 'conflict-newest-2'").get() as { base_version: string; resource: string };
  assert.equal(queued.base_version, '3');
  assert.equal(JSON.parse(queued.resource).clinicalStatus.coding[0].code, 'recurrence');
  assert.equal(row().version_id, '3');
});
