/**
 * Lock wins: a screen lock, sleep or quit that arrives while a sign-in,
 * unlock or enrollment is under way (awaiting the keychain, the backend or
 * the pull) aborts it. The cache stays closed, the keys and the token are
 * dropped and the token is logged out at the backend. Driven with a real
 * gnome-keyring whose reads the test holds at a gate and releases (no
 * sleeps), the real backend process, real passkeys (Chromium's virtual
 * authenticator), and an injected clock for the idle lock.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import keytar from 'keytar';
import type { Browser } from 'playwright-core';
import { AppError } from '../shared/app-error';
import { BackendClient, isSessionEnded } from '../electron/services/backend-client';
import { cacheKeyAccount } from '../electron/services/device-keys';
import { readProfile } from '../electron/services/cache-profile';
import { setProblem } from '../electron/services/charting';
import { syncCounts } from '../electron/services/outbox';
import { openDatabase } from '../server/database';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { passkeyDesktop, slowKeychain, type PasskeyDesktop } from './support/passkey-desktop';
import { holdNextCall } from './support/held-call';
import { launchChromium, serveRenderer, type RendererServer } from './browser/harness';

const dir = scratchDir('lock-race');
const keychain = testKeychain();
const slow = slowKeychain(keychain);
let browser: Browser;
let renderer: RendererServer;
let backend: BackendProcess;
let now = Date.parse('2026-11-25T09:00:00Z');
let codes: { race: string; late: string };

before(async () => {
  [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
  backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: [renderer.origin] });
  backend.admin(['add-clinician', 'dr.race', '--name', 'Dr Race', '--assign-all']);
  backend.admin(['add-clinician', 'dr.late', '--name', 'Dr Late', '--assign-all']);
  backend.admin(['set-policy', 'undoSeconds', '0']); // about locks, not the undo window
  // Codes made before any request (an admin command blocks this process; see key-theft.test.ts).
  codes = { race: backend.admin(['enroll-code', 'dr.race']), late: backend.admin(['enroll-code', 'dr.late']) };
});
after(async () => {
  await browser?.close();
  await renderer?.close();
  await backend?.dispose();
  dir.remove();
  await keychain.cleanup();
});

const isLocked = (e: unknown) => e instanceof AppError && e.code === 'LOCKED';

async function assertLoggedOut(d: PasskeyDesktop, token: string | undefined): Promise<void> {
  assert.ok(token, 'the backend gave the attempt a token');
  await d.auth.desktop.logoutsSettled(10_000);
  assert.ok(d.backend.loggedOut.includes(token), 'the aborted attempt\'s token was logged out');
  await assert.rejects(new BackendClient(backend.url).me(token), (e: unknown) => isSessionEnded(e), 'the backend no longer takes that token');
}

let d: PasskeyDesktop;

test('enrolls with a PRF passkey (setup for the races below)', async () => {
  d = await passkeyDesktop({ browser, origin: renderer.origin, backendUrl: backend.url, dir: dir.path, name: 'desktop', secrets: slow, prf: true, clock: () => now });
  const created = await d.createPasskey('dr.race', codes.race);
  const enrolled = await d.auth.enrollFinish(created.response, created.prfOutput);
  assert.equal(enrolled.prfBound, true);
  assert.ok(d.auth.session(), 'unlocked after enrollment');
  await d.auth.stopSync();
  d.auth.lockNow('manual');
  assert.equal(d.auth.session(), null);
});

test('a screen lock that arrives while an online sign-in reads the keychain aborts it: cache closed, keys and token dropped and logged out', async () => {
  const used = await d.usePasskey();
  const gate = slow.holdNextGet((account) => account.endsWith('/cache-key'));
  const finishing = d.auth.signInFinish(used.response, used.prfOutput);
  await gate.reached;
  assert.equal(d.auth.lock.state.kind, 'unlocking', 'the sign-in is under way, waiting on the keychain');
  assert.equal((await d.auth.status()).state, 'locked', 'shown as locked until it finishes');
  d.auth.lockNow('screen-lock');
  gate.release();
  await assert.rejects(finishing, isLocked);
  assert.equal(d.auth.session(), null, 'no cache open');
  assert.deepEqual(d.auth.lock.state, { kind: 'locked', reason: 'screen-lock' });
  assert.equal(d.auth.problem()?.code, 'LOCKED');
  await assertLoggedOut(d, d.backend.tokens.at(-1));
});

test('sleep during the pull of an online sign-in aborts it: the cache it had opened is closed', async () => {
  const pull = holdNextCall(d.backend, 'pullAnswer');
  try {
    const used = await d.usePasskey();
    const finishing = d.auth.signInFinish(used.response, used.prfOutput);
    await pull.reached;
    assert.ok(existsSync(join(d.dataDir, 'cache.db-wal')), 'the attempt has the database open (its WAL is there)');
    assert.equal(d.auth.session(), null, 'an unlock under way hands out no cache');
    d.auth.lockNow('sleep');
    // The lock closes the attempt's store at once (its calls refused); the worker closes the database behind it.
    await d.auth.desktop.cachesClosed();
    assert.equal(existsSync(join(d.dataDir, 'cache.db-wal')), false, 'the lock closed the database (last connection gone, WAL folded in)');
    pull.release();
    await assert.rejects(finishing, isLocked);
    assert.equal(d.auth.session(), null);
    assert.deepEqual(d.auth.lock.state, { kind: 'locked', reason: 'sleep' });
    await assertLoggedOut(d, d.backend.tokens.at(-1));
  } finally {
    pull.restore();
  }
});

test('after an aborted sign-in the next one unlocks; the idle lock then counts from the unlock (injected clock)', async () => {
  const used = await d.usePasskey();
  now += 60 * 60_000;
  await d.auth.signInFinish(used.response, used.prfOutput);
  assert.ok(d.auth.session(), 'unlocked');
  now += 9 * 60_000;
  d.auth.tick();
  assert.ok(d.auth.session(), 'not idle yet at 9 minutes');
  now += 60_000;
  d.auth.tick();
  assert.equal(d.auth.session(), null, 'locked at the policy\'s 10 minutes');
  assert.deepEqual(d.auth.lock.state, { kind: 'locked', reason: 'idle' });
  await d.auth.desktop.logoutsSettled(10_000);
  const token = d.backend.tokens.at(-1)!;
  assert.ok(d.backend.loggedOut.includes(token), 'an idle lock logs the session out too');
});

test('quit during enrollment while the keychain is slow aborts it: not enrolled, nothing left in the keychain or on disk', async () => {
  const late = await passkeyDesktop({ browser, origin: renderer.origin, backendUrl: backend.url, dir: dir.path, name: 'late', secrets: slow, prf: true, clock: () => now });
  try {
    const entriesBefore = (await keytar.findCredentials(keychain.service)).length;
    const created = await late.createPasskey('dr.late', codes.late);
    // The read-back of the freshly written keys waits at the gate.
    const gate = slow.holdNextGet((account) => account.endsWith('/cache-key'));
    const finishing = late.auth.enrollFinish(created.response, created.prfOutput);
    await gate.reached;
    late.auth.lockNow('quit');
    gate.release();
    await assert.rejects(finishing, isLocked);
    assert.equal(late.auth.session(), null);
    const status = await late.auth.status();
    assert.equal(status.state, 'signed-out');
    assert.equal(status.enrolled, false);
    assert.equal(existsSync(late.dataDir) ? readdirSync(late.dataDir).length : 0, 0, 'no cache files');
    assert.equal((await keytar.findCredentials(keychain.service)).length, entriesBefore, 'no keychain entry left behind');
    await assertLoggedOut(late, late.backend.tokens.at(-1));
  } finally {
    await late.close();
  }
});

/** Waits for a condition the app reaches on its own (background sync), checking on each timer turn, up to a deadline. */
async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('the backend ends the session (idle expiry): nothing is wiped, the app stays unlocked and work goes out on a device-key session', async () => {
  const used = await d.usePasskey();
  await d.auth.signInFinish(used.response, used.prfOutput);
  const passkeyToken = d.backend.tokens.at(-1)!;
  const session = d.auth.session()!;
  // The server forgets the session (as its idle expiry does); the desktop is not told.
  assert.equal(await new BackendClient(backend.url).logout(passkeyToken), true);
  const cacheDb = await inspectCache(session, keychain, Buffer.from(used.prfOutput!, 'base64url'));
  const patientId = cacheDb.prepare('SELECT id FROM patients ORDER BY id LIMIT 1').pluck().get() as string;
  const { conditionId } = await setProblem(session, { patientId, text: 'Recorded after the server session ended', status: 'active' }, new Date());
  d.auth.nudgeSync();
  await until(async () => (await syncCounts(session)).waiting === 0, 'the change to go out');
  assert.equal(d.auth.session(), session, 'still unlocked, same cache');
  assert.ok(await keychain.get(cacheKeyAccount(session.profile.profileId)), 'nothing wiped');
  const status = await d.auth.status();
  assert.equal(status.state, 'unlocked');
  assert.equal(status.online, false, 'no passkey session any more: shown as such until the next sign-in');
  assert.notEqual(d.backend.tokens.at(-1), passkeyToken, 'a new (device-key, sync-only) session carried the change');
  const devices = await d.auth.devices().then(() => 'listed', (e: unknown) => (e instanceof AppError ? e.code : 'other'));
  assert.equal(devices, 'SIGN_IN_REFUSED', 'what needs a passkey session asks for a sign-in');
  const { db } = openDatabase(backend);
  try {
    const stored = await db.selectFrom('resources').select('json').where('resource_type', '=', 'Condition').where('id', '=', conditionId).execute();
    assert.equal(stored.length, 1, 'the change reached the backend once');
  } finally {
    await db.destroy();
  }
  await d.auth.stopSync();
  d.auth.lockNow('manual');
});

