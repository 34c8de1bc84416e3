/**
 * The sync worker against faults an outside tester found (a real backend
 * behind a real HTTP interposer that plays a reverse proxy): several changes
 * the server always fails on (an HTML 502) at the head of the outbox never
 * block the good ones behind them; a total outage sets nothing aside and
 * reports no success, and after it everything lands at the first sync; a
 * batch larger than the push body limit is capped by size, and a 413 from a
 * proxy with a lower limit halves it; set-aside times run on the monotonic
 * clock, so a wall clock set back two days does not keep a change waiting;
 * a replayed older last pull page does not remove a newly assigned patient.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackendClient, TOO_LARGE_MESSAGE } from '../electron/services/backend-client';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import { recordChange, syncCounts } from '../electron/services/outbox';
import { FAILING_MESSAGE, SyncWorker } from '../electron/services/sync-worker';
import { pullChanges } from '../electron/services/sync-pull';
import type { FhirResource } from '../shared/contract';
import { MAX_PUSH_BYTES, PUSH_BODY_LIMIT, PUSH_PATH } from '../shared/sync-api';
import { registerDeviceAt } from './support/backend-db';
import { backendSnapshot } from './support/backend-state';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { startInterposer, type Answer, type Interposer } from './support/http-interposer';
import { syntheticPatientBundle } from './support/synthetic-bundles';

const patientId = 'faults-patient';
const SET_ASIDE_MS = 5 * 60_000;
const BAD_GATEWAY = '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>';

const hr = (id: string, v: number): FhirResource =>
  ({ resourceType: 'Observation', id, status: 'final', code: { text: 'HR' }, subject: { reference: `Patient/${patientId}` }, valueQuantity: { value: v, unit: '/min' } }) as FhirResource;

describe('the sync worker against a failing proxy', () => {
  const keychain = testKeychain();
  const dir = scratchDir('sync-worker-faults');
  let backend: BackendProcess;
  let front: Interposer;
  let session: CacheSession;
  let token: string;
  /** What the proxy does: forward; 502 for pushes holding a poison change; 502 for everything; 413 above 1 MiB. */
  let mode: 'forward' | 'poison' | 'outage' | 'limit1m' = 'forward';
  let pushBodies: number[] = [];
  let tooLarge = 0;
  /** The next request waits at the proxy until released (a sync caught in flight). */
  let hold: { reached: () => void; release: Promise<void> } | null = null;
  let wall = Date.parse('2026-11-25T09:00:00Z');
  let mono = 1_000_000;

  const newWorker = () =>
    new SyncWorker({ undoSeconds: 0, backend: new BackendClient(front.url, 30_000), session: () => session, token: () => token, batchSize: 8, setAsideMs: SET_ASIDE_MS, clock: () => wall, monotonic: () => mono });
  const landed = async (ids: string[]) => {
    const server = await backendSnapshot(backend, session.profile.profileId, 'Observation');
    return ids.filter((id) => server.resources.has(id)).length;
  };

  before(async () => {
    const bundles = join(dir.path, 'bundles');
    mkdirSync(bundles);
    writeFileSync(join(bundles, 'p.json'), JSON.stringify(syntheticPatientBundle({ patientId, observations: 0 })));
    backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: ['https://app.invalid'], bundles: [bundles], engine: 'sqlite' });
    backend.admin(['add-clinician', 'dr.f', '--name', 'Dr F', '--assign-all']);
    session = await openCacheSession({ dataDir: join(dir.path, 'desktop'), secrets: keychain, actor: 'dr.f', create: true });
    token = await registerDeviceAt(backend, 'dr.f', session);
    front = await startInterposer(backend.url);
    front.handle(async (ex, forward) => {
      if (hold) {
        const held = hold;
        hold = null;
        held.reached();
        await held.release;
      }
      const push = ex.path === PUSH_PATH;
      if (push) pushBodies.push(ex.body.length);
      if (mode === 'outage' || (mode === 'poison' && push && ex.body.toString().includes('"o-poison'))) {
        return { status: 502, body: BAD_GATEWAY, contentType: 'text/html' };
      }
      if (mode === 'limit1m' && push && ex.body.length > 1024 * 1024) {
        tooLarge++;
        return { status: 413, body: '<html><body>413 Request Entity Too Large</body></html>', contentType: 'text/html' };
      }
      return forward();
    });
    assert.equal(await newWorker().drain(), true, 'a first, clean sync');
  });
  after(async () => {
    await front?.close();
    await session?.close();
    await backend?.dispose();
    dir.remove();
    await keychain.cleanup();
  });

  test('four changes the server always fails on at the head of the outbox: the ten good ones behind them land', async () => {
    const worker = newWorker();
    mode = 'poison';
    for (let i = 0; i < 4; i++) await recordChange(session, hr(`o-poison-${i}`, 61));
    const good = Array.from({ length: 10 }, (_, i) => `o-good-${i}`);
    for (const id of good) await recordChange(session, hr(id, 70));
    for (let i = 0; i < 150 && (await landed(good)) < 10; i++) {
      wall += 1000;
      mono += 1000;
      await worker.drain();
    }
    assert.equal(await landed(good), 10, 'every good change lands');
    assert.equal(worker.status.failing, 4, 'the four the server fails on are set aside, counted');
    assert.equal(worker.status.lastError, FAILING_MESSAGE);
    // The server is fixed: at their time they land too.
    mode = 'forward';
    mono += SET_ASIDE_MS;
    assert.equal(await worker.drain(), true, worker.status.lastError ?? '');
    assert.equal((await syncCounts(session)).waiting, 0);
    assert.equal(worker.status.failing, 0);
  });

  test('a total outage (every answer an HTML 502): nothing set aside, no success reported; everything lands at the first sync after it', async () => {
    const worker = newWorker();
    assert.equal(await worker.drain(), true);
    const successBefore = worker.status.lastSuccessAt;
    mode = 'outage';
    await recordChange(session, hr('o-a', 61));
    await recordChange(session, hr('o-b', 62));
    for (let i = 0; i < 12; i++) {
      wall += 1000;
      mono += 1000;
      assert.equal(await worker.drain(), false, 'every drain fails');
      assert.equal(worker.status.serverProblem, true);
      assert.equal(worker.status.online, true);
      assert.equal(worker.status.failing, 0, 'an outage sets nothing aside');
      assert.equal(worker.status.lastSuccessAt, successBefore, 'no success while nothing landed');
    }
    mode = 'forward';
    wall += 1000;
    mono += 1000;
    assert.equal(await worker.drain(), true, worker.status.lastError ?? '');
    assert.equal((await syncCounts(session)).waiting, 0, 'both land at the first drain after the outage');
    assert.equal(worker.status.failing, 0);
    assert.equal(worker.status.lastError, null);
    assert.notEqual(worker.status.lastSuccessAt, successBefore);
    assert.equal(await landed(['o-a', 'o-b']), 2);
  });

  test('a change set aside, then the wall clock set back two days: it is tried again when its (monotonic) time comes', async () => {
    const worker = newWorker();
    mode = 'poison';
    await recordChange(session, hr('o-poison-late', 61));
    for (let i = 0; i < 6; i++) {
      wall += 1000;
      mono += 1000;
      await worker.drain();
    }
    assert.equal(worker.status.failing, 1, 'set aside');
    mode = 'forward';
    wall -= 2 * 86_400_000;
    wall += 10 * 60_000;
    mono += 10 * 60_000;
    assert.equal(await worker.drain(), true, worker.status.lastError ?? '');
    assert.equal(await landed(['o-poison-late']), 1, 'landed 10 minutes later, whatever the wall clock says');
    assert.equal((await syncCounts(session)).waiting, 0);
  });

  test('500 changes of 20 KB (10 MB, above the 8 MiB push limit): pushes are capped by size and all land', async () => {
    const worker = new SyncWorker({ undoSeconds: 0, backend: new BackendClient(front.url, 30_000), session: () => session, token: () => token, setAsideMs: SET_ASIDE_MS, clock: () => wall, monotonic: () => mono });
    assert.ok(MAX_PUSH_BYTES < PUSH_BODY_LIMIT);
    const note = 'x'.repeat(20_000);
    for (let i = 0; i < 500; i++) await recordChange(session, { ...hr(`big-${i}`, 70), note: [{ text: note }] } as FhirResource);
    pushBodies = [];
    assert.equal(await worker.drain(), true, worker.status.lastError ?? '');
    assert.equal((await syncCounts(session)).waiting, 0, 'every change lands at the first drain');
    assert.ok(pushBodies.length >= 3, `split by size (${pushBodies.length} pushes)`);
    for (const size of pushBodies) assert.ok(size <= MAX_PUSH_BYTES + 64 * 1024, `push of ${size} bytes stays under the cap`);
  });

  test('a proxy with a lower body limit answers 413: the batch is halved until it passes, with a message that says so', async () => {
    const worker = new SyncWorker({ undoSeconds: 0, backend: new BackendClient(front.url, 30_000), session: () => session, token: () => token, setAsideMs: SET_ASIDE_MS, clock: () => wall, monotonic: () => mono });
    mode = 'limit1m';
    tooLarge = 0;
    const note = 'y'.repeat(20_000);
    for (let i = 0; i < 120; i++) await recordChange(session, { ...hr(`mid-${i}`, 70), note: [{ text: note }] } as FhirResource);
    assert.equal(await worker.drain(), true, worker.status.lastError ?? '');
    assert.ok(tooLarge > 0, 'the proxy refused a push as too large');
    assert.equal((await syncCounts(session)).waiting, 0, 'every change lands');
    // One change larger than the proxy takes: set aside with a message that says why, not "refused".
    await recordChange(session, { ...hr('huge', 70), note: [{ text: 'z'.repeat(1_200_000) }] } as FhirResource);
    await worker.drain();
    assert.equal((await syncCounts(session)).waiting, 1);
    assert.notEqual(worker.status.lastError, 'The hospital server refused the request.');
    assert.ok(worker.status.lastError === TOO_LARGE_MESSAGE || worker.status.lastError === FAILING_MESSAGE, worker.status.lastError ?? '');
    mode = 'forward';
    mono += SET_ASIDE_MS;
    assert.equal(await worker.drain(), true, worker.status.lastError ?? '');
    assert.equal((await syncCounts(session)).waiting, 0);
  });

  test('the OS reports the network gone while a sync is in flight: Offline stays, the answer already on its way does not turn it back; a sync begun after it does', async () => {
    const worker = newWorker();
    assert.equal(await worker.drain(), true);
    let reached!: () => void;
    let release!: () => void;
    const atProxy = new Promise<void>((r) => (reached = r));
    hold = { reached, release: new Promise<void>((r) => (release = r)) };
    const inFlight = worker.drain();
    await atProxy;
    worker.networkChanged(false);
    assert.equal(worker.status.online, false, 'said at once');
    release();
    await inFlight;
    assert.equal(worker.status.online, false, 'a sync begun before the OS said offline does not say online');
    // The network works after all: the next sync, begun after the event, says so.
    assert.equal(await worker.drain(), true);
    assert.equal(worker.status.online, true);
  });
});

