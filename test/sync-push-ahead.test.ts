/**
 * The sync worker's one-push-ahead drain (electron/services/sync-worker.ts
 * pushAll), against a real backend behind a real HTTP interposer: once a
 * push is answered, the next one goes out before that answer is settled;
 * a second change of a resource in the push being settled waits for it and
 * goes re-based (no self-made conflict); a push sent ahead that fails leaves
 * the one before it settled and its own changes queued, not in flight, and
 * they land once at the next drain; a loop stopped (a lock) while a push
 * sent ahead is on the wire settles that push's answers when they come;
 * during the overlap both pushes show as sending and refuse an undo, while
 * a change queued behind them is still taken back.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackendClient } from '../electron/services/backend-client';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import { outboxSize, recordChange, syncCounts } from '../electron/services/outbox';
import { UNDO_MESSAGES, undoChange } from '../electron/services/change-undo';
import { listWaitingChanges } from '../electron/services/waiting-changes';
import { AppError } from '../shared/app-error';
import { SyncWorker } from '../electron/services/sync-worker';
import type { FhirResource } from '../shared/contract';
import { PUSH_PATH, type Change } from '../shared/sync-api';
import { registerDeviceAt } from './support/backend-db';
import { backendSnapshot } from './support/backend-state';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { startInterposer, type Interposer } from './support/http-interposer';
import { syntheticPatientBundle } from './support/synthetic-bundles';

const patientId = 'ahead-patient';
const BAD_GATEWAY = '<html><body><h1>502 Bad Gateway</h1></body></html>';

/** Something that waits at a point until the test opens it; `reached` resolves once it waits there. */
interface Gate {
  reached: Promise<void>;
  arrive(): void;
  open(): void;
  opened: Promise<void>;
}
function gate(): Gate {
  let arrive!: () => void;
  let open!: () => void;
  const reached = new Promise<void>((r) => (arrive = r));
  const opened = new Promise<void>((r) => (open = r));
  return { reached, arrive, open, opened };
}

const hr = (id: string, v: number): FhirResource =>
  ({ resourceType: 'Observation', id, status: 'final', code: { text: 'HR' }, subject: { reference: `Patient/${patientId}` }, valueQuantity: { value: v, unit: '/min' } }) as FhirResource;

