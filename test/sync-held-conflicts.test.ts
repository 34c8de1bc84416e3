/**
 * A conflict answered without content: a sync-only session (the device key,
 * after an offline unlock) learns only the backend's version number. The
 * desktop keeps the change queued but held (not sent again, so no loop),
 * lets other work go out, and once a passkey session exists sends it once
 * more; the backend's stored answer for its idempotency key then carries the
 * current record and the normal conflict flow runs. Nothing is lost or
 * doubled. Real backend process, on SQLite and PostgreSQL.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sign } from 'node:crypto';
import { deviceSessionMessage } from '../shared/backend-api';
import type { Change, OutgoingChange } from '../shared/sync-api';
import { BackendClient } from '../electron/services/backend-client';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import { listConflicts, resolveConflict } from '../electron/services/conflicts';
import { heldCount, syncCounts } from '../electron/services/outbox';
import { setProblem } from '../electron/services/charting';
import { HELD_MESSAGE, SyncWorker } from '../electron/services/sync-worker';
import { registerDeviceAt } from './support/backend-db';
import { backendSnapshot } from './support/backend-state';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { syntheticPatientBundle } from './support/synthetic-bundles';

const SHARED = 'held-shared';
const statusOf = (r: Record<string, unknown> | undefined) => (r?.clinicalStatus as { coding: Array<{ code: string }> } | undefined)?.coding[0]?.code;

/** A backend client that counts the changes it pushes, by idempotency key. */
class CountingClient extends BackendClient {
  readonly pushed: string[] = [];
  override push(token: string, changes: ReadonlyArray<Change | OutgoingChange>) {
    this.pushed.push(...changes.map((c) => c.idempotencyKey));
    return super.push(token, changes);
  }
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`conflicts without content, backend on ${engine}`, () => {
    const keychain = testKeychain();
    const dir = scratchDir('held');
    let backend: BackendProcess;
    let a: CacheSession;
    let b: CacheSession;
    let aToken: string;
    let bToken: string;

    before(async () => {
      const bundles = join(dir.path, 'bundles');
      mkdirSync(bundles);
      writeFileSync(join(bundles, 'shared.json'), JSON.stringify(syntheticPatientBundle({ patientId: SHARED, observations: 2 })));
      backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: ['https://app.invalid'], bundles: [bundles], engine });
      backend.admin(['add-clinician', 'dr.a', '--name', 'Dr A']);
      backend.admin(['add-clinician', 'dr.b', '--name', 'Dr B']);
      backend.admin(['assign', 'dr.a', SHARED]);
      backend.admin(['assign', 'dr.b', SHARED]);
      a = await openCacheSession({ dataDir: join(dir.path, 'a'), secrets: keychain, actor: 'dr.a', create: true });
      b = await openCacheSession({ dataDir: join(dir.path, 'b'), secrets: keychain, actor: 'dr.b', create: true });
      aToken = await registerDeviceAt(backend, 'dr.a', a);
      bToken = await registerDeviceAt(backend, 'dr.b', b);
    });
    after(async () => {
      a?.close();
      b?.close();
      await backend?.dispose();
      dir.remove();
      await keychain.cleanup();
    });

    async function deviceSession(session: CacheSession): Promise<string> {
      const client = new BackendClient(backend.url);
      const deviceId = session.profile.profileId;
      const { challenge } = await client.deviceOptions({ deviceId });
      const signature = sign(null, Buffer.from(deviceSessionMessage(deviceId, challenge)), session.keys.signingKey).toString('base64');
      return (await client.deviceVerify({ deviceId, challenge, signature })).token;
    }

    test('held on a sync-only session, sent once more on a passkey session, then resolved as any conflict', async () => {
      const full = (s: CacheSession, token: string) => new SyncWorker({ undoSeconds: 0, backend: new BackendClient(backend.url), session: () => s, token: () => token });
      assert.equal(await full(a, aToken).drain(), true);
      assert.equal(await full(b, bToken).drain(), true);
      const { conditionId } = await setProblem(a, { patientId: SHARED, text: 'Chronic pain', status: 'active' }, new Date());
      assert.equal(await full(a, aToken).drain(), true);
      assert.equal(await full(b, bToken).drain(), true);

      // Dr B changes it and syncs; Dr A changes it offline, unlocks offline, and syncs on the device key.
      await setProblem(b, { patientId: SHARED, conditionId, text: 'Chronic pain', status: 'resolved' }, new Date());
      assert.equal(await full(b, bToken).drain(), true);
      await setProblem(a, { patientId: SHARED, conditionId, text: 'Chronic pain', status: 'inactive' }, new Date());
      await setProblem(a, { patientId: SHARED, conditionId, text: 'Chronic pain', status: 'remission' }, new Date());
      const other = await setProblem(a, { patientId: SHARED, text: 'Insomnia', status: 'active' }, new Date());

      const syncToken = await deviceSession(a);
      const client = new CountingClient(backend.url);
      const syncOnly = new SyncWorker({ undoSeconds: 0, backend: client, session: () => a, token: () => syncToken, pullAllowed: () => false });
      assert.equal(await syncOnly.drain(), true, syncOnly.status.lastError ?? '');
      const firstPush = [...client.pushed];
      assert.equal(await heldCount(a), 1, 'the conflicted change is held');
      assert.deepEqual(await syncCounts(a), { waiting: 2, refused: 0, conflicts: 0 }, 'nothing lost: the held change and the one queued behind it still wait; no conflict without content');
      assert.equal(syncOnly.status.lastError, HELD_MESSAGE, 'the clinician is told a passkey sign-in is needed');
      const stored = await backendSnapshot(backend, a.profile.profileId, 'Condition');
      assert.equal(statusOf(stored.resources.get(conditionId)!.resource), 'resolved', 'Dr B\'s version stands');
      assert.ok(stored.resources.has(other.conditionId), 'other work went out on the sync-only session');

      // Again on the sync-only session: the held change is not sent again (no loop), and neither is the one behind it.
      assert.equal(await syncOnly.drain(), true);
      assert.equal(await syncOnly.drain(), true);
      assert.deepEqual(client.pushed, firstPush, 'nothing re-sent while only a sync-only session exists');

      // A passkey session: sent once more, its stored answer now carries the record, and the conflict opens.
      const passkeyClient = new CountingClient(backend.url);
      const passkey = new SyncWorker({ undoSeconds: 0, backend: passkeyClient, session: () => a, token: () => aToken });
      assert.equal(await passkey.drain(), true, passkey.status.lastError ?? '');
      assert.equal(passkeyClient.pushed.length, 1, 'the held change went out once, with its own idempotency key');
      assert.ok(firstPush.includes(passkeyClient.pushed[0]!));
      assert.equal(await heldCount(a), 0);
      assert.deepEqual(await syncCounts(a), { waiting: 0, refused: 0, conflicts: 1 });
      const [conflict] = await listConflicts(a);
      assert.ok(conflict);
      assert.equal(statusOf(conflict.theirs as Record<string, unknown>), 'resolved');
      assert.equal(statusOf(conflict.mine as Record<string, unknown>), 'remission', 'mine is the latest local copy, the queued change folded in');

      await resolveConflict(a, conflict.key, 'mine');
      assert.equal(await passkey.drain(), true);
      assert.equal(await full(b, bToken).drain(), true);
      const after = await backendSnapshot(backend, a.profile.profileId, 'Condition');
      assert.equal(statusOf(after.resources.get(conditionId)!.resource), 'remission');
      assert.equal(after.resources.get(conditionId)!.version, 3, 'one write for Dr B, one for Dr A\'s choice: nothing doubled');
      assert.deepEqual(await syncCounts(a), { waiting: 0, refused: 0, conflicts: 0 });
    });
  });
}