describe('a replayed older last pull page', () => {
  const keychain = testKeychain();
  const dir = scratchDir('sync-pull-replay');
  let backend: BackendProcess;
  let front: Interposer;
  let session: CacheSession;
  after(async () => {
    await front?.close();
    await session?.close();
    await backend?.dispose();
    dir.remove();
    await keychain.cleanup();
  });

  test('a stale last page without a newly assigned patient does not remove that patient', async () => {
    const bundles = join(dir.path, 'bundles');
    mkdirSync(bundles);
    writeFileSync(join(bundles, 'a.json'), JSON.stringify(syntheticPatientBundle({ patientId: 'rp-a', observations: 3 })));
    writeFileSync(join(bundles, 'p.json'), JSON.stringify(syntheticPatientBundle({ patientId: 'rp-p', observations: 3 })));
    backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: ['https://app.invalid'], bundles: [bundles], engine: 'sqlite' });
    backend.admin(['add-clinician', 'dr.rp', '--name', 'Dr RP', '--assign-all']);
    backend.admin(['unassign', 'dr.rp', 'rp-p']);
    session = await openCacheSession({ dataDir: join(dir.path, 'desktop'), secrets: keychain, actor: 'dr.rp', create: true });
    const token = await registerDeviceAt(backend, 'dr.rp', session);
    front = await startInterposer(backend.url);
    let recorded: Answer | null = null;
    let replay: Answer | null = null;
    front.handle(async (ex, forward) => {
      if (!ex.path.startsWith('/v1/sync/pull')) return forward();
      if (replay) {
        const stale = replay;
        replay = null;
        return stale;
      }
      recorded = await forward();
      return recorded;
    });
    const client = new BackendClient(front.url, 30_000);
    const db = await inspectCache(session, keychain);
    const countP = () => db.prepare("SELECT count(*) FROM resources WHERE patient_id = 'rp-p'").pluck().get() as number;
    await pullChanges(session, client, token);
    await pullChanges(session, client, token); // an empty last page listing rp-a only
    const stale = recorded!;
    backend.admin(['assign', 'dr.rp', 'rp-p']);
    await pullChanges(session, client, token);
    const held = countP();
    assert.ok(held > 0, 'the newly assigned patient arrived');
    replay = stale;
    await pullChanges(session, client, token);
    assert.equal(replay, null, 'the stale page was served');
    assert.equal(countP(), held, 'the stale page removed nobody');
    // A real unassignment still removes the patient at the next pull.
    backend.admin(['unassign', 'dr.rp', 'rp-p']);
    await pullChanges(session, client, token);
    assert.equal(countP(), 0, 'an unassigned patient still leaves');
  });
});
