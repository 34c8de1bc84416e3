/**
 * Two clinicians' devices against the real backend process (SQLite and
 * PostgreSQL): the pull brings each device what changed since its cursor,
 * for its assigned patients only, page by page (an unassigned patient
 * leaves the cache); when both change the same
 * problem offline, the second to sync gets a conflict with both versions,
 * cannot edit on top of it, and after choosing (either way) both devices and
 * the backend converge; the choice is in the audit trail the backend holds.
 * A signed note never conflicts: a change to it is refused. Single
 * resources speak HTTP versioning: ETag, If-Match, 412, 428.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { AppError } from '../shared/app-error';
import { BackendClient } from '../electron/services/backend-client';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import { listConflicts, resolveConflict } from '../electron/services/conflicts';
import { outboxSize, syncCounts } from '../electron/services/outbox';
import { setProblem, saveNoteDraft, signNote } from '../electron/services/charting';
import { SyncWorker } from '../electron/services/sync-worker';
import { pullCursor } from '../electron/services/sync-pull';
import { verifyCache } from '../electron/services/cache-maintenance';
import { registerDeviceAt } from './support/backend-db';
import { backendSnapshot, content, type BackendSnapshot } from './support/backend-state';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { syntheticPatientBundle } from './support/synthetic-bundles';
import type { CacheDatabase } from '../electron/services/cache-database';

const SHARED = 'conflict-shared';
const BIG = 'conflict-big';
const OTHER = 'conflict-other';
const BIG_OBSERVATIONS = 2500;

interface Device {
  session: CacheSession;
  worker: SyncWorker;
  token: string;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`pull and conflicts, backend on ${engine}`, () => {
    const keychain = testKeychain();
    const dir = scratchDir('conflicts');
    let backend: BackendProcess;
    let a: Device;
    let b: Device;

    async function device(name: string, clinicianId: string): Promise<Device> {
      const session = await openCacheSession({ dataDir: join(dir.path, name), secrets: keychain, actor: clinicianId, create: true });
      const token = await registerDeviceAt(backend, clinicianId, session);
      const worker = new SyncWorker({ undoSeconds: 0, backend: new BackendClient(backend.url), session: () => session, token: () => token });
      return { session, worker, token };
    }

    async function sync(d: Device): Promise<void> {
      assert.equal(await d.worker.drain(), true, d.worker.status.lastError ?? '');
    }

    /** The test's own connection to a device's cache file (its session's store runs in its worker). */
    const dbOf = (d: Device): Promise<CacheDatabase> => inspectCache(d.session, keychain);

    /** The device's whole audit chain as its cache file holds it. */
    async function auditChainOf(d: Device): Promise<BackendSnapshot['audit']> {
      return (await dbOf(d)).prepare('SELECT seq, hash, entry FROM audit_log ORDER BY seq').all() as BackendSnapshot['audit'];
    }

    async function local(d: Device, type: string, id: string): Promise<{ json: Record<string, unknown>; version: string | null } | null> {
      const row = (await dbOf(d)).prepare('SELECT json, version_id FROM resources WHERE resource_type = ? AND id = ?').get(type, id) as { json: string; version_id: string | null } | undefined;
      return row ? { json: JSON.parse(row.json) as Record<string, unknown>, version: row.version_id } : null;
    }

    const statusOf = (r: Record<string, unknown> | undefined) => (r?.clinicalStatus as { coding: Array<{ code: string }> } | undefined)?.coding[0]?.code;

    before(async () => {
      const bundles = join(dir.path, 'bundles');
      mkdirSync(bundles);
      writeFileSync(join(bundles, 'shared.json'), JSON.stringify(syntheticPatientBundle({ patientId: SHARED, observations: 3 })));
      writeFileSync(join(bundles, 'big.json'), JSON.stringify(syntheticPatientBundle({ patientId: BIG, observations: BIG_OBSERVATIONS })));
      writeFileSync(join(bundles, 'other.json'), JSON.stringify(syntheticPatientBundle({ patientId: OTHER, observations: 3 })));
      backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: ['https://app.invalid'], bundles: [bundles], engine });
      backend.admin(['add-clinician', 'dr.a', '--name', 'Dr A']);
      backend.admin(['add-clinician', 'dr.b', '--name', 'Dr B']);
      backend.admin(['assign', 'dr.a', SHARED]);
      backend.admin(['assign', 'dr.b', SHARED, OTHER]);
      a = await device('device-a', 'dr.a');
      b = await device('device-b', 'dr.b');
    });

    after(async () => {
      await a?.session.close();
      await b?.session.close();
      await backend?.dispose();
      dir.remove();
      await keychain.cleanup();
    });

    test('the pull brings assigned patients only, then only what changed, page by page for a newly assigned patient; an unassigned one leaves', async () => {
      await sync(a);
      const db = await dbOf(a);
      const patients = () => db.prepare('SELECT id FROM patients ORDER BY id').pluck().all();
      assert.deepEqual(patients(), [SHARED]);
      assert.equal(await local(a, 'Patient', OTHER), null, 'a patient not assigned never reaches the device');
      const firstCursor = await pullCursor(a.session);
      assert.ok(firstCursor);

      // Nothing changed: the pull writes nothing, the audit chain does not grow.
      const auditBefore = (await auditChainOf(a)).length;
      await sync(a);
      assert.equal(await pullCursor(a.session), firstCursor);
      assert.equal((await auditChainOf(a)).length, auditBefore);

      // A newly assigned patient arrives whole on the next pull, over more than one page.
      backend.admin(['assign', 'dr.a', BIG]);
      const pages: number[] = [];
      const client = new BackendClient(backend.url);
      const answer = client.pullAnswer.bind(client);
      client.pullAnswer = async (token, cursor, options) => {
        const decode = await answer(token, cursor, options);
        return () => {
          const page = decode();
          pages.push(page.resources.length);
          return page;
        };
      };
      const worker = new SyncWorker({ undoSeconds: 0, backend: client, session: () => a.session, token: () => a.token });
      assert.equal(await worker.drain(), true);
      assert.ok(pages.length >= 2, `several pages (${pages.join(', ')})`);
      const big = db.prepare("SELECT count(*) FROM resources WHERE patient_id = ? AND resource_type = 'Observation'").pluck().get(BIG);
      assert.equal(big, BIG_OBSERVATIONS);
      assert.deepEqual(patients(), [BIG, SHARED].sort());
      assert.equal((await verifyCache(a.session)).ok, true);

      // Unassigned: the patient leaves the device at the next pull, whole, and the removal is audited.
      backend.admin(['unassign', 'dr.a', BIG]);
      await sync(a);
      assert.deepEqual(patients(), [SHARED]);
      assert.equal(db.prepare('SELECT count(*) FROM resources WHERE patient_id = ?').pluck().get(BIG), 0);
      assert.equal(db.prepare('SELECT count(*) FROM patient_search_terms WHERE patient_id = ?').pluck().get(BIG), 0);
      assert.equal(db.prepare("SELECT count(*) FROM audit_log WHERE action = 'D' AND patient_id = ?").pluck().get(BIG), 1);
      assert.equal((await verifyCache(a.session)).ok, true);
    });

    test('the same problem changed on two devices offline: the second gets both versions, keeps its own, and all converge', async () => {
      // Dr A adds a problem; both devices have it.
      const { conditionId } = await setProblem(a.session, { patientId: SHARED, text: 'Type 2 diabetes', status: 'active' }, new Date());
      await sync(a);
      await sync(b);
      assert.equal((await local(b, 'Condition', conditionId))?.version, '1');

      // Offline, each changes it.
      await setProblem(a.session, { patientId: SHARED, conditionId, text: 'Type 2 diabetes', status: 'remission' }, new Date());
      await setProblem(b.session, { patientId: SHARED, conditionId, text: 'Type 2 diabetes', status: 'inactive' }, new Date());
      await sync(a);
      await sync(b);

      assert.equal(await outboxSize(b.session), 0);
      assert.equal((await syncCounts(b.session)).conflicts, 1);
      const [conflict] = await listConflicts(b.session);
      assert.ok(conflict);
      assert.equal(statusOf(conflict.mine), 'inactive');
      assert.equal(statusOf(conflict.theirs), 'remission');
      assert.equal(conflict.theirVersion, '2');
      assert.equal(statusOf((await local(b, 'Condition', conditionId))?.json), 'inactive', 'the clinician still sees their own version');

      // Editing on top of an open conflict is refused, with a typed error, and queues nothing.
      await assert.rejects(
        async () => await setProblem(b.session, { patientId: SHARED, conditionId, text: 'Type 2 diabetes', status: 'active' }, new Date()),
        (err: unknown) => err instanceof AppError && err.code === 'CONFLICT_UNRESOLVED',
      );
      assert.equal(await outboxSize(b.session), 0);

      await resolveConflict(b.session, conflict.key, 'mine');
      await assert.rejects(async () => await resolveConflict(b.session, conflict.key, 'mine'), (err: unknown) => err instanceof AppError && err.code === 'NOT_FOUND');
      await sync(b);
      await sync(a);

      const server = await backendSnapshot(backend, b.session.profile.profileId, 'Condition');
      const stored = server.resources.get(conditionId)!;
      assert.equal(stored.version, 3);
      assert.equal(statusOf(stored.resource), 'inactive', "Dr B's choice is on the backend");
      for (const d of [a, b]) {
        const copy = (await local(d, 'Condition', conditionId))!;
        assert.equal(copy.version, '3');
        assert.equal(content(copy.json), content(stored.resource), 'the device holds what the backend holds');
        assert.deepEqual(await syncCounts(d.session), { waiting: 0, refused: 0, conflicts: 0 });
      }

      // The choice is audited, names the version chosen over, and reached the backend with the rest of the chain.
      const choice = (await dbOf(b)).prepare("SELECT entry FROM audit_log WHERE subtype = 'conflict-keep-mine'").pluck().all() as string[];
      assert.equal(choice.length, 1);
      assert.ok(choice[0]!.includes(`Condition/${conditionId}/_history/2`));
      assert.deepEqual(server.audit, await auditChainOf(b));
    });

    test('taking the other version discards the local change, sends nothing, and both converge', async () => {
      const { conditionId } = await setProblem(b.session, { patientId: SHARED, text: 'Asthma', status: 'active' }, new Date());
      await sync(b);
      await sync(a);
      await setProblem(a.session, { patientId: SHARED, conditionId, text: 'Asthma', status: 'resolved' }, new Date());
      await setProblem(b.session, { patientId: SHARED, conditionId, text: 'Asthma', status: 'relapse' }, new Date());
      // This time Dr B syncs first; Dr A meets the conflict.
      await sync(b);
      await sync(a);
      const [conflict] = await listConflicts(a.session);
      assert.ok(conflict);
      assert.equal(statusOf(conflict.theirs), 'relapse');
      await resolveConflict(a.session, conflict.key, 'theirs');
      assert.equal(await outboxSize(a.session), 0, 'nothing to send');
      await sync(a);
      const server = await backendSnapshot(backend, a.session.profile.profileId, 'Condition');
      const stored = server.resources.get(conditionId)!;
      assert.equal(stored.version, 2, 'no write came from taking theirs');
      for (const d of [a, b]) assert.equal(content((await local(d, 'Condition', conditionId))!.json), content(stored.resource));
      const choice = (await dbOf(a)).prepare("SELECT count(*) FROM audit_log WHERE subtype = 'conflict-take-theirs'").pluck().get();
      assert.equal(choice, 1);
      assert.deepEqual(server.audit, await auditChainOf(a));
    });

    test('a signed note never conflicts: a change to it is refused by the backend, not merged', async () => {
      const { noteId } = await saveNoteDraft(a.session, { patientId: SHARED, subjective: 'Well.', objective: '', assessment: 'Stable.', plan: 'Review.' }, new Date());
      await signNote(a.session, noteId, new Date());
      await sync(a);
      await sync(b);
      const signed = (await local(b, 'Composition', noteId))!;
      assert.equal(signed.json.status, 'final');
      const { results } = await new BackendClient(backend.url).push(b.token, [
        { idempotencyKey: randomUUID(), resourceType: 'Composition', id: noteId, baseVersion: signed.version, resource: { ...signed.json, resourceType: 'Composition', id: noteId, title: 'changed' } },
      ]);
      assert.equal(results[0]!.status, 'refused');
      const server = await backendSnapshot(backend, a.session.profile.profileId, 'Composition');
      assert.equal(server.resources.get(noteId)!.version, 2, 'draft, then signed; nothing after');
    });

    test('HTTP versioning: GET gives an ETag; PUT needs If-Match, answers 412 with the current version when stale, and applies one Idempotency-Key once', async () => {
      const id = `etag-${engine}`;
      const url = `${backend.url}/v1/fhir/Observation/${id}`;
      const resource = { resourceType: 'Observation', id, status: 'final', code: { text: 'Weight' }, subject: { reference: `Patient/${SHARED}` }, valueQuantity: { value: 70, unit: 'kg' } };
      const put = (body: unknown, headers: Record<string, string>, token = a.token) =>
        fetch(url, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

      const key = randomUUID();
      const created = await put(resource, { 'idempotency-key': key });
      assert.equal(created.status, 201);
      assert.equal(created.headers.get('etag'), 'W/"1"');
      assert.equal((await put(resource, { 'idempotency-key': key })).headers.get('etag'), 'W/"1"', 'the same key again: the same answer');

      const got = await fetch(url, { headers: { authorization: `Bearer ${b.token}` } });
      assert.equal(got.status, 200);
      assert.equal(got.headers.get('etag'), 'W/"1"');
      assert.equal(((await got.json()) as { meta: { versionId: string } }).meta.versionId, '1');

      assert.equal((await put({ ...resource, valueQuantity: { value: 71, unit: 'kg' } }, { 'idempotency-key': randomUUID() })).status, 428, 'no blind overwrite');
      const updated = await put({ ...resource, valueQuantity: { value: 72, unit: 'kg' } }, { 'idempotency-key': randomUUID(), 'if-match': 'W/"1"' });
      assert.equal(updated.status, 200);
      assert.equal(updated.headers.get('etag'), 'W/"2"');
      const stale = await put({ ...resource, valueQuantity: { value: 73, unit: 'kg' } }, { 'idempotency-key': randomUUID(), 'if-match': 'W/"1"' }, b.token);
      assert.equal(stale.status, 412);
      assert.equal(stale.headers.get('etag'), 'W/"2"');
      assert.equal(((await stale.json()) as { current: { valueQuantity: { value: number } } }).current.valueQuantity.value, 72, 'the current version comes back');
      assert.equal((await put(resource, { 'idempotency-key': 'nope', 'if-match': 'W/"2"' })).status, 400);
      const other = await fetch(`${backend.url}/v1/fhir/Patient/${OTHER}`, { headers: { authorization: `Bearer ${a.token}` } });
      assert.equal(other.status, 404, "another clinician's patient is not served");
      const server = await backendSnapshot(backend, a.session.profile.profileId, 'Observation');
      assert.equal(server.resources.get(id)!.version, 2);
    });
  });
}
