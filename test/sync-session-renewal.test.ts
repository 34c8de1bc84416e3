/**
 * The sync-only session is renewed when the backend says it ended: after an
 * offline unlock the desktop pushes on a device-key session; the backend's
 * clock jumps 13 hours (past the session's absolute lifetime), so the next
 * push is answered SESSION_INVALID. The desktop gets a fresh sync-only
 * session at once, in the same drain (once: no loop), and the queued change
 * lands without a new unlock and without a failed sync in between. The
 * app's AuthService with a real passkey (Chromium's virtual authenticator),
 * gnome-keyring, and the backend in-process on SQLite and PostgreSQL with
 * an injected clock the test moves; a real HTTP server in front of it plays
 * the network being down for the offline unlock.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { buildApp } from '../server/app';
import { loadReceiptKey } from './support/receipt-key';
import { RelyingParty } from '../server/auth/relying-party';
import type { Db } from '../server/database';
import { addClinician, createEnrollmentCode, setPolicy } from '../server/organisation/organisation';
import { assignPatients } from '../server/organisation/assignments';
import { loadBundles } from '../server/sync/patient-store';
import { setProblem } from '../electron/services/charting';
import { syncCounts } from '../electron/services/outbox';
import { openBackendDb } from './support/backend-db';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startInterposer, type Interposer } from './support/http-interposer';
import { passkeyDesktop, type PasskeyDesktop } from './support/passkey-desktop';
import { syntheticPatientBundle } from './support/synthetic-bundles';
import { launchChromium, serveRenderer, type RendererServer } from './browser/harness';

const patientId = 'renewal-patient';

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`the sync-only session renewed when the backend ends it, backend on ${engine}`, () => {
    const dir = scratchDir('sync-session-renewal');
    const keychain = testKeychain();
    let browser: Browser;
    let renderer: RendererServer;
    let db: Db;
    let closeDb: () => Promise<void>;
    let app: FastifyInstance;
    let front: Interposer;
    let d: PasskeyDesktop;
    let serverNow = Date.parse('2026-11-25T09:00:00Z');
    const clock = () => new Date(serverNow);

    before(async () => {
      [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
      ({ db, close: closeDb } = await openBackendDb(engine, join(dir.path, 'backend')));
      const bundle = join(dir.path, 'patient.json');
      mkdirSync(dir.path, { recursive: true });
      writeFileSync(bundle, JSON.stringify(syntheticPatientBundle({ patientId, observations: 2 })));
      await loadBundles(db, [bundle]);
      await addClinician(db, 'dr.renew', 'Dr Renew', clock);
      await setPolicy(db, 'undoSeconds', 0); // about session renewal, not the undo window
      await assignPatients(db, 'dr.renew', [patientId], clock);
      const code = await createEnrollmentCode(db, 'dr.renew', clock);
      app = buildApp({ db, rp: new RelyingParty(db, { rpId: 'localhost', rpName: 'T', origins: [renderer.origin] }, clock), clock, receiptKey: loadReceiptKey(join(dir.path, 'backend')) });
      front = await startInterposer(await app.listen({ port: 0, host: '127.0.0.1' }));
      d = await passkeyDesktop({ browser, origin: renderer.origin, backendUrl: front.url, dir: dir.path, name: 'desktop', secrets: keychain, prf: true });
      const created = await d.createPasskey('dr.renew', code);
      await d.auth.enrollFinish(created.response, created.prfOutput);
      await d.auth.stopSync();
      d.auth.lockNow('manual');
    });

    after(async () => {
      await d?.close();
      await front?.close();
      await app?.close();
      await closeDb?.();
      await browser?.close();
      await renderer?.close();
      dir.remove();
      await keychain.cleanup();
    });

    test('after an offline unlock, a server clock jump ends the sync-only session: a fresh one is got in the same drain and the change lands without a new unlock', async () => {
      // The network is down while the clinician unlocks: offline unlock.
      front.handle(() => Promise.reject(new Error('network down')));
      const used = await d.usePasskey();
      front.handle(null);
      const deviceSessions = new Promise<void>((resolve) => {
        const verify = d.backend.deviceVerify.bind(d.backend);
        d.backend.deviceVerify = async (body) => {
          const reply = await verify(body);
          resolve();
          return reply;
        };
      });
      await d.auth.signInFinish(used.response, used.prfOutput);
      assert.equal((await d.auth.status()).online, false, 'unlocked offline');
      await deviceSessions;
      const firstSyncToken = d.backend.tokens.at(-1)!;

      // Every push answer, with the worker's status at that moment.
      const answers: Array<{ statuses: string[]; failures: number; lastError: string | null }> = [];
      let landed!: () => void;
      const arrived = new Promise<void>((r) => (landed = r));
      const push = d.backend.push.bind(d.backend);
      d.backend.push = async (token, changes) => {
        const reply = await push(token, changes);
        const status = d.auth.syncState();
        answers.push({ statuses: reply.results.map((r) => r.status), failures: status.failures, lastError: status.lastError });
        if (reply.results.some((r) => r.status === 'applied')) landed();
        return reply;
      };

      serverNow += 13 * 60 * 60_000;
      const session = d.auth.session()!;
      const { conditionId } = await setProblem(session, { patientId, text: 'Recorded after the server clock jumped', status: 'active' }, new Date());
      d.auth.nudgeSync();
      await arrived;

      assert.notEqual(d.backend.tokens.at(-1), firstSyncToken, 'a fresh sync-only session carried the change');
      assert.equal(d.auth.session(), session, 'still unlocked, no new unlock');
      assert.deepEqual(answers.at(-1), { statuses: ['applied'], failures: 0, lastError: null }, 'renewed within the drain: no failed sync before the change landed');
      const stored = await db.selectFrom('resources').select('version_id').where('resource_type', '=', 'Condition').where('id', '=', conditionId).execute();
      assert.equal(stored.length, 1, 'the change reached the backend once');
      await d.auth.stopSync();
      assert.equal((await syncCounts(session)).waiting, 0);
      assert.equal(d.auth.syncState().lastError, null);
    });
  });
}