test('the desktop ends: quit locks and logs out', async () => {
  const used = await d.usePasskey();
  await d.auth.signInFinish(used.response, used.prfOutput);
  const token = d.backend.tokens.at(-1)!;
  await d.auth.quit();
  assert.equal(d.auth.session(), null);
  assert.deepEqual(d.auth.lock.state, { kind: 'locked', reason: 'quit' });
  assert.ok(d.backend.loggedOut.includes(token));
  await assert.rejects(new BackendClient(backend.url).me(token), (e: unknown) => isSessionEnded(e));
});

test('a revocation that arrives during the pull of a sign-in aborts it and wipes: keychain entries first, then the files', async () => {
  const pull = holdNextCall(d.backend, 'pullAnswer');
  const used = await d.usePasskey();
  const finishing = d.auth.signInFinish(used.response, used.prfOutput);
  await pull.reached;
  const profileId = readProfile(d.dataDir)!.profileId;
  // What the periodic revocation check (or the devices panel) does when the backend says "revoked".
  const wiping = d.auth.wipe('IT has revoked this device.');
  pull.release();
  await assert.rejects(finishing, isLocked);
  await wiping;
  assert.equal(d.auth.session(), null);
  const status = await d.auth.status();
  assert.equal(status.state, 'signed-out');
  assert.equal(status.reason, 'IT has revoked this device.');
  assert.equal(await keychain.get(cacheKeyAccount(profileId)), null, 'keys gone');
  assert.equal(existsSync(d.dataDir) ? readdirSync(d.dataDir).length : 0, 0, 'files gone');
  await assertLoggedOut(d, d.backend.tokens.at(-1));
  await d.page.close();
});
