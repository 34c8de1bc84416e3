/**
 * One sync loop, ever: a lock that arrives while a push is in flight,
 * followed at once by an unlock, must not start a second loop beside the
 * first (the lock does not wait for the worker to stop). Driven through the
 * app's AuthService with a real passkey (Chromium's virtual authenticator),
 * the real backend process and gnome-keyring; the push is held at a gate
 * the test opens (no sleeps) and every push and audit upload the worker
 * makes is counted while in flight.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { setProblem } from '../electron/services/charting';
import { syncCounts } from '../electron/services/outbox';
import { openDatabase } from '../server/database';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { passkeyDesktop, type PasskeyDesktop } from './support/passkey-desktop';
import { holdNextCall } from './support/held-call';
import { launchChromium, serveRenderer, type RendererServer } from './browser/harness';

const dir = scratchDir('sync-one-loop');
const keychain = testKeychain();
let browser: Browser;
let renderer: RendererServer;
let backend: BackendProcess;
let d: PasskeyDesktop;
/** The passkey's PRF output: the keys are bound to it (the test's own connection to the cache needs it). */
let prfOutput: Buffer;

before(async () => {
  [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
  backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: [renderer.origin] });
  backend.admin(['add-clinician', 'dr.loop', '--name', 'Dr Loop', '--assign-all']);
  backend.admin(['set-policy', 'undoSeconds', '0']); // about the loop, not the undo window
  const code = backend.admin(['enroll-code', 'dr.loop']);
  d = await passkeyDesktop({ browser, origin: renderer.origin, backendUrl: backend.url, dir: dir.path, name: 'desktop', secrets: keychain, prf: true });
  const created = await d.createPasskey('dr.loop', code);
  await d.auth.enrollFinish(created.response, created.prfOutput);
  prfOutput = Buffer.from(created.prfOutput!, 'base64url');
  assert.ok(d.auth.session(), 'unlocked after enrollment, sync running');
});

after(async () => {
  await d?.close();
  await browser?.close();
  await renderer?.close();
  await backend?.dispose();
  dir.remove();
  await keychain.cleanup();
});

test('a lock during an in-flight push followed by an unlock never runs two sync loops: one push or upload in flight at a time, the change lands once', async () => {
  // The enrollment's first sync finishes; the change is made while no loop runs.
  await d.auth.stopSync();
  const session = d.auth.session()!;
  const cacheDb = await inspectCache(session, keychain, prfOutput);
  const patientId = cacheDb.prepare('SELECT id FROM patients ORDER BY id LIMIT 1').pluck().get() as string;
  const { conditionId } = await setProblem(session, { patientId, text: 'Recorded while the push is held', status: 'active' }, new Date());

  // The first push waits at the gate; around it, a count of the worker's requests in flight.
  const gate = holdNextCall(d.backend, 'push');
  let inFlight = 0;
  let most = 0;
  const landed: { resolve(): void; promise: Promise<void> } = (() => {
    let resolve!: () => void;
    return { promise: new Promise<void>((r) => (resolve = r)), resolve: () => resolve() };
  })();
  const counted = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, onReply?: (reply: R) => void) =>
    async (...args: A): Promise<R> => {
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        const reply = await fn(...args);
        onReply?.(reply);
        return reply;
      } finally {
        inFlight--;
      }
    };
  const push = d.backend.push.bind(d.backend);
  const upload = d.backend.uploadAudit.bind(d.backend);
  d.backend.push = counted(push, (reply) => {
    if (reply.results.some((r) => r.status === 'applied')) landed.resolve();
  });
  d.backend.uploadAudit = counted(upload);

  // Lock and unlock: the unlock starts the loop, whose first push is held.
  d.auth.lockNow('manual');
  const first = await d.usePasskey();
  await d.auth.signInFinish(first.response, first.prfOutput);
  await gate.reached;
  assert.equal(inFlight, 1, 'the push is in flight');

  d.auth.lockNow('screen-lock');
  assert.equal(d.auth.session(), null, 'locked at once, without waiting for the push');
  const used = await d.usePasskey();
  await d.auth.signInFinish(used.response, used.prfOutput);
  assert.ok(d.auth.session(), 'unlocked again while the first push is still held');
  assert.equal(most, 1, 'no second push beside the held one');

  gate.release();
  await landed.promise;
  // The worker finishes its drain: stopping waits for the loop (the only one).
  await d.auth.stopSync();
  assert.equal(most, 1, 'never two pushes or uploads in flight at once');
  assert.equal((await syncCounts(d.auth.session()!)).waiting, 0, 'the change left the outbox');

  const { db } = openDatabase(backend);
  try {
    const stored = await db.selectFrom('resources').select('version_id').where('resource_type', '=', 'Condition').where('id', '=', conditionId).execute();
    assert.deepEqual(stored.map((r) => String(r.version_id)), ['1'], 'the change reached the backend once');
  } finally {
    await db.destroy();
  }
});
