/**
 * The backend outlives its database: a real backend process on a
 * PostgreSQL cluster of this test's own, under push load from several
 * devices, while PostgreSQL is stopped fast, stopped immediately (as a
 * crash), and restarted fast and immediately in one step. The process
 * stays alive throughout, /healthz says `database: 'down'` (503, nothing
 * more) while the database is away and `up` again after, every push ends
 * in a 200 (devices retry a 503 as the sync worker does), and every change
 * lands exactly once (one stored answer and one resource row per key, each
 * at version 1).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { openDatabase } from '../server/database';
import { PUSH_PATH, type Change } from '../shared/sync-api';
import type { CacheSession } from '../electron/services/cache-session';
import { registerDeviceAt } from './support/backend-db';
import { startBackend, type BackendProcess } from './support/backend-process';
import { call, post } from './support/passkey-ceremony';
import { startPostgresCluster, type PostgresCluster } from './support/postgres-cluster';
import { scratchDir } from './support/scratch';
import { syntheticPatientBundle } from './support/synthetic-bundles';

const DEVICES = 4;
const BATCHES = 30;
const BATCH = 25;

describe('PostgreSQL restarted under push load', () => {
  const dir = scratchDir('db-restart');
  let cluster: PostgresCluster;
  let backend: BackendProcess;
  const tokens: string[] = [];

  before(async () => {
    cluster = await startPostgresCluster();
    const databaseUrl = await cluster.createDatabase('backend');
    const bundles = join(dir.path, 'bundles');
    mkdirSync(bundles);
    writeFileSync(join(bundles, 'p.json'), JSON.stringify(syntheticPatientBundle({ patientId: 'restart-p', observations: 1 })));
    backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: ['https://app.invalid'], bundles: [bundles], engine: 'postgres', databaseUrl });
    backend.admin(['add-clinician', 'dr.restart', '--name', 'Dr Restart', '--assign-all']);
    for (let d = 0; d < DEVICES; d++) {
      const keys = generateKeyPairSync('ed25519');
      tokens.push(await registerDeviceAt(backend, 'dr.restart', { keys: { publicKey: keys.publicKey }, profile: { profileId: randomUUID() } } as unknown as CacheSession));
    }
  });
  after(async () => {
    await backend?.dispose();
    cluster?.dispose();
    dir.remove();
  });

  test('fast and immediate restarts: the backend stays up, /healthz follows the database, every change lands once', async () => {
    let landed = 0;
    const waiters: Array<{ at: number; resolve: () => void }> = [];
    // The devices push until every stop and restart is done (at least BATCHES batches each): on a
    // fast machine a fixed load could be over before the last restart, and a wait for progress would never end.
    let restartsDone = false;
    let batches = 0;
    const progressed = (by: number) => new Promise<void>((resolve) => waiters.push({ at: landed + by, resolve }));
    const statuses: number[] = [];
    const allKeys: string[] = [];

    /** A device pushing its batches in order, each until it is answered 200 (a 503 or a cut connection is retried, as the sync worker does). */
    const device = async (d: number) => {
      for (let b = 0; b < BATCHES || !restartsDone; b++) {
        batches++;
        const changes: Change[] = Array.from({ length: BATCH }, (_, i) => {
          const id = `load-${d}-${b}-${i}`;
          return { idempotencyKey: randomUUID(), resourceType: 'Observation', id, baseVersion: null, resource: { resourceType: 'Observation', id, status: 'final', code: { text: 'Heart rate' }, subject: { reference: 'Patient/restart-p' } } };
        });
        allKeys.push(...changes.map((c) => c.idempotencyKey));
        for (let attempt = 0; ; attempt++) {
          const r = await post(backend.url, PUSH_PATH, { changes }, tokens[d]).catch(() => null);
          if (r) statuses.push(r.status);
          if (r?.status === 200) {
            assert.deepEqual((r.json.results as Array<{ status: string }>).map((x) => x.status), changes.map(() => 'applied'));
            break;
          }
          if (r) assert.equal(r.status, 503, `only "unavailable" while the database is away: ${r.text}`);
          assert.ok(attempt < 200, 'the push gets through once the database is back');
          await delay(Math.min(500, 20 * 2 ** attempt));
        }
        landed += BATCH;
        for (const w of waiters.filter((x) => x.at <= landed)) w.resolve();
      }
    };
    const health = async () => {
      const r = await call(backend.url, 'GET', '/healthz');
      return { status: r.status, body: r.json };
    };
    /** Polls /healthz until it answers `status` (the database going away or coming back is not an event the test can await). */
    const healthBecomes = async (status: number) => {
      for (let i = 0; i < 600; i++) {
        const h = await health();
        if (h.status === status) return h;
        await delay(50);
      }
      throw new Error(`/healthz never answered ${status}`);
    };

    assert.deepEqual(await health(), { status: 200, body: { ok: true, database: 'up' } });
    const load = Promise.all(Array.from({ length: DEVICES }, (_, d) => device(d)));
    // A device that fails ends the wait for progress too (no wait without end).
    const loadFailed = load.then(() => Promise.reject(new Error('the load ended before the restarts')));
    loadFailed.catch(() => undefined);
    const progress = (by: number) => Promise.race([progressed(by), loadFailed]);

    try {
      for (const mode of ['fast', 'immediate'] as const) {
        await progress(100);
        await cluster.stop(mode);
        assert.deepEqual(await healthBecomes(503), { status: 503, body: { ok: false, database: 'down' } });
        assert.ok(backend.alive(), `the backend outlives a ${mode} stop`);
        await cluster.start();
        await healthBecomes(200);
        assert.ok(backend.alive());
      }
      for (const mode of ['fast', 'immediate'] as const) {
        await progress(100);
        await cluster.restart(mode);
        await healthBecomes(200);
        assert.ok(backend.alive(), `the backend outlives a ${mode} restart`);
      }
    } finally {
      restartsDone = true;
    }
    await load;
    assert.ok(backend.alive());
    assert.ok(landed >= DEVICES * BATCHES * BATCH);
    assert.equal(landed, allKeys.length, 'every change pushed was answered 200');
    assert.ok(statuses.includes(503) || statuses.length > batches, 'some pushes met the database away');

    const { db } = openDatabase({ dataDir: backend.dataDir, databaseUrl: backend.databaseUrl });
    try {
      const answers = await db.selectFrom('applied_changes').select(['idempotency_key']).execute();
      assert.equal(answers.length, allKeys.length, 'one stored answer per change');
      assert.deepEqual(new Set(answers.map((a) => a.idempotency_key)), new Set(allKeys));
      const rows = await db.selectFrom('resources').select(['id', 'version_id']).where('id', 'like', 'load-%').execute();
      assert.equal(rows.length, allKeys.length, 'one resource per change');
      assert.ok(rows.every((r) => Number(r.version_id) === 1), 'none written twice');
    } finally {
      await db.destroy();
    }
    assert.ok(!/Uncaught|unhandled/i.test(backend.output()), 'no uncaught error');
  });
});
