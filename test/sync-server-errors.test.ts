/**
 * Refused is not unreachable, and a server failure is not "offline": a real
 * HTTP server in front of the real backend (SQLite and PostgreSQL) answers
 * 500 for every push batch that holds one marked change, as a backend whose
 * database fails on that change would. The desktop says the server has a
 * problem (never that it is offline), halves the batch until the change is
 * found, sets that change aside (counted, not retried in a tight loop), and
 * every other change lands once; a later change of the same resource waits
 * behind the failing one; a change the backend refuses is kept and shown
 * with its reason. Once the server takes the change, it and the one behind
 * it land in order.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackendClient, BACKEND_FAILED_MESSAGE } from '../electron/services/backend-client';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import { recordChange, refusedReasons, syncCounts } from '../electron/services/outbox';
import { FAILING_MESSAGE, SyncWorker } from '../electron/services/sync-worker';
import type { FhirResource } from '../shared/contract';
import { PUSH_PATH, type Change } from '../shared/sync-api';
import { registerDeviceAt } from './support/backend-db';
import { backendSnapshot } from './support/backend-state';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { startInterposer, type Interposer } from './support/http-interposer';
import { syntheticPatientBundle } from './support/synthetic-bundles';

const patientId = 'server-errors-patient';
const stranger = 'server-errors-stranger';
const GOOD = 40;
const SET_ASIDE_MS = 60_000;

function heartRate(id: string, value: number, patient = patientId): FhirResource {
  return { resourceType: 'Observation', id, status: 'final', code: { text: 'Heart rate' }, subject: { reference: `Patient/${patient}` }, valueQuantity: { value, unit: '/min' } } as FhirResource;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`a server that fails one change, backend on ${engine}`, () => {
    const keychain = testKeychain();
    const dir = scratchDir('sync-server-errors');
    let backend: BackendProcess;
    let front: Interposer;
    let session: CacheSession;
    let worker: SyncWorker;
    let now = Date.parse('2026-11-25T09:00:00Z');
    /** Whether the front answers 500 for batches holding the marked change. */
    let failing = true;
    /** Whether every push fails (503), as while the backend's database is down. */
    let allFail = false;
    const batches: string[][] = [];

    before(async () => {
      const bundles = join(dir.path, 'bundles');
      mkdirSync(bundles);
      writeFileSync(join(bundles, 'p.json'), JSON.stringify(syntheticPatientBundle({ patientId, observations: 0 })));
      writeFileSync(join(bundles, 's.json'), JSON.stringify(syntheticPatientBundle({ patientId: stranger, observations: 0 })));
      backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: ['https://app.invalid'], bundles: [bundles], engine });
      backend.admin(['add-clinician', 'dr.se', '--name', 'Dr SE', '--assign-all']);
      backend.admin(['unassign', 'dr.se', stranger]);
      session = await openCacheSession({ dataDir: join(dir.path, 'desktop'), secrets: keychain, actor: 'dr.se', create: true });
      const token = await registerDeviceAt(backend, 'dr.se', session);
      front = await startInterposer(backend.url);
      front.handle(async (exchange, forward) => {
        // The backend with its database down: /healthz says so too.
        if (allFail && exchange.path === '/healthz') return { status: 503, body: JSON.stringify({ ok: false, database: 'down' }) };
        if (exchange.path !== PUSH_PATH) return forward();
        const ids = (JSON.parse(exchange.body.toString('utf8')) as { changes: Change[] }).changes.map((c) => c.id);
        batches.push(ids);
        if (allFail) return { status: 503, body: JSON.stringify({ error: { code: 'DATABASE_UNAVAILABLE', message: 'The server failed to handle the request.' } }) };
        if (failing && ids.includes('se-poison')) return { status: 500, body: JSON.stringify({ error: { code: 'INTERNAL', message: 'The server failed to handle the request.' } }) };
        return forward();
      });
      worker = new SyncWorker({ undoSeconds: 0, backend: new BackendClient(front.url, 5000), session: () => session, token: () => token, batchSize: 8, setAsideMs: SET_ASIDE_MS, clock: () => now });
      assert.equal(await worker.drain(), true, 'a first, clean sync');
    });

    after(async () => {
      await front?.close();
      await session?.close();
      await backend?.dispose();
      dir.remove();
      await keychain.cleanup();
    });

    test('the server failing one change: a server problem, not offline; the batch is split, the change set aside, every other change lands once', async () => {
      for (let i = 0; i < GOOD; i++) {
        if (i === 5) await recordChange(session, heartRate('se-refused', 99, stranger));
        if (i === 13) await recordChange(session, heartRate('se-poison', 50));
        if (i === 20) await recordChange(session, heartRate('se-poison', 51));
        await recordChange(session, heartRate(`se-good-${i}`, 60 + (i % 30)));
      }
      assert.equal(await worker.drain(), false, 'the batch with the failing change fails');
      assert.equal(worker.status.online, true, 'not offline: the server answered');
      assert.equal(worker.status.serverProblem, true, 'the server has a problem');
      assert.equal(worker.status.lastError, BACKEND_FAILED_MESSAGE);

      for (let i = 0; i < 60 && (await syncCounts(session)).waiting > 2; i++) await worker.drain();
      assert.equal((await syncCounts(session)).waiting, 2, 'only the failing change and the one behind it wait');
      const db = await inspectCache(session, keychain);
      const waiting = db.prepare('SELECT resource_id FROM outbox WHERE last_error IS NULL ORDER BY seq').pluck().all();
      assert.deepEqual(waiting, ['se-poison', 'se-poison'], 'the later change of the same resource waits behind the failing one');
      assert.equal(worker.status.failing, 1, 'one change set aside, counted');
      assert.equal(worker.status.lastError, FAILING_MESSAGE);
      assert.equal(worker.status.serverProblem, false, 'the last drain reached a working server');
      assert.ok(batches.some((b) => b.length === 1 && b[0] === 'se-poison'), 'the failing change was found alone');

      const server = await backendSnapshot(backend, session.profile.profileId, 'Observation');
      for (let i = 0; i < GOOD; i++) assert.equal(server.resources.get(`se-good-${i}`)?.version, 1, `good change ${i} landed once`);
      assert.equal(server.resources.has('se-poison'), false);
      assert.equal(server.resources.has('se-refused'), false);
      assert.equal((await syncCounts(session)).refused, 1, 'the refused change is kept and counted');
      assert.deepEqual(await refusedReasons(session), ['Not found among your patients.'], 'with the backend\'s reason');
    });

    test('a change set aside is not sent again until its time comes, and nothing else is held up', async () => {
      const before = batches.length;
      await recordChange(session, heartRate('se-late', 77));
      for (let i = 0; i < 5; i++) assert.equal(await worker.drain(), true);
      assert.deepEqual(batches.slice(before), [['se-late']], 'only the new change went out');
      assert.equal(worker.status.failing, 1);
    });

    test('once the server takes it, the change set aside and the one behind it land, in order', async () => {
      failing = false;
      now += SET_ASIDE_MS + 1;
      assert.equal(await worker.drain(), true, worker.status.lastError ?? '');
      assert.equal((await syncCounts(session)).waiting, 0);
      assert.equal(worker.status.failing, 0);
      assert.equal(worker.status.lastError, null);
      const server = await backendSnapshot(backend, session.profile.profileId, 'Observation');
      assert.equal(server.resources.get('se-poison')?.version, 2, 'both changes of the resource, one after the other');
      assert.equal((server.resources.get('se-poison')?.resource as { valueQuantity: { value: number } }).valueQuantity.value, 51, 'the later one last');
    });

    test('a server failing every push (its database down, /healthz says so) sets no work aside: all lands once it recovers', async () => {
      allFail = true;
      for (let i = 0; i < 30; i++) await recordChange(session, heartRate(`se-outage-${i}`, 60 + i));
      for (let i = 0; i < 60; i++) {
        assert.equal(await worker.drain(), false, 'every drain fails');
        assert.equal(worker.status.online, true);
        assert.equal(worker.status.serverProblem, true);
        assert.equal(worker.status.failing, 0, 'nothing set aside: the server fails as a whole, not on a change');
      }
      allFail = false;
      // The server is back: whatever the outage had set aside goes out at once, without waiting for its time.
      assert.equal(await worker.drain(), true, worker.status.lastError ?? '');
      assert.equal((await syncCounts(session)).waiting, 0);
      assert.equal(worker.status.failing, 0);
      const server = await backendSnapshot(backend, session.profile.profileId, 'Observation');
      for (let i = 0; i < 30; i++) assert.equal(server.resources.get(`se-outage-${i}`)?.version, 1, `change ${i} landed once`);
    });
  });
}
