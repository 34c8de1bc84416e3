/**
 * Undo until sent (`changes.undo`): the latest queued change of a resource
 * is taken back while it is still on this computer only: the outbox entry
 * goes, the resource is as it was (or gone, if the change made it), in one
 * audited transaction. A change that was pushed (in flight now, or sent with
 * its answer lost), held or in conflict is not taken back (ALREADY_SENT /
 * CONFLICT_UNRESOLVED); a refused one is discarded; an unknown resource gets one
 * NOT_FOUND text. Cache-only parts run on a real encrypted cache; the race
 * (undo while the push carrying the change is held in flight) and the lost
 * answer run against the real backend process on SQLite and PostgreSQL,
 * through the app's AuthService, its sync worker and the registry.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { importBundle } from '../electron/services/bundle-import';
import { setProblem } from '../electron/services/charting';
import { markSent, outboxSize, settle, syncCounts } from '../electron/services/outbox';
import { resolveConflict } from '../electron/services/conflicts';
import { verifyAuditChain } from '../electron/services/audit-chain';
import { createHandlerRegistry, dispatch, type HandlerRegistry } from '../electron/services/handler-registry';
import type { CacheDatabase } from '../electron/services/cache-database';
import { PUSH_PATH } from '../shared/sync-api';
import type { Result } from '../shared/app-error';
import { openDatabase } from '../server/database';
import { BackendClient } from '../electron/services/backend-client';
import { openCacheSession } from '../electron/services/cache-session';
import { pullChanges } from '../electron/services/sync-pull';
import { registerDeviceAt } from './support/backend-db';
import { inspectCache } from './support/cache-inspect';
import { openTestCache, type TestCache } from './support/open-test-cache';
import { SYNTHEA_FILES, loadFixturePatients } from './support/synthea';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { passkeyDesktop, type PasskeyDesktop } from './support/passkey-desktop';
import { holdNextCall } from './support/held-call';
import { startInterposer, type Interposer } from './support/http-interposer';
import { content } from './support/backend-state';
import { launchChromium, serveRenderer, type RendererServer } from './browser/harness';

const APP = { url: 'app://clinician/index.html', isMainFrame: true };
const options = { trustedOrigins: ['app://clinician'] };
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const undo = (registry: HandlerRegistry, resourceType: string, resourceId: string) =>
  dispatch(registry, 'changes.undo', { resourceType, resourceId }, APP, options) as Promise<Result<{ undone: boolean }>>;

function refusedWith(r: Result<unknown>, code: string, message?: string | RegExp): void {
  assert.equal(r.ok, false, 'refused');
  if (r.ok) return;
  assert.equal(r.error.code, code, r.error.message);
  if (typeof message === 'string') assert.equal(r.error.message, message);
  else if (message) assert.match(r.error.message, message);
}

// Read through the test's own connection to the cache file (the session's store runs in its worker).
function row(db: CacheDatabase, type: string, id: string): { json: string; version_id: string | null; patient_id: string | null } | undefined {
  return db.prepare('SELECT json, version_id, patient_id FROM resources WHERE resource_type = ? AND id = ?').get(type, id) as never;
}

function lastAudit(db: CacheDatabase): { action: string; subtype: string; patient_id: string | null; entry: string } {
  return db.prepare('SELECT action, subtype, patient_id, entry FROM audit_log ORDER BY seq DESC LIMIT 1').get() as never;
}

describe('undo on this computer (cache only)', () => {
  const patient = loadFixturePatients()[0]!;
  const now = new Date('2026-11-25T10:00:00Z');
  let cache: TestCache;
  let registry: HandlerRegistry;
  let conditions: string[];

  before(async () => {
    cache = await openTestCache('dr.undo');
    await importBundle(cache.session, readFileSync(SYNTHEA_FILES[0]!));
    registry = createHandlerRegistry({ session: () => cache.session, problem: () => null, actor: () => 'dr.undo' });
    conditions = (await cache.db())
      .prepare("SELECT id FROM resources WHERE resource_type = 'Condition' AND patient_id = ? ORDER BY id")
      .pluck()
      .all(patient.id) as string[];
    assert.ok(conditions.length >= 6, 'the fixture patient has enough conditions');
  });
  after(() => cache.dispose());

  test('a problem status change is taken back before it is sent: the problem is as it was, its entry gone, audited as an update of it', async () => {
    const s = cache.session;
    const db = await cache.db();
    const id = conditions[0]!;
    const original = row(db, 'Condition', id)!;
    const queued = await outboxSize(s);
    await setProblem(s, { patientId: patient.id, conditionId: id, text: 'x', status: 'recurrence' }, now);
    assert.equal(await outboxSize(s), queued + 1);
    const stored = db.prepare('SELECT prior, prior_existed FROM outbox ORDER BY seq DESC LIMIT 1').get() as { prior: string; prior_existed: number };
    assert.deepEqual(stored, { prior: original.json, prior_existed: 1 }, 'the entry keeps what it replaced');

    const r = await undo(registry, 'Condition', id);
    assert.deepEqual(r, { ok: true, value: { undone: true } });
    assert.deepEqual(row(db, 'Condition', id), original, 'exactly as before, same version, filed under the same patient');
    assert.equal(original.patient_id, patient.id);
    assert.equal(await outboxSize(s), queued, 'nothing left to send');
    const audit = lastAudit(db);
    assert.deepEqual([audit.action, audit.subtype, audit.patient_id], ['U', 'update', patient.id]);
    assert.ok((JSON.parse(audit.entry) as unknown[]).flat().includes(`Condition/${id}`), 'the entry names the problem');
    assert.equal(verifyAuditChain(db, s.keys.publicKey, s.context.deviceId).ok, true);

    // Nothing of it waits any more: a second undo has nothing unsent to take back.
    refusedWith(await undo(registry, 'Condition', id), 'ALREADY_SENT', 'This change was already sent. Change it again to correct it.');
  });

  test('a second undo takes back the change before; undoing the change that made an item removes it (audited as a delete)', async () => {
    const s = cache.session;
    const db = await cache.db();
    const { conditionId } = await setProblem(s, { patientId: patient.id, text: 'Asthma', status: 'active' }, now);
    const created = row(db, 'Condition', conditionId)!;
    assert.deepEqual(db.prepare('SELECT prior, prior_existed FROM outbox ORDER BY seq DESC LIMIT 1').get(), { prior: null, prior_existed: 0 });
    await setProblem(s, { patientId: patient.id, conditionId, text: 'Asthma', status: 'resolved' }, now);

    assert.ok((await undo(registry, 'Condition', conditionId)).ok);
    assert.equal(row(db, 'Condition', conditionId)!.json, created.json, 'back to active');
    assert.equal(db.prepare('SELECT count(*) FROM outbox WHERE resource_id = ?').pluck().get(conditionId), 1, 'the creation still waits');

    assert.ok((await undo(registry, 'Condition', conditionId)).ok);
    assert.equal(row(db, 'Condition', conditionId), undefined, 'the new problem is gone');
    assert.equal(db.prepare('SELECT count(*) FROM outbox WHERE resource_id = ?').pluck().get(conditionId), 0);
    const audit = lastAudit(db);
    assert.deepEqual([audit.action, audit.subtype, audit.patient_id], ['D', 'delete', patient.id]);

    refusedWith(await undo(registry, 'Condition', conditionId), 'NOT_FOUND', 'There is no change of that item to undo.');
  });

  test('a change that was sent (its answer lost) or held is not taken back, nor one in conflict; a refused one is discarded; keeping mine is not undone alone', async () => {
    const s = cache.session;
    const db = await cache.db();
    const change = async (i: number, status: 'inactive' | 'remission' = 'inactive') => {
      await setProblem(s, { patientId: patient.id, conditionId: conditions[i]!, text: 'x', status }, now);
      return db.prepare('SELECT idempotency_key FROM outbox ORDER BY seq DESC LIMIT 1').pluck().get() as string;
    };
    const unchanged = (i: number) => {
      const before = row(db, 'Condition', conditions[i]!)!.json;
      return () => assert.equal(row(db, 'Condition', conditions[i]!)!.json, before, 'nothing restored');
    };

    // Sent, no answer yet (the push's answer was lost): it may be on the backend already.
    const sentKey = await change(1);
    const sent = unchanged(1);
    await markSent(s, [sentKey]);
    refusedWith(await undo(registry, 'Condition', conditions[1]!), 'ALREADY_SENT', 'This change may already have reached the hospital server. Change it again to correct it.');
    sent();

    // Refused by the backend: it did not take it, so undo discards it (change-undo-safety.test.ts), back to before.
    const beforeRefused = row(db, 'Condition', conditions[2]!)!;
    const refusedKey = await change(2);
    await markSent(s, [refusedKey]);
    await settle(s, [{ idempotencyKey: refusedKey, status: 'refused', reason: 'The server refused this change.' }]);
    assert.ok((await undo(registry, 'Condition', conditions[2]!)).ok);
    assert.deepEqual(row(db, 'Condition', conditions[2]!), beforeRefused, 'back to the version before the refused change');

    // Held: answered "conflict" without content.
    const heldKey = await change(3);
    const held = unchanged(3);
    await markSent(s, [heldKey]);
    await settle(s, [{ idempotencyKey: heldKey, status: 'conflict', currentVersion: '7' }]);
    refusedWith(await undo(registry, 'Condition', conditions[3]!), 'ALREADY_SENT', /already answered/);
    held();

    // In conflict: both versions kept for the clinician's choice.
    const conflictKey = await change(4);
    await markSent(s, [conflictKey]);
    const theirs = { ...(JSON.parse(row(db, 'Condition', conditions[4]!)!.json) as Json), note: [{ text: 'theirs' }] };
    await settle(s, [{ idempotencyKey: conflictKey, status: 'conflict', current: theirs as never, currentVersion: '9' }]);
    refusedWith(await undo(registry, 'Condition', conditions[4]!), 'CONFLICT_UNRESOLVED');
    // Keep mine: queued again on their version; undoing it alone would leave mine unsent on their version.
    await resolveConflict(s, conflictKey, 'mine');
    refusedWith(await undo(registry, 'Condition', conditions[4]!), 'INVALID_INPUT', 'This change cannot be undone. Change it again to correct it.');
    // A later change of mine on top of it can be undone, back to the kept version.
    const kept = row(db, 'Condition', conditions[4]!)!;
    await change(4, 'remission');
    assert.ok((await undo(registry, 'Condition', conditions[4]!)).ok);
    assert.deepEqual(row(db, 'Condition', conditions[4]!), kept);
  });

  test('unknown items get one NOT_FOUND text, whatever they are', async () => {
    const s = cache.session;
    const db = await cache.db();
    const before = { outbox: await outboxSize(s), audit: db.prepare('SELECT count(*) FROM audit_log').pluck().get() };
    const texts = new Set<string>();
    for (const [type, id] of [
      ['Condition', 'no-such-condition'],
      ['Observation', conditions[0]!],
      ['Basic', randomUUID()],
      ['Patient', 'another-patient'],
    ] as const) {
      const r = await undo(registry, type, id);
      refusedWith(r, 'NOT_FOUND');
      if (!r.ok) texts.add(r.error.message);
    }
    assert.deepEqual([...texts], ['There is no change of that item to undo.']);
    assert.deepEqual({ outbox: await outboxSize(s), audit: db.prepare('SELECT count(*) FROM audit_log').pluck().get() }, before, 'nothing written');
  });
});

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`undo and the sync worker, backend on ${engine}`, () => {
    const dir = scratchDir(`undo-${engine}`);
    const keychain = testKeychain();
    let browser: Browser;
    let renderer: RendererServer;
    let backend: BackendProcess;
    let interposer: Interposer;
    let d: PasskeyDesktop;
    let registry: HandlerRegistry;
    // The passkey's PRF output (the same at every sign-in): the keychain's keys are wrapped by it.
    let prfOutput: Buffer;

    before(async () => {
      [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
      backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: [renderer.origin], engine });
      backend.admin(['add-clinician', 'dr.undo', '--name', 'Dr Undo', '--assign-all']);
      // No undo window here: these races need the push at once (undo-window.test.ts covers the window).
      backend.admin(['set-policy', 'undoSeconds', '0']);
      interposer = await startInterposer(backend.url);
      const code = backend.admin(['enroll-code', 'dr.undo']);
      d = await passkeyDesktop({ browser, origin: renderer.origin, backendUrl: interposer.url, dir: dir.path, name: 'desktop', secrets: keychain, prf: true });
      const created = await d.createPasskey('dr.undo', code);
      assert.ok(created.prfOutput, 'the authenticator gave a PRF output');
      prfOutput = Buffer.from(created.prfOutput, 'base64url');
      await d.auth.enrollFinish(created.response, created.prfOutput);
      assert.ok(d.auth.session(), 'unlocked after enrollment, sync running');
      registry = createHandlerRegistry(d.auth, d.auth);
      await d.auth.stopSync();
    });

    after(async () => {
      await d?.close();
      await interposer?.close();
      await browser?.close();
      await renderer?.close();
      await backend?.dispose();
      dir.remove();
      await keychain.cleanup();
    });

    /** Resolves with the first reply of `method` that `match` accepts (the method stays wrapped until then). */
    function nextReply<R>(method: 'push' | 'uploadAudit', match: (reply: R) => boolean): Promise<R> {
      const target = d.backend as unknown as Record<string, (...args: unknown[]) => Promise<R>>;
      const original = target[method]!;
      return new Promise<R>((resolve) => {
        target[method] = async (...args: unknown[]) => {
          const reply = await original.apply(d.backend, args);
          if (match(reply)) {
            delete target[method];
            resolve(reply);
          }
          return reply;
        };
      });
    }

    /** A lock and a passkey unlock: the sync loop starts again. */
    async function restartSync(): Promise<void> {
      d.auth.lockNow('manual');
      const used = await d.usePasskey();
      await d.auth.signInFinish(used.response, used.prfOutput);
    }

    async function serverCondition(id: string): Promise<Array<{ version: string; json: Json }>> {
      const { db } = openDatabase(backend);
      try {
        const rows = await db.selectFrom('resources').select(['version_id', 'json']).where('resource_type', '=', 'Condition').where('id', '=', id).execute();
        return rows.map((r) => ({ version: String(r.version_id), json: JSON.parse(r.json) as Json }));
      } finally {
        await db.destroy();
      }
    }

    const session = () => d.auth.session()!;
    /** The test's own connection to the open session's cache file (a new one after each sign-in). */
    const cacheDb = () => inspectCache(session(), keychain, prfOutput);
    const patientId = async () => (await cacheDb()).prepare('SELECT id FROM patients ORDER BY id LIMIT 1').pluck().get() as string;
    const statusOf = (json: Json) => json.clinicalStatus.coding[0].code as string;

    test('an undo while the push carrying the change is in flight is refused; after the push settles the problem is the server\'s version, once', async () => {
      // A problem the backend already has (version 1).
      const { conditionId } = await setProblem(session(), { patientId: await patientId(), text: 'Hypertension', status: 'active' }, new Date());
      const landed = nextReply<{ results: Array<{ status: string }> }>('push', (r) => r.results.some((x) => x.status === 'applied'));
      await restartSync();
      await landed;
      await d.auth.stopSync();
      assert.equal((await syncCounts(session())).waiting, 0);

      // The status change goes out and is held at the gate, in flight.
      await setProblem(session(), { patientId: await patientId(), conditionId, text: 'Hypertension', status: 'recurrence' }, new Date());
      const gate = holdNextCall(d.backend, 'push');
      const settled = nextReply<{ results: Array<{ status: string }> }>('push', () => true);
      await restartSync();
      await gate.reached;

      const waiting = await dispatch(registry, 'sync.waiting', {}, APP, options);
      assert.ok(waiting.ok);
      const entry = (waiting.value as { changes: Array<{ resourceId: string; state: string; undoable: boolean }> }).changes.find((c) => c.resourceId === conditionId);
      assert.deepEqual([entry?.state, entry?.undoable], ['sending', false], 'listed as being sent, not undoable');

      refusedWith(await undo(registry, 'Condition', conditionId), 'ALREADY_SENT', 'This change is being sent. Change it again to correct it.');
      assert.equal(statusOf(JSON.parse(row(await cacheDb(), 'Condition', conditionId)!.json) as Json), 'recurrence', 'nothing restored under the push');

      gate.release();
      const reply = await settled;
      gate.restore();
      await d.auth.stopSync();
      assert.deepEqual(reply.results.map((r) => r.status), ['applied']);
      assert.equal((await syncCounts(session())).waiting, 0, 'the change left the outbox');

      const server = await serverCondition(conditionId);
      assert.equal(server.length, 1, 'one resource on the server');
      assert.equal(server[0]!.version, '2', 'two versions: the creation and the status change, nothing lost or doubled');
      assert.equal(statusOf(server[0]!.json), 'recurrence');
      const local = row(await cacheDb(), 'Condition', conditionId)!;
      assert.equal(local.version_id, '2', 'the cache holds the server\'s version');
      assert.equal(content(JSON.parse(local.json) as Json), content(server[0]!.json));
      refusedWith(await undo(registry, 'Condition', conditionId), 'ALREADY_SENT', 'This change was already sent. Change it again to correct it.');
    });

    test('a change undone before any push never reaches the backend; the problem stays at the server\'s version', async () => {
      const { conditionId } = await setProblem(session(), { patientId: await patientId(), text: 'Asthma', status: 'active' }, new Date());
      const landed = nextReply<{ results: Array<{ status: string }> }>('push', (r) => r.results.some((x) => x.status === 'applied'));
      await restartSync();
      await landed;
      await d.auth.stopSync();
      const atServer = row(await cacheDb(), 'Condition', conditionId)!;

      await setProblem(session(), { patientId: await patientId(), conditionId, text: 'Asthma', status: 'resolved' }, new Date());
      const fresh = await setProblem(session(), { patientId: await patientId(), text: 'Made by mistake', status: 'active' }, new Date());
      assert.ok((await undo(registry, 'Condition', conditionId)).ok);
      assert.ok((await undo(registry, 'Condition', fresh.conditionId)).ok);
      assert.equal((await syncCounts(session())).waiting, 0);

      let pushed = 0;
      const push = d.backend.push.bind(d.backend);
      d.backend.push = async (...args) => {
        pushed++;
        return push(...args);
      };
      const uploaded = nextReply('uploadAudit', () => true);
      await restartSync();
      await uploaded;
      await d.auth.stopSync();
      delete (d.backend as Partial<Record<'push', unknown>>).push;

      assert.equal(pushed, 0, 'nothing was pushed');
      assert.deepEqual(row(await cacheDb(), 'Condition', conditionId), atServer);
      const server = await serverCondition(conditionId);
      assert.deepEqual([server[0]!.version, statusOf(server[0]!.json)], ['1', 'active']);
      assert.deepEqual(await serverCondition(fresh.conditionId), [], 'the undone new problem never reached the backend');
    });

    test('a newer version the pull met while the change was queued is what an undo puts back, not the older copy the change was made on', async () => {
      const { conditionId } = await setProblem(session(), { patientId: await patientId(), text: 'Migraine', status: 'active' }, new Date());
      const landed = nextReply<{ results: Array<{ status: string }> }>('push', (r) => r.results.some((x) => x.status === 'applied'));
      await restartSync();
      await landed;
      await d.auth.stopSync();

      // Offline here, the clinician changes it; meanwhile another device of the same clinician changes it on the backend (version 2).
      await setProblem(session(), { patientId: await patientId(), conditionId, text: 'Migraine', status: 'remission' }, new Date());
      const other = await openCacheSession({ dataDir: join(dir.path, 'other-device'), secrets: keychain, actor: 'dr.undo', create: true });
      try {
        const otherToken = await registerDeviceAt(backend, 'dr.undo', other);
        const [v1] = await serverCondition(conditionId);
        const { meta: _meta, ...body } = v1!.json;
        const theirs = { ...body, clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'inactive' }] } };
        const { results } = await new BackendClient(backend.url).push(otherToken, [
          { idempotencyKey: randomUUID(), resourceType: 'Condition', id: conditionId, baseVersion: '1', resource: theirs as never },
        ]);
        assert.deepEqual(results.map((r) => r.status), ['applied']);
      } finally {
        await other.close();
      }
      // This desktop pulls: its own change waits, so the local copy is left as the clinician made it.
      await pullChanges(session(), d.backend, d.auth.desktop.currentToken()!);
      assert.equal(statusOf(JSON.parse(row(await cacheDb(), 'Condition', conditionId)!.json) as Json), 'remission');

      assert.ok((await undo(registry, 'Condition', conditionId)).ok);
      const local = row(await cacheDb(), 'Condition', conditionId)!;
      assert.equal(local.version_id, '2', 'the backend\'s newer version');
      assert.equal(statusOf(JSON.parse(local.json) as Json), 'inactive');
      const [server] = await serverCondition(conditionId);
      assert.equal(content(JSON.parse(local.json) as Json), content(server!.json));

      // Nothing to send, and it stays so.
      const uploaded = nextReply('uploadAudit', () => true);
      await restartSync();
      await uploaded;
      await d.auth.stopSync();
      assert.equal((await syncCounts(session())).waiting, 0);
      assert.equal(row(await cacheDb(), 'Condition', conditionId)!.version_id, '2');
    });

    test('a change whose push reached the backend but whose answer was lost is not undone; sent again, it lands once', async () => {
      const { conditionId } = await setProblem(session(), { patientId: await patientId(), text: 'Gout', status: 'active' }, new Date());
      let lost!: () => void;
      const answerLost = new Promise<void>((r) => (lost = r));
      interposer.handle(async (exchange, forward) => {
        const answer = await forward();
        if (exchange.path === PUSH_PATH) {
          lost();
          throw new Error('connection cut after the backend answered');
        }
        return answer;
      });
      await restartSync();
      await answerLost;
      await d.auth.stopSync();
      interposer.handle(null);
      assert.equal((await serverCondition(conditionId)).length, 1, 'the backend has it');

      refusedWith(await undo(registry, 'Condition', conditionId), 'ALREADY_SENT', 'This change may already have reached the hospital server. Change it again to correct it.');
      assert.ok(row(await cacheDb(), 'Condition', conditionId), 'still here');

      const landed = nextReply<{ results: Array<{ status: string }> }>('push', (r) => r.results.some((x) => x.status === 'applied'));
      await restartSync();
      await landed;
      await d.auth.stopSync();
      const server = await serverCondition(conditionId);
      assert.equal(server[0]!.version, '1', 'the same key again: the stored answer, no second write');
      assert.equal(row(await cacheDb(), 'Condition', conditionId)!.version_id, '1');
      assert.equal((await syncCounts(session())).waiting, 0);
    });
  });
}
