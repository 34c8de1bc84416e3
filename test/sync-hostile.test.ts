/**
 * The sync worker against a hostile or broken server in front of the real
 * backend: HTML error pages, wrong schemas, answers for changes never sent,
 * resources with impossible ids, a feed that never moves on, huge bodies,
 * answers cut midway, slow-loris answers and garbled JSON, on pushes and on
 * pulls. Each time the drain fails with the error shown (no server text), and
 * the outbox, the cached resources, the pull cursor and the audit chain are
 * exactly as before; once the server behaves, everything syncs once.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackendClient } from '../electron/services/backend-client';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import type { CacheDatabase } from '../electron/services/cache-database';
import { outboxSize, recordChange } from '../electron/services/outbox';
import { SyncWorker } from '../electron/services/sync-worker';
import { verifyCache } from '../electron/services/cache-maintenance';
import { PULL_PATH, PUSH_PATH } from '../shared/sync-api';
import { registerDeviceAt } from './support/backend-db';
import { backendSnapshot } from './support/backend-state';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { syntheticPatientBundle } from './support/synthetic-bundles';

type Behaviour = (req: IncomingMessage, res: ServerResponse, forward: () => Promise<string>) => unknown;

const json = (res: ServerResponse, body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));

const common: Record<string, Behaviour> = {
  html500: (_q, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>Bad gateway</body></html>'),
  html200: (_q, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>captive portal login</html>'),
  garbledJson: (_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"results": [{"idempotencyKey": '),
  huge: (_q, res) => json(res, { results: [], padding: 'x'.repeat(70 * 1024 * 1024) }),
  cutMidway: (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
    res.write('{"results": [');
    setTimeout(() => res.socket?.destroy(), 20);
  },
  slowLoris: (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const timer = setInterval(() => res.write(' '), 100);
    res.on('close', () => clearInterval(timer));
  },
};

const pushBehaviours: Record<string, Behaviour> = {
  ...common,
  wrongSchema: (_q, res) => json(res, { results: [{ idempotencyKey: 'not-a-key', status: 'applied', versionId: 1 }] }),
  answersForChangesNotSent: (_q, res) => json(res, { results: [{ idempotencyKey: randomUUID(), status: 'applied', versionId: '1' }] }),
  // The backend applied the push, then the answer came back garbled: the retry must get the stored answers.
  appliedThenGarbled: async (_q, res, forward) => {
    await forward();
    res.writeHead(200, { 'content-type': 'application/json' }).end('<!doctype html>');
  },
};

const pullBehaviours: Record<string, Behaviour> = {
  ...common,
  wrongSchema: (_q, res) => json(res, { resources: 'all of them', cursor: null, more: false }),
  impossibleIds: (_q, res) =>
    json(res, { resources: [{ resourceType: 'Observation', id: '../../etc/passwd', meta: { versionId: '1' } }], cursor: '9/Observation/x', more: false }),
  neverMovesOn: (_q, res) => json(res, { resources: [{ resourceType: 'Observation', id: 'loop', meta: { versionId: '1' } }], cursor: null, more: true }),
};

describe('sync against a hostile server', () => {
  const keychain = testKeychain();
  const dir = scratchDir('sync-hostile');
  let backend: BackendProcess;
  let hostile: Server;
  let mode: { path: string; behaviour: Behaviour } | null = null;
  let session: CacheSession;
  /** The test's own connection to the session's cache file (./support/cache-inspect.ts). */
  let db: CacheDatabase;
  let token: string;
  let otherToken: string;
  let worker: SyncWorker;
  const patientId = 'hostile-patient';

  function forwardTo(req: IncomingMessage, body: Buffer, res: ServerResponse | null): Promise<string> {
    return new Promise((resolve, reject) => {
      const upstream = request(`${backend.url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res) res.writeHead(answer.statusCode ?? 502, { 'content-type': answer.headers['content-type'] ?? 'application/json' }).end(text);
          resolve(text);
        });
      });
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  /** What must not change under a hostile answer. */
  function state() {
    const hash = (sql: string) => createHash('sha256').update(JSON.stringify(db.prepare(sql).all())).digest('hex');
    return {
      outbox: db.prepare('SELECT idempotency_key FROM outbox ORDER BY seq').pluck().all(),
      resources: hash('SELECT resource_type, id, version_id, json FROM resources ORDER BY resource_type, id'),
      conflicts: hash('SELECT * FROM conflicts'),
      cursor: db.prepare("SELECT value FROM sync_state WHERE key = 'pull_cursor'").pluck().get() ?? null,
    };
  }

  before(async () => {
    const bundles = join(dir.path, 'bundles');
    mkdirSync(bundles);
    writeFileSync(join(bundles, 'p.json'), JSON.stringify(syntheticPatientBundle({ patientId, observations: 5 })));
    backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: ['https://app.invalid'], bundles: [bundles] });
    backend.admin(['add-clinician', 'dr.h', '--name', 'Dr H', '--assign-all']);
    session = await openCacheSession({ dataDir: join(dir.path, 'desktop'), secrets: keychain, actor: 'dr.h', create: true });
    db = await inspectCache(session, keychain);
    const other = await openCacheSession({ dataDir: join(dir.path, 'other'), secrets: keychain, actor: 'dr.h', create: true });
    token = await registerDeviceAt(backend, 'dr.h', session);
    otherToken = await registerDeviceAt(backend, 'dr.h', other);
    await other.close();

    hostile = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const path = req.url!.split('?')[0]!;
        if (mode && mode.path === path) void mode.behaviour(req, res, () => forwardTo(req, body, null));
        else void forwardTo(req, body, res).catch(() => res.socket?.destroy());
      });
    });
    hostile.listen(0, '127.0.0.1');
    await once(hostile, 'listening');
    const url = `http://127.0.0.1:${(hostile.address() as { port: number }).port}`;
    worker = new SyncWorker({ undoSeconds: 0, backend: new BackendClient(url, 1500), session: () => session, token: () => token });
    assert.equal(await worker.drain(), true, 'a first, clean sync');
  });

  after(async () => {
    hostile?.closeAllConnections();
    hostile?.close();
    await session?.close();
    await backend?.dispose();
    dir.remove();
    await keychain.cleanup();
  });

  test('hostile answers to pushes lose nothing, and the changes then arrive exactly once', async () => {
    for (let i = 0; i < 5; i++) {
      await recordChange(session, { resourceType: 'Observation', id: `hostile-push-${i}`, status: 'final', code: { text: 'Heart rate' }, subject: { reference: `Patient/${patientId}` }, valueQuantity: { value: 60 + i, unit: '/min' } });
    }
    for (const [name, behaviour] of Object.entries(pushBehaviours)) {
      const before = state();
      mode = { path: PUSH_PATH, behaviour };
      assert.equal(await worker.drain(), false, `${name}: the drain fails`);
      assert.ok(worker.status.lastError, `${name}: the error is shown`);
      assert.doesNotMatch(worker.status.lastError!, /html|captive|doctype|padding/i, `${name}: no server text`);
      assert.deepEqual(state(), before, `${name}: outbox, cache, conflicts and cursor unchanged`);
      assert.equal((await verifyCache(session)).ok, true, `${name}: the audit chain is whole`);
    }
    mode = null;
    assert.equal(await worker.drain(), true);
    assert.equal(worker.status.lastError, null);
    assert.equal(await outboxSize(session), 0);
    const server = await backendSnapshot(backend, session.profile.profileId, 'Observation');
    assert.equal(server.applied, 5, 'each change applied once, the garbled answer notwithstanding');
    for (let i = 0; i < 5; i++) assert.equal(server.resources.get(`hostile-push-${i}`)?.version, 1);
  });

  test('hostile answers to pulls write nothing, and the real changes then arrive', async () => {
    const pushed = await new BackendClient(backend.url).push(
      otherToken,
      [0, 1, 2].map((i) => ({
        idempotencyKey: randomUUID(),
        resourceType: 'Observation',
        id: `from-elsewhere-${i}`,
        baseVersion: null,
        resource: { resourceType: 'Observation', id: `from-elsewhere-${i}`, status: 'final', code: { text: 'Temperature' }, subject: { reference: `Patient/${patientId}` } },
      })),
    );
    assert.ok(pushed.results.every((r) => r.status === 'applied'));
    for (const [name, behaviour] of Object.entries(pullBehaviours)) {
      const before = state();
      mode = { path: PULL_PATH, behaviour };
      assert.equal(await worker.drain(), false, `${name}: the drain fails`);
      assert.ok(worker.status.lastError, `${name}: the error is shown`);
      assert.deepEqual(state(), before, `${name}: nothing written, the cursor did not move`);
      assert.equal((await verifyCache(session)).ok, true, `${name}: the audit chain is whole`);
    }
    mode = null;
    assert.equal(await worker.drain(), true);
    const arrived = db.prepare("SELECT count(*) FROM resources WHERE id LIKE 'from-elsewhere-%'").pluck().get();
    assert.equal(arrived, 3);
  });
});
