/**
 * A long first sync shows its progress, against the real backend process
 * (seeded with 2,505 resources of 5 patients: two pages of at most 2,000)
 * and a real cache: the run's first pull asks the server for an estimate
 * (estimate=1, that page only); after each applied slice the sync status
 * reports more resources, the distinct patients so far, the run's size and
 * the time left; the clinician opens the chart of a patient already synced
 * while the later pages are still coming; the status clears when the run
 * ends (done, or cut off by a lock). An older server that sends no
 * estimate: counts only. A real HTTP server in front of the backend holds
 * the later pages until the test has looked (events, never sleeps), and
 * stands in for the backend's `remaining` where the backend process does
 * not send it yet (branch i14-backend adds it; the stand-in fills it only
 * when the answer lacks it, with the count the backend would give).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PULL_SLICE } from '../electron/services/store/store-api';
import { followProgress } from './support/progress-follower';
import { AppError } from '../shared/app-error';
import { BackendClient } from '../electron/services/backend-client';
import { openCacheSession } from '../electron/services/cache-session';
import { openChart } from '../electron/services/patient-records';
import { SyncWorker } from '../electron/services/sync-worker';
import { pullChanges } from '../electron/services/sync-pull';
import type { CacheStore, StoreArgs, StoreCallName, StoreResults } from '../electron/services/store/store-api';
import type { SyncProgress } from '../shared/contract';
import { syncProgressWords } from '../shared/progress-words';
import { PULL_PATH } from '../shared/sync-api';
import { registerDeviceAt } from './support/backend-db';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { startInterposer, type Answer, type Interposer } from './support/http-interposer';
import { syntheticPatientBundle } from './support/synthetic-bundles';
import { gate } from './support/gate';

const PATIENTS = ['prog-p1', 'prog-p2', 'prog-p3', 'prog-p4', 'prog-p5'];
const OBSERVATIONS = 500;
const TOTAL = PATIENTS.length * (OBSERVATIONS + 1);

describe('a long first sync shows its progress', () => {
  const keychain = testKeychain();
  const dir = scratchDir('sync-progress');
  let backend: BackendProcess;
  let front: Interposer;
  /** The pull requests the device made, as sent (path and query). */
  let pulls: string[] = [];
  /** Held answers: the nth pull answer (from 0) waits at gates[n] when there is one. */
  let gates: Array<ReturnType<typeof gate> | undefined> = [];
  /** What the front does to the estimate: as the new backend does, or as an older one (none). */
  let estimate: 'give' | 'strip' = 'give';
  /** Told the index (from 0) of each pull request as it reaches the front, before it is answered. */
  let asked: ((n: number) => void) | null = null;

  const device = async (name: string) => {
    const session = await openCacheSession({ dataDir: join(dir.path, name), secrets: keychain, actor: 'dr.prog', create: true });
    const token = await registerDeviceAt(backend, 'dr.prog', session);
    const worker = new SyncWorker({ undoSeconds: 0, backend: new BackendClient(front.url, 60_000), session: () => session, token: () => token });
    return { session, worker, token };
  };

  before(async () => {
    const bundles = join(dir.path, 'bundles');
    mkdirSync(bundles);
    for (const patientId of PATIENTS) writeFileSync(join(bundles, `${patientId}.json`), JSON.stringify(syntheticPatientBundle({ patientId, observations: OBSERVATIONS })));
    backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: ['https://app.invalid'], bundles: [bundles] });
    backend.admin(['add-clinician', 'dr.prog', '--name', 'Dr Prog']);
    // One assignment each: each patient's records get a change number of their own, so the feed brings them patient by
    // patient. (Assigned in one go they share one number, ordered by type then id: every Patient resource comes after
    // every Observation, and no chart can open before the end of the run. See the report to the backend.)
    for (const patientId of PATIENTS) backend.admin(['assign', 'dr.prog', patientId]);
    front = await startInterposer(backend.url);
    front.handle(async (exchange, forward): Promise<Answer> => {
      if (exchange.path !== PULL_PATH) return forward();
      const n = pulls.push(exchange.url) - 1;
      asked?.(n);
      const answer = await forward();
      const reply = JSON.parse(answer.body) as { resources: unknown[]; remaining?: number };
      if (estimate === 'strip') delete reply.remaining;
      // Stand-in for a backend without the field yet: what it counts (resources after this page) when asked.
      else if (new URLSearchParams(exchange.url.split('?')[1] ?? '').get('estimate') === '1' && reply.remaining === undefined) {
        reply.remaining = TOTAL - reply.resources.length;
      }
      const held = gates[n];
      if (held) {
        held.arrive();
        await held.opened;
      }
      return { ...answer, body: JSON.stringify(reply) };
    });
  });

  after(async () => {
    await front?.close();
    await backend?.dispose();
    dir.remove();
    await keychain.cleanup();
  });

  test('counts rise with each slice, with the run\'s size and the time left; a synced chart opens while later pages wait; cleared at the end', async () => {
    pulls = [];
    estimate = 'give';
    gates = [undefined, gate()];
    const { session, worker } = await device('first-sync');
    try {
      const { seen, reach } = followProgress(worker.status);
      const drained = worker.drain();

      await gates[1]!.reached;
      const afterFirst = await reach(2000);
      assert.ok(afterFirst, 'shown once the run is longer than a page');
      assert.equal(afterFirst.resources, 2000, 'the first page, applied');
      assert.equal(afterFirst.resourcesTotal, TOTAL, 'the run\'s size from the first page\'s estimate');
      assert.ok(afterFirst.patients >= 2 && afterFirst.patients <= PATIENTS.length, `the patients written so far (${afterFirst.patients})`);
      assert.ok(afterFirst.secondsLeft !== null && afterFirst.secondsLeft > 0, 'an estimate of the time left');
      assert.match(syncProgressWords(afterFirst), /^Downloading your patients: \d patients, 2,000 of about 2,505 records, (less than a minute|about \d+ min) left$/);

      // The first patient is whole in the cache (the feed brings it first, whole): its chart opens while the rest waits.
      const chart = await openChart(session, PATIENTS[0]!);
      assert.equal(chart.groups.Observation?.total, OBSERVATIONS, 'a chart already synced opens during the sync');
      assert.ok(worker.status.progress, 'the sync is still under way');

      gates[1]!.open();
      assert.equal(await drained, true);

      assert.equal(worker.status.progress, null, 'nothing shown once done');
      const shown = seen.filter((p): p is SyncProgress => p !== null);
      assert.ok(shown.length >= Math.floor(TOTAL / PULL_SLICE), `reported after each slice (${shown.length} reports)`);
      for (let i = 1; i < shown.length; i++) {
        assert.ok(shown[i]!.resources >= shown[i - 1]!.resources && shown[i]!.patients >= shown[i - 1]!.patients, 'counts never go down');
      }
      assert.ok(shown.some((p, i) => i > 0 && p.resources > shown[i - 1]!.resources), 'counts rise');
      assert.equal(shown.at(-1)!.resources, TOTAL);
      assert.equal(shown.at(-1)!.patients, PATIENTS.length);
      assert.ok(shown.every((p) => p.resourcesTotal === TOTAL));
      assert.equal(seen.at(-1), null, 'the last word is null');

      assert.equal(pulls.length, 2);
      assert.match(pulls[0]!, /[?&]estimate=1(&|$)/, 'the first page asks for the estimate');
      assert.ok(pulls.slice(1).every((url) => !url.includes('estimate')), 'later pages do not (it costs the server a count)');
      assert.equal((await inspectCache(session, keychain)).prepare('SELECT count(*) FROM resources').pluck().get(), TOTAL);

      // A later, short run (nothing new): one page, no progress shown at all.
      const before = seen.length;
      gates = [];
      assert.equal(await worker.drain(), true);
      assert.ok(seen.slice(before).every((p) => p === null), 'a short run shows nothing');
    } finally {
      for (const g of gates) g?.open();
      await session.close();
    }
  });

  test('an older server sends no estimate: counts only, and the words say "so far"', async () => {
    pulls = [];
    estimate = 'strip';
    gates = [undefined, gate()];
    const { session, worker } = await device('older-server');
    try {
      const { reach } = followProgress(worker.status);
      const drained = worker.drain();
      await gates[1]!.reached;
      const progress = await reach(2000);
      assert.deepEqual({ ...progress, patients: 0 }, { patients: 0, resources: 2000, resourcesTotal: null, secondsLeft: null });
      assert.match(syncProgressWords(progress), /^Downloading your patients: \d patients, 2,000 records so far$/);
      gates[1]!.open();
      assert.equal(await drained, true);
      assert.equal(worker.status.progress, null);
    } finally {
      for (const g of gates) g?.open();
      await session.close();
    }
  });

  test('a lock during a long first sync ends it and clears the progress', async () => {
    pulls = [];
    estimate = 'give';
    gates = [undefined, gate()];
    const { session, worker } = await device('locked-mid-sync');
    try {
      const drained = worker.drain();
      await gates[1]!.reached;
      assert.ok(worker.status.progress);
      await session.close();
      gates[1]!.open();
      assert.equal(await drained, false, 'the drain ends, cut off by the lock');
      assert.equal(worker.status.progress, null, 'no progress left showing');
    } finally {
      for (const g of gates) g?.open();
      await session.close();
    }
  });

  test('the next page is already asked for while one is applied: the second request reaches the server before the first page\'s first slice is written', { timeout: 60_000 }, async () => {
    pulls = [];
    estimate = 'give';
    gates = [];
    const secondAsked = gate();
    asked = (n) => {
      if (n === 1) secondAsked.arrive();
    };
    const { session, token } = await device('ahead');
    try {
      let slices = 0;
      let slicesBeforeSecond: number | null = null;
      void secondAsked.reached.then(() => (slicesBeforeSecond = slices));
      // The real store, its first slice held until the second request is at the server (a pull that asked only after
      // applying would wait here for ever: the test's timeout fails it).
      const store: CacheStore = {
        async call<N extends StoreCallName>(name: N, args: StoreArgs<N>): Promise<StoreResults[N]> {
          if (name === 'applyPullPage' && slices++ === 0) await secondAsked.reached;
          return session.store.call(name, args);
        },
        close: (options) => session.store.close(options),
        get closed() {
          return session.store.closed;
        },
      };
      const written = await pullChanges({ store }, new BackendClient(front.url, 60_000), token);
      assert.equal(slicesBeforeSecond, 1, 'asked while the first slice waited');
      assert.equal(written, TOTAL, 'every resource written once');
      assert.equal(pulls.length, 2, 'two pages, two requests: none asked again, none after the last');
      assert.match(pulls[1]!, /[?&]cursor=/, 'the second asked from the first page\'s cursor');
      assert.equal((await inspectCache(session, keychain)).prepare('SELECT count(*) FROM resources').pluck().get(), TOTAL);
    } finally {
      asked = null;
      await session.close();
    }
  });

  test('a lock while a page is on its way: the run ends with STORE_CLOSED and asks for no page after it (the token is the unlocked session\'s)', async () => {
    pulls = [];
    estimate = 'give';
    gates = [gate()];
    const { session, token } = await device('lock-ahead');
    try {
      let asked = 0;
      // Counts the requests as the pull makes them (synchronously), not as they reach the front.
      class CountingClient extends BackendClient {
        override pullAnswer(...args: Parameters<BackendClient['pullAnswer']>) {
          asked++;
          return super.pullAnswer(...args);
        }
      }
      const run = pullChanges(session, new CountingClient(front.url, 60_000), token);
      await gates[0]!.reached;
      await session.close();
      gates[0]!.open();
      await assert.rejects(run, (e: unknown) => e instanceof AppError && e.code === 'STORE_CLOSED');
      assert.equal(asked, 1, 'the first page came after the lock, and with it no request for the next');
    } finally {
      for (const g of gates) g?.open();
      await session.close();
    }
  });
});