describe('the sync worker sends the next push while it settles the one before', () => {
  const keychain = testKeychain();
  const dir = scratchDir('sync-push-ahead');
  let backend: BackendProcess;
  let front: Interposer;
  let session: CacheSession;
  let token: string;
  /** What happened, in order: each push the worker handed the client, each settle it asked the store for. */
  let events: string[] = [];
  /** Push bodies as they reached the proxy. */
  let pushes: Change[][] = [];
  /** Pushes (1-based, counted from the last reset) the proxy answers 502 instead of forwarding. */
  let failPush = new Set<number>();
  /** A push (by number) the proxy holds, and the worker's next settle, each until its gate opens. */
  let holdPush: { push: number; gate: Gate } | null = null;
  let holdSettle: Gate | null = null;

  /** The session as the worker sees it: every store call goes through; settles are recorded. */
  const observed = (): CacheSession =>
    ({
      ...session,
      store: {
        call: (name: string, args: unknown) => {
          const call = () => (session.store.call as (n: string, a: unknown) => Promise<unknown>)(name, args);
          if (name !== 'settlePush') return call();
          events.push('settle');
          const held = holdSettle;
          holdSettle = null;
          if (!held) return call();
          held.arrive();
          return held.opened.then(call);
        },
        close: (options?: { signHead?: boolean }) => session.store.close(options),
        get closed() {
          return session.store.closed;
        },
      },
    }) as unknown as CacheSession;

  const newWorker = () => {
    const client = new BackendClient(front.url, 30_000);
    const push = client.push.bind(client);
    client.push = (t: string, changes: Parameters<BackendClient['push']>[1]) => {
      events.push('push');
      return push(t, changes);
    };
    return new SyncWorker({ undoSeconds: 0, backend: client, session: observed, token: () => token, batchSize: 3 });
  };

  before(async () => {
    const bundles = join(dir.path, 'bundles');
    mkdirSync(bundles);
    writeFileSync(join(bundles, 'p.json'), JSON.stringify(syntheticPatientBundle({ patientId, observations: 0 })));
    backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: ['https://app.invalid'], bundles: [bundles], engine: 'sqlite' });
    backend.admin(['add-clinician', 'dr.a', '--name', 'Dr A', '--assign-all']);
    session = await openCacheSession({ dataDir: join(dir.path, 'desktop'), secrets: keychain, actor: 'dr.a', create: true });
    token = await registerDeviceAt(backend, 'dr.a', session);
    front = await startInterposer(backend.url);
    front.handle(async (ex, forward) => {
      if (ex.path === PUSH_PATH) {
        pushes.push((JSON.parse(ex.body.toString()) as { changes: Change[] }).changes);
        if (failPush.has(pushes.length)) return { status: 502, body: BAD_GATEWAY, contentType: 'text/html' };
        if (holdPush?.push === pushes.length) {
          holdPush.gate.arrive();
          await holdPush.gate.opened;
        }
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

  const reset = () => {
    events = [];
    pushes = [];
    failPush = new Set();
    holdPush = null;
    holdSettle = null;
  };

  test('each push after the first goes out before the one before it is settled; a second change of a resource waits for the first and goes re-based', async () => {
    reset();
    await recordChange(session, hr('ahead-x', 60));
    for (let i = 1; i <= 5; i++) await recordChange(session, hr(`ahead-y${i}`, 70 + i));
    // A second change of ahead-x, queued behind the first (not yet sent, so no version of its own yet).
    await recordChange(session, hr('ahead-x', 61));
    assert.equal(await newWorker().drain(), true);

    // Three pushes of three, three and one: ahead-x's second change left out of the push read while its first was being settled.
    assert.deepEqual(
      pushes.map((p) => p.map((c) => c.id)),
      [['ahead-x', 'ahead-y1', 'ahead-y2'], ['ahead-y3', 'ahead-y4', 'ahead-y5'], ['ahead-x']],
    );
    assert.equal(pushes[2]![0]!.baseVersion, '1', 'the second change of ahead-x went re-based on the first one\'s answer');
    // The next push is handed to the client before the answer before it is settled.
    assert.deepEqual(events, ['push', 'push', 'settle', 'push', 'settle', 'settle']);

    const server = await backendSnapshot(backend, session.profile.profileId, 'Observation');
    assert.equal(server.resources.get('ahead-x')?.version, 2);
    assert.equal((server.resources.get('ahead-x')?.resource as { valueQuantity: { value: number } }).valueQuantity.value, 61);
    for (let i = 1; i <= 5; i++) assert.equal(server.resources.get(`ahead-y${i}`)?.version, 1);
    assert.equal(await outboxSize(session), 0);
    assert.equal((await syncCounts(session)).conflicts, 0, 'no self-made conflict');
  });

  test('a push sent ahead that fails: the one before it is settled, its own changes stay queued and not in flight, and land once at the next drain', async () => {
    reset();
    failPush = new Set([2]);
    const ids = Array.from({ length: 6 }, (_, i) => `ahead-f${i}`);
    for (const [i, id] of ids.entries()) await recordChange(session, hr(id, 80 + i));
    const worker = newWorker();
    assert.equal(await worker.drain(), false, 'the drain fails on the 502');
    assert.deepEqual(events, ['push', 'push', 'settle'], 'the first push settled while the second was on the wire');
    assert.equal(worker.status.sending.size, 0, 'nothing left counted in flight');
    assert.equal(worker.status.serverProblem, true);
    assert.equal(await outboxSize(session), 3, 'the failed push\'s three changes are still queued');
    let server = await backendSnapshot(backend, session.profile.profileId, 'Observation');
    assert.deepEqual(ids.filter((id) => server.resources.has(id)), ids.slice(0, 3));

    failPush = new Set();
    assert.equal(await worker.drain(), true);
    server = await backendSnapshot(backend, session.profile.profileId, 'Observation');
    for (const id of ids) assert.equal(server.resources.get(id)?.version, 1, `${id} landed once`);
    assert.equal(await outboxSize(session), 0);
  });

  test('the loop stopped (a lock) while the push sent ahead is on the wire: its answers are settled when they come, not dropped', async () => {
    reset();
    const ids = Array.from({ length: 6 }, (_, i) => `ahead-s${i}`);
    for (const [i, id] of ids.entries()) await recordChange(session, hr(id, 90 + i));
    const onWire = gate();
    const settling = gate();
    holdPush = { push: 2, gate: onWire };
    holdSettle = settling;
    const worker = newWorker();
    worker.start(60_000);
    // Push 2 is at the proxy and push 1's answers are being settled: the loop is stopped now.
    await Promise.all([onWire.reached, settling.reached]);
    const stopped = worker.stop();
    settling.open();
    onWire.open();
    await stopped;
    assert.deepEqual(events, ['push', 'push', 'settle', 'settle'], 'both pushes settled, and nothing sent after the stop');
    assert.equal(await outboxSize(session), 0, 'the answers of the push sent ahead were settled, not dropped');
    assert.equal(worker.status.sending.size, 0);
    const server = await backendSnapshot(backend, session.profile.profileId, 'Observation');
    for (const id of ids) assert.equal(server.resources.get(id)?.version, 1, `${id} landed once`);
  });

  test('while one push is settled and the next is on the wire: both show as sending and neither can be undone; a change queued behind them still can', async () => {
    reset();
    await recordChange(session, hr('ahead-u-x', 60));
    for (let i = 1; i <= 5; i++) await recordChange(session, hr(`ahead-u-y${i}`, 70 + i));
    await recordChange(session, hr('ahead-u-x', 61));
    const onWire = gate();
    const settling = gate();
    holdPush = { push: 2, gate: onWire };
    holdSettle = settling;
    const worker = newWorker();
    const drained = worker.drain();
    await Promise.all([onWire.reached, settling.reached]);

    const { changes } = await listWaitingChanges(session, worker.status);
    const state = new Map(changes.map((c) => [`${c.resourceId}:${c.state}`, c.undoable]));
    for (const id of ['ahead-u-x', 'ahead-u-y1', 'ahead-u-y2', 'ahead-u-y3', 'ahead-u-y4', 'ahead-u-y5']) {
      assert.equal(state.get(`${id}:sending`), false, `${id} shows as sending, not undoable`);
    }
    assert.equal(state.get('ahead-u-x:waiting'), true, 'the second change of ahead-u-x waits on this computer and may be undone');
    // The push being settled and the push on the wire: each refused as sending.
    for (const id of ['ahead-u-y1', 'ahead-u-y4']) {
      await assert.rejects(undoChange(session, { resourceType: 'Observation', resourceId: id }, worker.status.sending), (err) => err instanceof AppError && err.message === UNDO_MESSAGES.sending);
    }
    // The change queued behind the push being settled is taken back.
    assert.deepEqual(await undoChange(session, { resourceType: 'Observation', resourceId: 'ahead-u-x' }, worker.status.sending), { undone: true });

    settling.open();
    onWire.open();
    assert.equal(await drained, true);
    assert.deepEqual(pushes.map((p) => p.map((c) => c.id)), [['ahead-u-x', 'ahead-u-y1', 'ahead-u-y2'], ['ahead-u-y3', 'ahead-u-y4', 'ahead-u-y5']], 'the change taken back never went');
    const server = await backendSnapshot(backend, session.profile.profileId, 'Observation');
    assert.equal(server.resources.get('ahead-u-x')?.version, 1);
    assert.equal(await outboxSize(session), 0);
  });
});
