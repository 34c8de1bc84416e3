/**
 * A pull never goes backwards: a page that carries an older version of a
 * record than the cache holds (a lagging backend instance, a replayed page)
 * is skipped for that record, and a page whose cursor lies behind the one
 * asked for is refused whole; either way the record keeps its newer
 * version, the cursor does not move back, and the clinician's next edit goes
 * out on the newer version (no self-made conflict). Real backend process
 * (SQLite and PostgreSQL), real cache, and a real HTTP server in front of
 * the backend that rewrites its pull answers.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackendClient } from '../electron/services/backend-client';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import { recordChange } from '../electron/services/outbox';
import { SyncWorker } from '../electron/services/sync-worker';
import { pullCursor } from '../electron/services/sync-pull';
import { verifyCache } from '../electron/services/cache-maintenance';
import type { FhirResource } from '../shared/contract';
import { PULL_PATH, type PullReply } from '../shared/sync-api';
import type { CacheDatabase } from '../electron/services/cache-database';
import { registerDeviceAt } from './support/backend-db';
import { inspectCache } from './support/cache-inspect';
import { backendSnapshot } from './support/backend-state';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { startInterposer, type Interposer } from './support/http-interposer';
import { syntheticPatientBundle } from './support/synthetic-bundles';

const patientId = 'pull-versions-patient';

function heartRate(id: string, value: number): FhirResource {
  return { resourceType: 'Observation', id, status: 'final', code: { text: 'Heart rate' }, subject: { reference: `Patient/${patientId}` }, valueQuantity: { value, unit: '/min' } } as FhirResource;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`a pull never goes backwards, backend on ${engine}`, () => {
    const keychain = testKeychain();
    const dir = scratchDir('sync-pull-versions');
    let backend: BackendProcess;
    let front: Interposer;
    let session: CacheSession;
    /** The test's own connection to the device's cache file, to look at what the pulls committed. */
    let db: CacheDatabase;
    let otherToken: string;
    let worker: SyncWorker;
    /** Every pull answer the backend gave the device, as sent. */
    const pulls: string[] = [];

    const held = (id: string) =>
      db.prepare("SELECT version_id, json FROM resources WHERE resource_type = 'Observation' AND id = ?").get(id) as { version_id: string; json: string } | undefined;
    const conflicts = () => db.prepare('SELECT count(*) FROM conflicts').pluck().get() as number;
    const pushElsewhere = async (resource: FhirResource, baseVersion: string | null) => {
      const { results } = await new BackendClient(backend.url).push(otherToken, [{ idempotencyKey: randomUUID(), resourceType: 'Observation', id: resource.id, baseVersion, resource }]);
      assert.equal(results[0]!.status, 'applied');
    };

    before(async () => {
      const bundles = join(dir.path, 'bundles');
      mkdirSync(bundles);
      writeFileSync(join(bundles, 'p.json'), JSON.stringify(syntheticPatientBundle({ patientId, observations: 0 })));
      backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: ['https://app.invalid'], bundles: [bundles], engine });
      backend.admin(['add-clinician', 'dr.pv', '--name', 'Dr PV', '--assign-all']);
      session = await openCacheSession({ dataDir: join(dir.path, 'desktop'), secrets: keychain, actor: 'dr.pv', create: true });
      db = await inspectCache(session, keychain);
      const other = await openCacheSession({ dataDir: join(dir.path, 'other'), secrets: keychain, actor: 'dr.pv', create: true });
      const token = await registerDeviceAt(backend, 'dr.pv', session);
      otherToken = await registerDeviceAt(backend, 'dr.pv', other);
      await other.close();
      front = await startInterposer(backend.url);
      front.handle(async (exchange, forward) => {
        const answer = await forward();
        if (exchange.path === PULL_PATH) pulls.push(answer.body);
        return answer;
      });
      worker = new SyncWorker({ undoSeconds: 0, backend: new BackendClient(front.url, 5000), session: () => session, token: () => token });
      assert.equal(await worker.drain(), true, 'a first, clean sync');
      // Another device takes the record from v1 to v3; this device pulls each version.
      for (const [value, base] of [[61, null], [62, '1'], [63, '2']] as const) {
        await pushElsewhere(heartRate('pv-obs', value), base);
        assert.equal(await worker.drain(), true);
      }
      assert.equal(held('pv-obs')?.version_id, '3');
    });

    after(async () => {
      await front?.close();
      await session?.close();
      await backend?.dispose();
      dir.remove();
      await keychain.cleanup();
    });

    /** The page the backend sent with v2 of the record, and that version as it came. */
    function staleV2(): { page: string; resource: PullReply['resources'][number] } {
      for (const page of pulls) {
        const resource = (JSON.parse(page) as PullReply).resources.find((r) => r.id === 'pv-obs' && r.meta.versionId === '2');
        if (resource) return { page, resource };
      }
      throw new Error('no pull carried v2');
    }

    test('a page that carries v2 of a record the cache holds at v3 is skipped for it; the rest of the page is stored', async () => {
      const { resource } = staleV2();
      await pushElsewhere(heartRate('pv-other', 70), null);
      const cursorBefore = await pullCursor(session);
      let served: PullReply | null = null;
      front.handle(async (exchange, forward) => {
        const answer = await forward();
        if (exchange.path !== PULL_PATH) return answer;
        const page = JSON.parse(answer.body) as PullReply;
        // As a lagging instance would: v2 of the record rides along with the real new change.
        if (page.resources.length > 0) page.resources.unshift(resource);
        served = page;
        return { ...answer, body: JSON.stringify(page) };
      });
      assert.equal(await worker.drain(), true, worker.status.lastError ?? '');
      assert.ok(served && (served as PullReply).resources.some((r) => r.id === 'pv-obs'), 'the stale version was served');
      assert.equal(held('pv-obs')?.version_id, '3', 'the record keeps v3');
      assert.equal((JSON.parse(held('pv-obs')!.json) as { valueQuantity: { value: number } }).valueQuantity.value, 63);
      assert.equal(held('pv-other')?.version_id, '1', 'the real change on the page is stored');
      assert.notEqual(await pullCursor(session), cursorBefore, 'the cursor moved on');
      assert.equal(conflicts(), 0);
      assert.equal((await verifyCache(session)).ok, true);
    });

    test('a replayed page whose cursor lies behind the one asked for is refused whole: nothing written, the cursor stays', async () => {
      const { page } = staleV2();
      const cursorBefore = await pullCursor(session);
      front.handle(async (exchange, forward) => (exchange.path === PULL_PATH ? { status: 200, body: page } : forward()));
      assert.equal(await worker.drain(), false, 'the drain fails');
      assert.equal(worker.status.lastError, 'The hospital server sent an update that does not move forward.');
      assert.equal(held('pv-obs')?.version_id, '3');
      assert.equal(await pullCursor(session), cursorBefore, 'the cursor did not go back');
      assert.equal(conflicts(), 0);
    });

    test('the clinician\'s next edit goes out on v3: applied as v4, no self-made conflict', async () => {
      front.handle(null);
      await recordChange(session, heartRate('pv-obs', 64));
      assert.equal(await worker.drain(), true, worker.status.lastError ?? '');
      assert.equal(conflicts(), 0, 'no conflict');
      assert.equal(held('pv-obs')?.version_id, '4');
      const server = await backendSnapshot(backend, session.profile.profileId, 'Observation');
      assert.equal(server.resources.get('pv-obs')?.version, 4);
    });
  });
}
