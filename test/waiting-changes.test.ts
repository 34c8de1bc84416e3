/**
 * What waits, in detail (`sync.waiting`): every change on this computer the
 * backend has not accepted, and every conflict, newest first, with its
 * patient by name, its kind in words, its state (waiting, refused, held,
 * conflict, failing; 'sending' is covered by change-undo.test.ts with a push
 * held in flight), attempts, a fixed-text last error and whether undo may
 * take it back; at most 200 with a truncated flag; audited as one query
 * entry per patient listed. Real encrypted cache; the worker's "set aside"
 * against the real backend process (SQLite and PostgreSQL) behind an HTTP
 * interposer that fails pushes of one change.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { importBundle } from '../electron/services/bundle-import';
import { addAddendum, recordVitals, saveNoteDraft, setProblem, signNote } from '../electron/services/charting';
import { markSent, recordChange, settle } from '../electron/services/outbox';
import { createHandlerRegistry, dispatch, type HandlerRegistry } from '../electron/services/handler-registry';
import { listWaitingChanges, WAITING_ERRORS } from '../electron/services/waiting-changes';
import { BackendClient } from '../electron/services/backend-client';
import { SyncWorker } from '../electron/services/sync-worker';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import type { CacheDatabase } from '../electron/services/cache-database';
import type { FhirResource, WaitingChange } from '../shared/contract';
import { PUSH_PATH } from '../shared/sync-api';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { syntheticPatientBundle } from './support/synthetic-bundles';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { startInterposer, type Interposer } from './support/http-interposer';
import { registerDeviceAt } from './support/backend-db';

const APP = { url: 'app://clinician/index.html', isMainFrame: true };
const options = { trustedOrigins: ['app://clinician'] };
const now = new Date('2026-11-25T10:00:00Z');
const P1 = 'waiting-patient-0001';
const P2 = 'waiting-patient-0002';

const observation = (patientId: string, id: string, category: string): FhirResource =>
  ({
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: category }] }],
    code: { text: 'Potassium' },
    subject: { reference: `Patient/${patientId}` },
    valueQuantity: { value: 5.9, unit: 'mmol/L' },
  }) as FhirResource;

const nameOf = (db: CacheDatabase, id: string) => db.prepare('SELECT display_name FROM patients WHERE id = ?').pluck().get(id) as string;
const keyOf = (db: CacheDatabase) => db.prepare('SELECT idempotency_key FROM outbox ORDER BY seq DESC LIMIT 1').pluck().get() as string;

async function waiting(registry: HandlerRegistry): Promise<{ changes: WaitingChange[]; truncated: boolean }> {
  const r = await dispatch(registry, 'sync.waiting', {}, APP, options);
  assert.ok(r.ok, JSON.stringify(r));
  return r.value as { changes: WaitingChange[]; truncated: boolean };
}

describe('the waiting list (cache only)', () => {
  let cache: TestCache;
  let registry: HandlerRegistry;

  before(async () => {
    cache = await openTestCache('dr.waiting');
    for (const patientId of [P1, P2]) await importBundle(cache.session, JSON.stringify(syntheticPatientBundle({ patientId, observations: 0 })));
    registry = createHandlerRegistry({ session: () => cache.session, problem: () => null, actor: () => 'dr.waiting' });
  });
  after(() => cache.dispose());

  test('each change is listed newest first with its patient, its kind in words, its state, attempts, last error and whether it can be undone', async () => {
    const s = cache.session;
    const db = await cache.db();
    const empty = await waiting(registry);
    assert.deepEqual(empty, { changes: [], truncated: false });

    const [vitalsId] = (await recordVitals(s, { patientId: P1, heartRate: 131 }, now)).ids;
    const { noteId } = await saveNoteDraft(s, { patientId: P1, subjective: 'Chest pain', objective: '', assessment: '', plan: '' }, now);
    await signNote(s, noteId, now);
    const { addendumId } = await addAddendum(s, noteId, 'Troponin pending.', now);
    const { conditionId } = await setProblem(s, { patientId: P2, text: 'Hypertension', status: 'active' }, now);
    await recordChange(s, observation(P2, 'lab-1', 'laboratory'));
    await recordChange(s, { resourceType: 'AllergyIntolerance', id: 'allergy-1', patient: { reference: `Patient/${P2}` } } as FhirResource);

    const { changes, truncated } = await waiting(registry);
    assert.equal(truncated, false);
    const seqOrder = (db.prepare('SELECT idempotency_key FROM outbox ORDER BY seq DESC').pluck().all() as string[]);
    assert.deepEqual(changes.map((c) => c.key), seqOrder, 'newest first');
    assert.deepEqual(
      changes.map((c) => [c.resourceType, c.resourceId, c.kind, c.patientId, c.patientName, c.state, c.attempts, c.lastError, c.undoable]),
      [
        ['AllergyIntolerance', 'allergy-1', 'Allergy intolerance', P2, nameOf(db, P2), 'waiting', 0, null, true],
        ['Observation', 'lab-1', 'Observation', P2, nameOf(db, P2), 'waiting', 0, null, true],
        ['Condition', conditionId, 'Problem', P2, nameOf(db, P2), 'waiting', 0, null, true],
        ['Composition', addendumId, 'Addendum', P1, nameOf(db, P1), 'waiting', 0, null, true],
        // The signature is the latest change of the note, but an addendum appends to the note: it is not unsigned.
        ['Composition', noteId, 'Progress note', P1, nameOf(db, P1), 'waiting', 0, null, false],
        ['Composition', noteId, 'Progress note', P1, nameOf(db, P1), 'waiting', 0, null, false],
        ['Observation', vitalsId, 'Vital signs', P1, nameOf(db, P1), 'waiting', 0, null, true],
      ],
    );
    for (const c of changes) assert.ok(!Number.isNaN(Date.parse(c.createdAt)));
  });

  test('refused, held and conflicting changes are listed with their state and a fixed last error; only the refused one undoable (discarded)', async () => {
    const s = cache.session;
    const db = await cache.db();
    const refusedId = randomUUID();
    await recordChange(s, observation(P1, refusedId, 'laboratory'));
    const refusedKey = keyOf(db);
    const heldId = randomUUID();
    await recordChange(s, observation(P1, heldId, 'laboratory'));
    const heldKey = keyOf(db);
    const conflictId = randomUUID();
    await recordChange(s, observation(P2, conflictId, 'vital-signs'));
    const conflictKey = keyOf(db);
    await markSent(s, [refusedKey, heldKey, conflictKey]);
    await settle(s, [
      { idempotencyKey: refusedKey, status: 'refused', reason: "The server's database refused this change." },
      { idempotencyKey: heldKey, status: 'conflict', currentVersion: '3' },
      { idempotencyKey: conflictKey, status: 'conflict', current: observation(P2, conflictId, 'vital-signs') as never, currentVersion: '4' },
    ]);

    const { changes } = await waiting(registry);
    const byId = new Map(changes.map((c) => [c.resourceId, c]));
    assert.deepEqual(
      [refusedId, heldId, conflictId].map((id) => {
        const c = byId.get(id)!;
        return [c.state, c.attempts, c.lastError, c.undoable];
      }),
      [
        // A refused change can be discarded (the backend did not take it): undo does it.
        ['refused', 1, "The server's database refused this change.", true],
        ['held', 1, WAITING_ERRORS.held, false],
        ['conflict', 1, WAITING_ERRORS.conflict, false],
      ],
    );
    const conflict = byId.get(conflictId)!;
    assert.deepEqual([conflict.key, conflict.kind, conflict.patientId, conflict.patientName], [conflictKey, 'Vital signs', P2, nameOf(db, P2)]);
  });

  test('listing is audited: one query entry per patient listed', async () => {
    const db = await cache.db();
    const entries = () =>
      db.prepare("SELECT patient_id, entry FROM audit_log WHERE action = 'E' AND subtype = 'search-type' AND query = 'waiting changes' ORDER BY seq").all() as Array<{ patient_id: string | null; entry: string }>;
    const before = entries().length;
    await waiting(registry);
    const added = entries().slice(before);
    assert.deepEqual(added.map((e) => e.patient_id).sort(), [P1, P2].sort());
    for (const e of added) assert.ok((JSON.parse(e.entry) as unknown[]).flat().includes(`Patient/${e.patient_id}`));
  });

  test('at most 200, newest first, and the list says it is cut', async () => {
    const s = cache.session;
    for (let i = 0; i < 205; i++) await recordChange(s, observation(P1, `many-${i}`, 'laboratory'));
    const { changes, truncated } = await waiting(registry);
    assert.equal(changes.length, 200);
    assert.equal(truncated, true);
    assert.equal(changes[0]!.resourceId, 'many-204');
    assert.equal(changes[199]!.resourceId, 'many-5');
  });
});

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`the waiting list and the sync worker, backend on ${engine}`, () => {
    const keychain = testKeychain();
    const dir = scratchDir(`waiting-${engine}`);
    let backend: BackendProcess;
    let front: Interposer;
    let session: CacheSession;
    let token: string;
    let mono = 1_000_000;

    before(async () => {
      const bundles = join(dir.path, 'bundles');
      mkdirSync(bundles);
      writeFileSync(join(bundles, 'p.json'), JSON.stringify(syntheticPatientBundle({ patientId: P1, observations: 0 })));
      backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: ['https://app.invalid'], bundles: [bundles], engine });
      backend.admin(['add-clinician', 'dr.w', '--name', 'Dr W', '--assign-all']);
      session = await openCacheSession({ dataDir: join(dir.path, 'desktop'), secrets: keychain, actor: 'dr.w', create: true });
      await importBundle(session, JSON.stringify(syntheticPatientBundle({ patientId: P1, observations: 0 })));
      token = await registerDeviceAt(backend, 'dr.w', session);
      front = await startInterposer(backend.url);
      // A proxy that answers 502 to any push holding the poison change; the rest goes through.
      front.handle(async (ex, forward) =>
        ex.path === PUSH_PATH && ex.body.toString().includes('"poison-') ? { status: 502, body: '<html>502 Bad Gateway</html>', contentType: 'text/html' } : forward(),
      );
    });
    after(async () => {
      await front?.close();
      await session?.close();
      await backend?.dispose();
      dir.remove();
      await keychain.cleanup();
    });

    test('a change the server keeps failing on is listed as failing, with the worker\'s fixed text; the one that went through is no longer listed', async () => {
      await recordChange(session, observation(P1, 'poison-1', 'laboratory'));
      await recordChange(session, observation(P1, 'good-1', 'laboratory'));
      const worker = new SyncWorker({ undoSeconds: 0, backend: new BackendClient(front.url, 10_000), session: () => session, token: () => token, batchSize: 1, monotonic: () => mono });
      for (let i = 0; i < 10 && worker.status.setAside.size === 0; i++) {
        mono += 1000;
        await worker.drain();
      }
      assert.equal(worker.status.setAside.size, 1, 'set aside by the worker');
      const registry = createHandlerRegistry({ session: () => session, problem: () => null, actor: () => 'dr.w' });
      // Through the registry without a worker: the list still shows it, as waiting (the app's registry passes its worker).
      assert.deepEqual((await waiting(registry)).changes.map((c) => [c.resourceId, c.state]), [['poison-1', 'waiting']]);
      const { changes } = await listWaitingChanges(session, worker.status);
      assert.deepEqual(
        changes.map((c) => [c.resourceId, c.state, c.lastError, c.undoable]),
        [['poison-1', 'failing', WAITING_ERRORS.failing, false]],
      );
      // Failed alone three times before it was set aside (and once more when the server took the other change).
      assert.ok(changes[0]!.attempts >= 3, String(changes[0]!.attempts));
    });
  });
}
