/**
 * The undo window: a local change is held on this computer for the
 * organisation's `undoSeconds` (default 10) before the sync worker may push
 * it, so `changes.undo` can take it back; and a push that failed before its
 * connection was made (connection refused) does not count as "may have
 * reached the server", so the change stays undoable.
 *
 * End to end with the default window, through the app's AuthService (policy
 * delivered at enrollment), its sync worker and the handler registry, against
 * the real backend process on SQLite and PostgreSQL: a change made online is
 * undoable and leaves only once the window has passed; a change made while
 * the backend is down stays undoable after a failed attempt; a window the
 * organisation sets (0) reaches the app's worker at the next sign-in. The cut and the
 * wake-up run on a worker with injected clocks and timer (no sleeps): the
 * first young change and every later one wait, the loop wakes when it comes
 * of age, a wall clock set back holds no longer than the window, a stop keeps
 * held changes for the next start. A push cut off after it was sent still
 * counts. The policy setting is checked at the backend (0-120).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { setProblem } from '../electron/services/charting';
import { outboxSize } from '../electron/services/outbox';
import { createHandlerRegistry, dispatch, type HandlerRegistry } from '../electron/services/handler-registry';
import type { CacheDatabase } from '../electron/services/cache-database';
import { BackendClient } from '../electron/services/backend-client';
import { SyncWorker } from '../electron/services/sync-worker';
import { readPasskeyRecord } from '../electron/services/session/passkey-record';
import type { Result } from '../shared/app-error';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, freePort, type BackendProcess } from './support/backend-process';
import { passkeyDesktop, type PasskeyDesktop } from './support/passkey-desktop';
import { launchChromium, serveRenderer, type RendererServer } from './browser/harness';

const APP = { url: 'app://clinician/index.html', isMainFrame: true };
const options = { trustedOrigins: ['app://clinician'] };
const WINDOW_MS = 10_000;

const undo = (registry: HandlerRegistry, resourceId: string) =>
  dispatch(registry, 'changes.undo', { resourceType: 'Condition', resourceId }, APP, options) as Promise<Result<{ undone: boolean }>>;

interface Entry {
  idempotency_key: string;
  attempts: number;
  created_at: string;
}
/** A problem's latest outbox entry, read through the test's own connection to the cache file. */
const entryOf = (db: CacheDatabase, id: string) =>
  db.prepare('SELECT idempotency_key, attempts, created_at FROM outbox WHERE resource_type = ? AND resource_id = ? ORDER BY seq DESC LIMIT 1').get('Condition', id) as Entry | undefined;

/** A wake-up the worker's loop asked for: its delay, and the call that fires it. */
interface Wake {
  ms: number;
  fire(): void;
}

