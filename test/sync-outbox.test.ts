/**
 * Offline changes reach the backend exactly once, in order, through a TCP
 * proxy that cuts connections at random (requests half sent, answers lost):
 * 1,000 mixed creates and updates across 20 patients, written through the
 * outbox, drained by the sync worker against the real backend process on
 * SQLite and on PostgreSQL. At the end the outbox is empty, the backend
 * holds every change once, each resource at the version its updates imply,
 * and the backend's audit chain for the device equals the device's.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { BackendClient } from '../electron/services/backend-client';
import { importBundle } from '../electron/services/bundle-import';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import type { CacheDatabase } from '../electron/services/cache-database';
import { outboxSize, recordChange } from '../electron/services/outbox';
import { SyncWorker } from '../electron/services/sync-worker';
import { verifyCache } from '../electron/services/cache-maintenance';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { syntheticPatientBundle } from './support/synthetic-bundles';
import { backendSnapshot } from './support/backend-state';
import { inspectCache } from './support/cache-inspect';
import { addVirtualAuthenticator } from './support/virtual-authenticator';
import { addWebAuthnHelper, launchChromium, serveRenderer, type RendererServer } from './browser/harness';

const PATIENTS = 20;
const CHANGES = 1000;

type Json = Record<string, unknown>;

function observation(patientId: string, id: string, value: number) {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: '2026-11-25T10:00:00Z',
    valueQuantity: { value, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`sync through a cutting proxy, backend on ${engine}`, () => {
    const keychain = testKeychain();
    const dir = scratchDir('sync');
    let browser: Browser;
    let renderer: RendererServer;
    let backend: BackendProcess;
    let proxy: TcpProxy;
    let page: Page;
    let session: CacheSession;
    /** The test's own connection to the session's cache file (./support/cache-inspect.ts). */
    let db: CacheDatabase;
    let token: string;
    const patientIds = Array.from({ length: PATIENTS }, (_, i) => `sync-patient-${i}`);

    before(async () => {
      [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
      const bundles = join(dir.path, 'bundles');
      mkdirSync(bundles);
      for (const id of patientIds) writeFileSync(join(bundles, `${id}.json`), JSON.stringify(syntheticPatientBundle({ patientId: id, observations: 0 })));
      backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: [renderer.origin], bundles: [bundles], engine });
      backend.admin(['add-clinician', 'dr.sync', '--name', 'Dr Sync', '--assign-all']);

      session = await openCacheSession({ dataDir: join(dir.path, 'desktop'), secrets: keychain, actor: 'dr.sync', create: true });
      db = await inspectCache(session, keychain);
      for (const id of patientIds) await importBundle(session, JSON.stringify(syntheticPatientBundle({ patientId: id, observations: 0 })));

      // Sign in for real: a passkey from the virtual authenticator, enrolled with a one-time code.
      page = await browser.newPage();
      await addVirtualAuthenticator(page, { prf: true });
      await addWebAuthnHelper(page);
      await page.goto(`${renderer.origin}/index.html`);
      const direct = new BackendClient(backend.url);
      const code = backend.admin(['enroll-code', 'dr.sync']);
      const { options } = await direct.enrollOptions({ clinicianId: 'dr.sync', code });
      const created = (await page.evaluate((o) => (globalThis as never as { __webauthn: { createPasskey(o: unknown): Promise<Json> } }).__webauthn.createPasskey(o), options)) as { response: never };
      const publicKey = session.keys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64url');
      token = (await direct.enrollVerify({ clinicianId: 'dr.sync', code, response: created.response, device: { id: session.profile.profileId, publicKey } })).token;
      proxy = await startTcpProxy(backend.port);
    });

    after(async () => {
      await proxy?.close();
      await session?.close();
      await page?.close();
      await browser?.close();
      await renderer?.close();
      await backend?.dispose();
      dir.remove();
      await keychain.cleanup();
    });

    /** What the backend stored: answers per change for this device, each Observation's version and value, the device's audit chain. */
    async function serverState() {
      const snapshot = await backendSnapshot(backend, session.profile.profileId, 'Observation');
      const resources = new Map([...snapshot.resources].map(([id, r]) => [id, { version: r.version, value: (r.resource as { valueQuantity: { value: number } }).valueQuantity.value }]));
      return { ...snapshot, resources };
    }

    test(`${CHANGES} changes across ${PATIENTS} patients arrive exactly once, in order, despite cut connections`, { timeout: 240_000 }, async () => {
      const expected = new Map<string, { patientId: string; versions: number; value: number }>();
      const createdIds: string[] = [];
      for (let i = 0; i < CHANGES; i++) {
        if (i % 5 === 4) {
          // An update of an observation made earlier (several updates of one resource must land in order).
          const id = createdIds[(i * 7) % createdIds.length]!;
          const e = expected.get(id)!;
          await recordChange(session, observation(e.patientId, id, 100 + i));
          expected.set(id, { ...e, versions: e.versions + 1, value: 100 + i });
        } else {
          const patientId = patientIds[i % PATIENTS]!;
          const id = `obs-${engine}-${i}`;
          await recordChange(session, observation(patientId, id, 60 + (i % 40)));
          createdIds.push(id);
          expected.set(id, { patientId, versions: 1, value: 60 + (i % 40) });
        }
      }
      assert.equal(await outboxSize(session), CHANGES);

      proxy.cutRate = 0.3;
      proxy.cutNext = 8;
      const worker = new SyncWorker({ undoSeconds: 0, backend: new BackendClient(proxy.url, 3000), session: () => session, token: () => token, baseDelayMs: 10, maxDelayMs: 100 });
      let rounds = 0;
      while (await outboxSize(session) > 0 && rounds < 2000) {
        rounds++;
        if (!(await worker.drain())) await new Promise((r) => setTimeout(r, worker.backoffMs(worker.status.failures - 1)));
      }
      const stuck = db.prepare('SELECT last_error, base_version, count(*) AS n FROM outbox GROUP BY last_error, base_version').all();
      assert.equal(await outboxSize(session), 0, `the outbox drained: ${JSON.stringify(stuck)}`);
      assert.ok(proxy.cuts >= 5, `connections really were cut (${proxy.cuts})`);
      assert.equal(db.prepare('SELECT count(*) FROM conflicts').pluck().get(), 0);

      const server = await serverState();
      assert.equal(server.applied, CHANGES, 'one stored answer per change: each applied once');
      assert.equal(server.resources.size, createdIds.length, 'each created resource exists once');
      for (const [id, want] of expected) {
        const got = server.resources.get(id);
        assert.ok(got, id);
        assert.equal(got.version, want.versions, `${id} has one version per change`);
        assert.equal(got.value, want.value, `${id} holds its last change (applied in order)`);
        const local = db.prepare("SELECT version_id FROM resources WHERE resource_type = 'Observation' AND id = ?").pluck().get(id);
        assert.equal(local, String(want.versions), `${id}: the cache knows the backend's version`);
      }
      assert.equal((await verifyCache(session)).ok, true, 'the audit chain is whole');
      // The last drain also uploads the audit chain; cut connections may need a few more tries.
      while (!(await worker.drain())) await new Promise((r) => setTimeout(r, 20));
      const uploaded = (await serverState()).audit;
      assert.ok(uploaded.length >= CHANGES, 'every change was audited and uploaded');
      assert.deepEqual(uploaded, db.prepare('SELECT seq, hash, entry FROM audit_log ORDER BY seq').all(), "the backend's audit chain for the device equals the device's own");
    });

    test('a change made on a version someone else has since changed comes back as a conflict with both versions, not an overwrite', async () => {
      proxy.cutRate = 0;
      const id = `obs-${engine}-0`;
      const before = db.prepare("SELECT version_id FROM resources WHERE resource_type = 'Observation' AND id = ?").pluck().get(id) as string;
      // Someone else (another device of the clinician) changes it first.
      const elsewhere = await new BackendClient(backend.url).push(token, [
        { idempotencyKey: randomUUID(), resourceType: 'Observation', id, baseVersion: before, resource: observation(patientIds[0]!, id, 222) },
      ]);
      assert.equal(elsewhere.results[0]!.status, 'applied');
      await recordChange(session, observation(patientIds[0]!, id, 111));
      const worker = new SyncWorker({ undoSeconds: 0, backend: new BackendClient(proxy.url), session: () => session, token: () => token });
      assert.equal(await worker.drain(), true, worker.status.lastError ?? '');
      assert.equal(await outboxSize(session), 0);
      const conflict = db.prepare('SELECT mine, theirs, their_version FROM conflicts WHERE resource_id = ?').get(id) as { mine: string; theirs: string; their_version: string };
      assert.equal((JSON.parse(conflict.mine) as { valueQuantity: { value: number } }).valueQuantity.value, 111);
      assert.equal((JSON.parse(conflict.theirs) as { valueQuantity: { value: number } }).valueQuantity.value, 222);
      assert.equal(conflict.their_version, String(Number(before) + 1));
      const server = await serverState();
      assert.equal(server.resources.get(id)!.value, 222, 'the other change was not overwritten');
    });
  });
}
