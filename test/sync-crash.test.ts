/**
 * Crashes during sync, on SQLite and on PostgreSQL backends. First the
 * client's main-process services (a child process charting and syncing with
 * the real worker) are killed with SIGKILL 20 times at random moments; then
 * the backend process is killed and restarted 5 times while the client
 * charts and syncs in-process. The ground truth is the device's own audit
 * chain, which records every committed change. After every crash no change
 * is doubled (the backend never holds more versions of a resource than the
 * device wrote) and none is lost (each one is on the backend or still in
 * the outbox); at the end every change is on the backend exactly once, with
 * the content the device holds, and the backend's audit chain equals the
 * device's.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackendClient } from '../electron/services/backend-client';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import type { CacheDatabase } from '../electron/services/cache-database';
import { outboxSize, recordChange } from '../electron/services/outbox';
import { SyncWorker } from '../electron/services/sync-worker';
import { verifyCache } from '../electron/services/cache-maintenance';
import { registerDeviceAt } from './support/backend-db';
import { backendSnapshot, content } from './support/backend-state';
import { inspectCache } from './support/cache-inspect';
import { ROOT } from './support/cache-cli';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { syntheticPatientBundle } from './support/synthetic-bundles';
import { appChildArgs } from './support/bundled-entry';

const CLIENT_KILLS = 20;
const BACKEND_KILLS = 5;
const CHILD = join(ROOT, 'test', 'support', 'sync-client-child.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`crashes during sync, backend on ${engine}`, () => {
    const keychain = testKeychain();
    const dir = scratchDir('sync-crash');
    const dataDir = join(dir.path, 'desktop');
    const patients = Array.from({ length: 5 }, (_, i) => `crash-sync-${i}`);
    let backend: BackendProcess;
    let token: string;

    before(async () => {
      const bundles = join(dir.path, 'bundles');
      mkdirSync(bundles);
      for (const id of patients) writeFileSync(join(bundles, `${id}.json`), JSON.stringify(syntheticPatientBundle({ patientId: id, observations: 0 })));
      backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: ['https://app.invalid'], bundles: [bundles], engine });
      backend.admin(['add-clinician', 'dr.crash', '--name', 'Dr Crash', '--assign-all']);
      const session = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.crash', create: true });
      token = await registerDeviceAt(backend, 'dr.crash', session);
      assert.equal(await new SyncWorker({ undoSeconds: 0, backend: new BackendClient(backend.url), session: () => session, token: () => token }).drain(), true);
      await session.close();
    });

    after(async () => {
      await backend?.dispose();
      dir.remove();
      await keychain.cleanup();
    });

    /** How many times the device wrote each of the test's observations, from its audit chain (create and update entries). */
    function deviceWrites(db: CacheDatabase): Map<string, number> {
      const rows = db
        .prepare(
          `SELECT substr(e.value, 13) AS id, count(*) AS n FROM audit_log a, json_each(a.entry, '$[7]') e
           WHERE a.action IN ('C', 'U') AND e.value LIKE 'Observation/kill-%' GROUP BY e.value`,
        )
        .all() as Array<{ id: string; n: number }>;
      return new Map(rows.map((r) => [r.id, r.n]));
    }

    /** No change doubled, none lost; with `settled`, each exactly once with the device's content. */
    async function checkExactlyOnce(session: CacheSession, settled: boolean, when: string): Promise<{ writes: number; applied: number }> {
      // The test's own connection to the cache file; the chain and the outbox read in one snapshot (the store's worker may commit meanwhile).
      const db = await inspectCache(session, keychain);
      const { writes, queued } = db.transaction(() => ({
        writes: deviceWrites(db),
        queued: new Map(
          (db.prepare("SELECT resource_id AS id, count(*) AS n FROM outbox WHERE resource_id LIKE 'kill-%' GROUP BY resource_id").all() as Array<{ id: string; n: number }>).map((r) => [r.id, r.n]),
        ),
      }))();
      const server = await backendSnapshot(backend, session.profile.profileId, 'Observation');
      for (const id of server.resources.keys()) if (id.startsWith('kill-')) assert.ok(writes.has(id), `${when}: ${id} on the backend was written by the device`);
      let total = 0;
      for (const [id, n] of writes) {
        total += n;
        const version = server.resources.get(id)?.version ?? 0;
        assert.ok(version <= n, `${when}: ${id} not doubled (backend ${version}, device ${n})`);
        assert.ok(n <= version + (queued.get(id) ?? 0), `${when}: ${id} not lost (backend ${version}, queued ${queued.get(id) ?? 0}, device ${n})`);
        if (settled) {
          assert.equal(version, n, `${when}: ${id} once per change`);
          const local = JSON.parse(db.prepare("SELECT json FROM resources WHERE resource_type = 'Observation' AND id = ?").pluck().get(id) as string) as Record<string, unknown>;
          assert.equal(content(server.resources.get(id)!.resource), content(local), `${when}: ${id} holds the device's last change`);
        }
      }
      assert.ok(server.applied <= total, `${when}: no more answers than changes`);
      if (settled) assert.equal(server.applied, total, `${when}: one answer per change`);
      assert.equal((await verifyCache(session)).ok, true, `${when}: the audit chain is whole`);
      return { writes: total, applied: server.applied };
    }

    async function finish(session: CacheSession): Promise<void> {
      const worker = new SyncWorker({ undoSeconds: 0, backend: new BackendClient(backend.url), session: () => session, token: () => token, baseDelayMs: 20, maxDelayMs: 200 });
      for (let i = 0; i < 200; i++) {
        if ((await worker.drain()) && await outboxSize(session) === 0) break;
        await sleep(50);
      }
      const db = await inspectCache(session, keychain);
      const stuck = db.prepare('SELECT last_error, count(*) AS n FROM outbox GROUP BY last_error').all();
      assert.equal(await outboxSize(session), 0, `the outbox drained: ${JSON.stringify(stuck)} ${worker.status.lastError}`);
      assert.equal(db.prepare('SELECT count(*) FROM conflicts').pluck().get(), 0, 'no self-made conflicts');
      await checkExactlyOnce(session, true, 'at the end');
      const uploaded = (await backendSnapshot(backend, session.profile.profileId, 'Observation')).audit;
      const own = db.prepare('SELECT seq, hash, entry FROM audit_log ORDER BY seq').all() as typeof uploaded;
      assert.equal(uploaded.length, own.length, 'the whole chain was uploaded');
      assert.deepEqual(uploaded, own, "the backend's audit chain equals the device's");
    }

    test(`SIGKILL of the client's services ${CLIENT_KILLS} times during sync: nothing lost or doubled`, { timeout: 400_000 }, async () => {
      const env = {
        ...process.env,
        SYNC_CHILD_DATA_DIR: dataDir,
        SYNC_CHILD_KEYCHAIN_SERVICE: keychain.service,
        SYNC_CHILD_ACTOR: 'dr.crash',
        SYNC_CHILD_TOKEN: token,
        SYNC_CHILD_PATIENTS: patients.join(','),
        SYNC_CHILD_BACKEND_URL: backend.url,
      };
      let killedWithWorkQueued = 0;
      let lastApplied = 0;
      let progressed = 0;
      for (let run = 0; run < CLIENT_KILLS; run++) {
        const child = spawn(process.execPath, appChildArgs(CHILD), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        // Syncing once it says so; a child that exits first, or never says so, fails the run.
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`child ${run} did not start: ${out}`)), 30_000);
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('ready')) {
              clearTimeout(timer);
              resolve();
            }
          });
          child.stderr.on('data', (d: Buffer) => (out += d.toString()));
          child.once('exit', () => {
            clearTimeout(timer);
            reject(new Error(`child ${run} exited before it was syncing: ${out}`));
          });
        });
        await sleep(150 + Math.random() * 750);
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;

        const session = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.crash', create: false });
        try {
          if (await outboxSize(session) > 0) killedWithWorkQueued++;
          const { applied } = await checkExactlyOnce(session, false, `after kill ${run + 1}`);
          if (applied > lastApplied) progressed++;
          lastApplied = applied;
        } finally {
          await session.close();
        }
      }
      assert.ok(progressed >= CLIENT_KILLS / 2, `sync made progress between kills (${progressed} of ${CLIENT_KILLS})`);
      assert.ok(killedWithWorkQueued >= 1, `kills landed with changes still queued (${killedWithWorkQueued})`);
      const session = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.crash', create: false });
      try {
        await finish(session);
      } finally {
        await session.close();
      }
    });

    test(`the backend killed and restarted ${BACKEND_KILLS} times during sync: nothing lost or doubled`, { timeout: 300_000 }, async () => {
      const session = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.crash', create: false });
      const worker = new SyncWorker({ undoSeconds: 0, backend: new BackendClient(backend.url, 3000), session: () => session, token: () => token, baseDelayMs: 20, maxDelayMs: 300, batchSize: 25 });
      let charting = true;
      let n = 0;
      const chart = (async () => {
        while (charting) {
          // Every third change edits an earlier observation again (of the same patient: a record never moves).
          const target = n % 3 === 0 && n > 0 ? n - 3 : n;
          const id = `kill-backend-${target}`;
          await recordChange(session, { resourceType: 'Observation', id, status: 'final', code: { text: 'SpO2' }, subject: { reference: `Patient/${patients[target % patients.length]}` }, valueQuantity: { value: 90 + (n % 10), unit: '%' } });
          worker.nudge();
          n++;
          await sleep(3);
        }
      })();
      try {
        worker.start(50);
        // Checked while the backend is down (or all is still), so both sides hold still while they are compared.
        let firstDown = 0;
        for (let k = 0; k < BACKEND_KILLS; k++) {
          await sleep(300 + Math.random() * 700);
          await backend.kill();
          const { applied } = await checkExactlyOnce(session, false, `backend down ${k + 1}`);
          if (k === 0) firstDown = applied;
          await sleep(100 + Math.random() * 300);
          await backend.start();
        }
        charting = false;
        await chart;
        await worker.stop();
        const after = await checkExactlyOnce(session, false, 'after the last restart');
        assert.ok(after.applied > firstDown, 'changes were synced between the crashes');
        await finish(session);
      } finally {
        charting = false;
        await chart;
        await worker.stop();
        await session.close();
      }
    });
  });
}