/** An injected timer: each wake-up the loop sets (once per drain) is handed to the test, which fires it when it chooses. */
function manualTimer() {
  const waiting: Array<(w: Wake) => void> = [];
  const queued: Wake[] = [];
  return {
    schedule(ms: number, fire: () => void) {
      let cancelled = false;
      const wake = { ms, fire: () => !cancelled && fire() };
      const next = waiting.shift();
      if (next) next(wake);
      else queued.push(wake);
      return () => (cancelled = true);
    },
    /** The next wake-up the loop sets: it has finished the drain before it. */
    next(): Promise<Wake> {
      const q = queued.shift();
      return q ? Promise.resolve(q) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`undo window, backend on ${engine}`, () => {
    const dir = scratchDir(`undo-window-${engine}`);
    const keychain = testKeychain();
    let browser: Browser;
    let renderer: RendererServer;
    let backend: BackendProcess;
    let d: PasskeyDesktop;
    let registry: HandlerRegistry;
    // The passkey's PRF output (the same at every sign-in): the keychain's keys are wrapped by it.
    let prfOutput: Buffer;

    before(async () => {
      [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
      backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: [renderer.origin], engine });
      backend.admin(['add-clinician', 'dr.window', '--name', 'Dr Window', '--assign-all']);
      const code = backend.admin(['enroll-code', 'dr.window']);
      // The backend's own client, straight at the backend: stopping the backend refuses connections.
      d = await passkeyDesktop({ browser, origin: renderer.origin, backendUrl: backend.url, dir: dir.path, name: 'desktop', secrets: keychain, prf: true });
      const created = await d.createPasskey('dr.window', code);
      assert.ok(created.prfOutput, 'the authenticator gave a PRF output');
      prfOutput = Buffer.from(created.prfOutput, 'base64url');
      await d.auth.enrollFinish(created.response, created.prfOutput);
      assert.ok(d.auth.session(), 'unlocked after enrollment, sync running');
      registry = createHandlerRegistry(d.auth, d.auth);
    });

    after(async () => {
      await d?.close();
      await browser?.close();
      await renderer?.close();
      await backend?.dispose();
      dir.remove();
      await keychain.cleanup();
    });

    const session = () => d.auth.session()!;
    /** The test's own connection to the open session's cache file (a new one after each sign-in). */
    const cacheDb = () => inspectCache(session(), keychain, prfOutput);
    const patientId = async () => (await cacheDb()).prepare('SELECT id FROM patients ORDER BY id LIMIT 1').pluck().get() as string;
    const newProblem = async (text: string) => (await setProblem(session(), { patientId: await patientId(), text, status: 'active' }, new Date())).conditionId;
    const setStatus = async (conditionId: string | undefined, status: string) => {
      const r = (await dispatch(registry, 'problems.set', { patientId: await patientId(), ...(conditionId ? { conditionId } : {}), text: 'Hypertension', status }, APP, options)) as Result<{ conditionId: string }>;
      assert.ok(r.ok, r.ok ? '' : r.error.message);
      return r.value.conditionId;
    };

    /** The next push the app's client makes: when it was called, what it carried, and how it ended. */
    function nextPush(): Promise<{ at: number; keys: string[]; failed: unknown }> {
      const client = d.backend as unknown as { push: BackendClient['push'] };
      const original = BackendClient.prototype.push;
      return new Promise((resolve) => {
        client.push = async (token, changes) => {
          delete (client as Partial<typeof client>).push;
          const at = Date.now();
          const keys = changes.map((c) => c.idempotencyKey);
          try {
            const reply = await original.call(d.backend, token, changes);
            resolve({ at, keys, failed: null });
            return reply;
          } catch (err) {
            // Told as the failure reaches the worker: its handling (giving the attempt back) is a call to the cache
            // store in its worker thread, done when the drain ends (a test stops the loop to wait for it).
            resolve({ at, keys, failed: err });
            throw err;
          }
        };
      });
    }

    test('the organisation policy delivered at enrollment carries the default window of 10 seconds; the backend refuses values outside 0-120 and unknown settings', async () => {
      const record = await readPasskeyRecord(d.dataDir, keychain);
      assert.equal(record?.policy.undoSeconds, 10, 'kept with the policy, as idleLockMinutes is');
      assert.throws(() => backend.admin(['set-policy', 'undoSeconds', '121']), /failed/);
      assert.throws(() => backend.admin(['set-policy', 'undoSeconds', '-1']), /failed/);
      assert.throws(() => backend.admin(['set-policy', 'undoSecs', '5']), /failed/);
      assert.match(backend.admin(['set-policy', 'undoSeconds', '10']), /"undoSeconds":10/);
    });

    test('online, with the default window: a change is undoable at once, and the next one leaves only once 10 seconds have passed', { timeout: 60_000 }, async () => {
      // The worker is running and online (it synced after enrollment). A status change, then undone at once.
      const conditionId = await setStatus(undefined, 'active');
      const first = entryOf(await cacheDb(), conditionId)!;
      assert.equal(first.attempts, 0);
      assert.deepEqual(await undo(registry, conditionId), { ok: true, value: { undone: true } }, 'held on this computer: undone');
      assert.equal(entryOf(await cacheDb(), conditionId), undefined);

      // The next change is listed as undoable while it waits, and goes out once its window has passed.
      const pushed = nextPush();
      const kept = await setStatus(undefined, 'active');
      const entry = entryOf(await cacheDb(), kept)!;
      const waiting = (await dispatch(registry, 'sync.waiting', {}, APP, options)) as Result<{ changes: Array<{ resourceId: string; undoable: boolean }> }>;
      assert.ok(waiting.ok);
      assert.equal(waiting.value.changes.find((c) => c.resourceId === kept)?.undoable, true, 'listed as undoable while held');
      const push = await pushed;
      assert.deepEqual(push.keys, [entry.idempotency_key]);
      assert.equal(push.failed, null);
      assert.ok(push.at - Date.parse(entry.created_at) >= WINDOW_MS - 5, `held for the window (left after ${push.at - Date.parse(entry.created_at)} ms)`);
      // Sent now: no longer undoable.
      const r = await undo(registry, kept);
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.error.code, 'ALREADY_SENT');
    });

    test('backend down (connection refused), default window: after a failed push attempt the change is still undoable', { timeout: 60_000 }, async () => {
      await backend.stop();
      try {
        const pushed = nextPush();
        const conditionId = await setStatus(undefined, 'active');
        const push = await pushed;
        assert.ok(push.failed, 'the push failed');
        assert.equal((push.failed as { code?: string }).code, 'BACKEND_UNREACHABLE');
        // The loop's stop resolves once the failed drain has ended, its attempt given back (the next sign-in starts it again).
        await d.auth.stopSync();
        assert.equal(entryOf(await cacheDb(), conditionId)?.attempts, 0, 'nothing reached the backend: the attempt was given back');
        assert.deepEqual(await undo(registry, conditionId), { ok: true, value: { undone: true } }, 'still on this computer only: undone');
        assert.equal(entryOf(await cacheDb(), conditionId), undefined);
      } finally {
        await backend.start();
      }
    });

    test('the window is the organisation\'s: set to 0 at the backend, delivered at the next sign-in, a change goes at once', { timeout: 60_000 }, async () => {
      assert.match(backend.admin(['set-policy', 'undoSeconds', '0']), /"undoSeconds":0/);
      d.auth.lockNow('manual');
      const used = await d.usePasskey();
      await d.auth.signInFinish(used.response, used.prfOutput);
      assert.equal((await readPasskeyRecord(d.dataDir, keychain))?.policy.undoSeconds, 0, 'delivered with the policy at sign-in');
      const pushed = nextPush();
      const conditionId = await setStatus(undefined, 'active');
      const entry = entryOf(await cacheDb(), conditionId)!;
      const push = await pushed;
      assert.deepEqual(push.keys, [entry.idempotency_key]);
      assert.ok(push.at - Date.parse(entry.created_at) < WINDOW_MS / 2, 'not held for the default window');
    });

    describe('the cut and the wake-up (the worker with injected clocks and timer)', () => {
      let token: string;
      before(async () => {
        await d.auth.stopSync();
        token = d.auth.desktop.currentToken()!;
        assert.ok(token);
        assert.equal(await outboxSize(session()), 0);
      });

      function worker(clocks: { wall(): number; mono(): number }, timer?: ReturnType<typeof manualTimer>, undoSeconds: number = 10, backendUrl = backend.url) {
        return new SyncWorker({
          backend: new BackendClient(backendUrl, 3000),
          session: () => d.auth.session(),
          token: () => token,
          undoSeconds,
          clock: clocks.wall,
          monotonic: clocks.mono,
          ...(timer ? { schedule: timer.schedule } : {}),
        });
      }
      /** Sets a change's created_at, as if it had been made at `at` (ms). */
      const madeAt = async (id: string, at: number) => (await cacheDb()).prepare("UPDATE outbox SET created_at = ? WHERE resource_type = 'Condition' AND resource_id = ?").run(new Date(at).toISOString(), id);

      test('the first change inside the window and every later one wait; the loop wakes when the first comes of age, not at its idle time', async () => {
        const t0 = Date.parse('2026-11-25T10:00:00.000Z');
        const x = await newProblem('Asthma');
        const y = await newProblem('Gout');
        const z = await newProblem('Migraine');
        await madeAt(x, t0);
        await madeAt(y, t0 + 5_000);
        await madeAt(z, t0 + 5_000);
        const db = await cacheDb();
        let wall = t0 + 6_000;
        let mono = 1_000;
        const timer = manualTimer();
        const w = worker({ wall: () => wall, mono: () => mono }, timer);
        w.start(30_000);
        try {
          let wake = await timer.next();
          assert.equal(wake.ms, 4_000, 'wakes when the oldest held change comes of age');
          assert.equal(w.status.heldUntil, t0 + 10_000);
          assert.equal(await outboxSize(session()), 3, 'nothing sent');
          assert.deepEqual([x, y, z].map((id) => entryOf(db, id)!.attempts), [0, 0, 0]);

          // Just short of the window: still held.
          wall += 3_999;
          mono += 3_999;
          wake.fire();
          wake = await timer.next();
          assert.equal(wake.ms, 1);
          assert.equal(await outboxSize(session()), 3);

          wall += 1;
          mono += 1;
          wake.fire();
          wake = await timer.next();
          assert.equal(entryOf(db, x), undefined, 'of age: sent and answered');
          assert.deepEqual([y, z].map((id) => entryOf(db, id)!.attempts), [0, 0], 'the younger ones are not even tried');
          assert.equal(wake.ms, 5_000, 'next wake-up: when the next one comes of age');
          assert.deepEqual(await undo(registry, y), { ok: true, value: { undone: true } }, 'a held change is undone');

          wall += 5_000;
          mono += 5_000;
          wake.fire();
          wake = await timer.next();
          assert.equal(await outboxSize(session()), 0, 'the rest went');
          assert.equal(wake.ms, 30_000, 'nothing held: the idle wait');
          assert.equal(w.status.heldUntil, null);
        } finally {
          await w.stop();
        }
      });

      test('a wall clock set back an hour holds a change no longer than the window (monotonic); a stop keeps it for the next start', async () => {
        const x = await newProblem('Eczema');
        const made = Date.parse(entryOf(await cacheDb(), x)!.created_at);
        let wall = made - 3_600_000;
        let mono = 50_000;
        const timer = manualTimer();
        const w = worker({ wall: () => wall, mono: () => mono }, timer);
        w.start(30_000);
        let wake = await timer.next();
        assert.equal(wake.ms, 10_000, 'the window from when the worker first saw it, not an hour more');
        mono += 4_000;
        wall += 4_000;
        wake.fire();
        wake = await timer.next();
        assert.equal(wake.ms, 6_000);
        await w.stop();
        assert.equal(entryOf(await cacheDb(), x)?.attempts, 0, 'a stop (lock, quit) keeps the held change, unsent');

        // The next start, later: it is of age by the wall clock and goes at once.
        const next = worker({ wall: () => made + WINDOW_MS, mono: () => 0 });
        assert.equal(await next.drain(), true);
        assert.equal(entryOf(await cacheDb(), x), undefined, 'sent at the next start');
        assert.equal(next.status.heldUntil, null);
      });

      test('undoSeconds 0 sends at once', async () => {
        const x = await newProblem('Sinusitis');
        const made = Date.parse(entryOf(await cacheDb(), x)!.created_at);
        const w = worker({ wall: () => made, mono: () => 0 }, undefined, 0);
        assert.equal(await w.drain(), true);
        assert.equal(entryOf(await cacheDb(), x), undefined);
      });

      test('a push refused at connect gives its attempt back; one cut off after it was sent still counts (it may have arrived)', async () => {
        const x = await newProblem('Otitis');
        const made = Date.parse(entryOf(await cacheDb(), x)!.created_at);
        const clocks = { wall: () => made + WINDOW_MS, mono: () => 0 };
        // Nothing listens on this port: connection refused.
        const refused = worker(clocks, undefined, 10, `http://127.0.0.1:${await freePort()}`);
        assert.equal(await refused.drain(), false);
        assert.equal(refused.status.online, false);
        assert.equal(entryOf(await cacheDb(), x)?.attempts, 0, 'never connected: not counted');

        // A server that takes the request's bytes, then cuts the connection without an answer.
        const sockets = new Set<import('node:net').Socket>();
        const cutter: Server = createServer((socket) => {
          sockets.add(socket);
          socket.once('data', () => socket.destroy());
        });
        cutter.listen(0, '127.0.0.1');
        await once(cutter, 'listening');
        try {
          const cut = worker(clocks, undefined, 10, `http://127.0.0.1:${(cutter.address() as { port: number }).port}`);
          assert.equal(await cut.drain(), false);
          assert.equal(entryOf(await cacheDb(), x)?.attempts, 1, 'sent, then cut: may have reached the server');
          const r = await undo(registry, x);
          assert.equal(r.ok, false);
          if (!r.ok) assert.equal(r.error.code, 'ALREADY_SENT');
        } finally {
          for (const s of sockets) s.destroy();
          cutter.close();
          await once(cutter, 'close');
        }
        // It goes on the real backend later (idempotency key: once).
        assert.equal(await worker(clocks).drain(), true);
        assert.equal(entryOf(await cacheDb(), x), undefined);
      });
    });
  });
}
