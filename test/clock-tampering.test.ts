/**
 * Time that cannot be turned back. The idle lock counts monotonic time, so
 * a wall clock set back (or forward) two days neither stops nor hastens it.
 * The offline-days limit is counted from the last online sign-in (the
 * server's time) to the latest time the device has seen, recorded signed by
 * the device key: setting the clock back 30 or 400 days does not extend it,
 * a clock once far ahead is undone only by an online sign-in, and edited or
 * unsigned times count as past the limit. Driven with injected wall and
 * monotonic clocks, real passkeys (Chromium's virtual authenticator), the
 * real backend process and the real gnome-keyring.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { AppError } from '../shared/app-error';
import { AuthService } from '../electron/services/auth-service';
import { BackendClient } from '../electron/services/backend-client';
import { LockMachine, monotonicNow } from '../electron/services/lock-machine';
import { readProfile } from '../electron/services/cache-profile';
import { DAY_MS, recordIsSigned, signRecord, TimeFloor } from '../electron/services/session/latest-time-seen';
import { FALLBACK_POLICY } from '../electron/services/session/passkey-record';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { passkeyDesktop, type PasskeyDesktop } from './support/passkey-desktop';
import { launchChromium, serveRenderer, type RendererServer } from './browser/harness';

const IDLE_MS = 10 * 60_000;

test('the idle lock counts monotonic time: with the wall clock set back two days, or forward, it fires after exactly the idle time', () => {
  for (const jump of [-2 * DAY_MS, 2 * DAY_MS]) {
    let wall = Date.parse('2026-11-25T09:00:00Z');
    let mono = 5_000;
    const m = new LockMachine({ kind: 'signed-out', reason: null }, IDLE_MS, () => wall, () => mono);
    m.unlocked();
    wall += jump;
    mono += IDLE_MS - 1;
    assert.equal(m.isIdle(), false, `not a millisecond early (wall clock moved ${jump / DAY_MS} days)`);
    mono += 1;
    assert.equal(m.isIdle(), true, `fires after exactly the idle time (wall clock moved ${jump / DAY_MS} days)`);
    // Activity after the jump pushes the deadline back by monotonic time too.
    m.activity();
    wall -= 5 * DAY_MS;
    mono += IDLE_MS - 1;
    assert.equal(m.isIdle(), false);
    mono += 1;
    assert.equal(m.isIdle(), true);
  }
});

test('the app locks on idle by monotonic time while its wall clock is set back two days; by default it counts performance.now', () => {
  let wall = Date.now();
  let mono = 0;
  const auth = new AuthService({ dataDir: '/nonexistent', secrets: testKeychain(), backend: new BackendClient('http://127.0.0.1:9'), rpId: 'localhost', origins: [], clock: () => wall, monotonic: () => mono });
  auth.lock.unlocked();
  wall -= 2 * DAY_MS;
  mono += IDLE_MS - 1;
  auth.tick();
  assert.equal(auth.lock.state.kind, 'unlocked');
  mono += 1;
  auth.tick();
  assert.deepEqual(auth.lock.state, { kind: 'locked', reason: 'idle' });
  const production = new AuthService({ dataDir: '/nonexistent', secrets: testKeychain(), backend: new BackendClient('http://127.0.0.1:9'), rpId: 'localhost', origins: [] });
  assert.equal(production.lock.monotonic, monotonicNow, 'without injection, idle time is performance.now, not Date.now');
});

test('while the app runs, time that passed counts even after the clock is set back', () => {
  let mono = 0;
  const floor = new TimeFloor(() => mono);
  const t = Date.parse('2026-11-25T09:00:00Z');
  const times = { lastOnlineAt: t - DAY_MS, latestSeenAt: t };
  assert.equal(floor.latest(t - 30 * DAY_MS, times), t, 'the recorded latest time, not the clock set back');
  floor.recorded(t);
  mono += 3 * DAY_MS;
  assert.equal(floor.latest(t - 30 * DAY_MS, times), t + 3 * DAY_MS, 'plus the monotonic time since it was recorded');
  assert.equal(floor.latest(t + 10 * DAY_MS, times), t + 10 * DAY_MS, 'a later clock reading counts as it is');
});

test('the recorded times, policy and credentials are the device key\'s: edited, moved to another profile or clinician, or unsigned, they are refused', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  const t = Date.parse('2026-11-25T09:00:00Z');
  const credential = { id: 'Y3JlZA', publicKey: 'cHVi', counter: 3, prf: true };
  const base = { clinicianId: 'dr.a', displayName: 'Dr A', credentials: [credential], policy: FALLBACK_POLICY, lastOnlineAt: t };
  const signed = signRecord('profile-a', base, t, t + DAY_MS, privateKey);
  assert.equal(recordIsSigned('profile-a', signed, publicKey), true);
  assert.equal(recordIsSigned('profile-a', JSON.parse(JSON.stringify(signed)), publicKey), true, 'as read back from the keychain');
  assert.equal(recordIsSigned('profile-a', { ...signed, policy: { ...signed.policy } }, publicKey), true, 'key order does not matter');
  assert.equal(recordIsSigned('profile-a', { ...signed, latestSeenAt: t }, publicKey), false, 'latest time lowered');
  assert.equal(recordIsSigned('profile-a', { ...signed, lastOnlineAt: t + DAY_MS }, publicKey), false, 'last online moved later');
  assert.equal(recordIsSigned('profile-b', signed, publicKey), false, 'another profile');
  assert.equal(recordIsSigned('profile-a', { ...signed, clinicianId: 'dr.b' }, publicKey), false, 'another clinician');
  assert.equal(recordIsSigned('profile-a', { ...signed, displayName: 'Dr B' }, publicKey), false, 'another name');
  assert.equal(recordIsSigned('profile-a', { ...signed, policy: { ...FALLBACK_POLICY, offlineDays: 90 } }, publicKey), false, 'offline days raised');
  assert.equal(recordIsSigned('profile-a', { ...signed, policy: { ...FALLBACK_POLICY, idleLockMinutes: 240 } }, publicKey), false, 'idle minutes raised');
  assert.equal(recordIsSigned('profile-a', { ...signed, policy: { ...FALLBACK_POLICY, requirePrf: false } }, publicKey), false, 'PRF no longer required');
  assert.equal(recordIsSigned('profile-a', { ...signed, credentials: [{ ...credential, publicKey: 'b3RoZXI' }] }, publicKey), false, 'credential key swapped');
  assert.equal(recordIsSigned('profile-a', { ...signed, credentials: [{ ...credential, counter: 0 }] }, publicKey), false, 'counter lowered');
  assert.equal(recordIsSigned('profile-a', { ...signed, credentials: [credential, { ...credential, id: 'bWluZQ' }] }, publicKey), false, 'credential added');
  assert.equal(recordIsSigned('profile-a', signed, other.publicKey), false, 'another device key');
  assert.equal(recordIsSigned('profile-a', { ...base }, publicKey), false, 'unsigned');
  assert.equal(signRecord('profile-a', base, t, t - DAY_MS, privateKey).latestSeenAt, t, 'the latest time is never below the last online time');
});

// The whole app: enrollment and online sign-ins against the real backend, offline unlocks with it stopped.
const dir = scratchDir('clock-tampering');
const keychain = testKeychain();
let browser: Browser;
let renderer: RendererServer;
let backend: BackendProcess;
let d: PasskeyDesktop;
let code: string;
let now = Date.now();
let mono = 0;

before(async () => {
  [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
  backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: [renderer.origin] });
  backend.admin(['add-clinician', 'dr.clock', '--name', 'Dr Clock', '--assign-all']);
  code = backend.admin(['enroll-code', 'dr.clock']);
});
after(async () => {
  await d?.page.close();
  await browser?.close();
  await renderer?.close();
  await backend?.dispose();
  dir.remove();
  await keychain.cleanup();
});

const isOfflineTooLong = (e: unknown) => e instanceof AppError && e.code === 'OFFLINE_TOO_LONG';

/** A passkey unlock of `app` (the running app by default) with the device clock at `at`; locks again afterwards. */
async function unlockAt(at: number, app: AuthService = d.auth): Promise<{ offline: boolean }> {
  now = at;
  const { options } = await app.signInBegin();
  const used = (await d.page.evaluate(
    (o) => (globalThis as never as { __webauthn: { usePasskey(o: unknown): Promise<unknown> } }).__webauthn.usePasskey(o),
    options as unknown,
  )) as { response: Parameters<AuthService['signInFinish']>[0]; prfOutput?: string };
  try {
    const done = await app.signInFinish(used.response, used.prfOutput);
    assert.ok(app.session(), 'unlocked');
    return { offline: done.offline };
  } finally {
    app.lockNow('manual');
    await app.stopSync();
  }
}

async function refusedAt(at: number, message = /offline for more than 7 days/, app: AuthService = d.auth): Promise<void> {
  await assert.rejects(unlockAt(at, app), (e: unknown) => isOfflineTooLong(e) && message.test((e as AppError).message));
  assert.equal(app.session(), null, 'nothing opened');
}

/** The app started again on the same data folder and keychain: what it remembered in memory is gone. */
async function restartedApp(): Promise<AuthService> {
  await d.auth.quit(1000);
  const app = new AuthService({ dataDir: d.dataDir, secrets: keychain, backend: d.backend, rpId: 'localhost', origins: [renderer.origin], clock: () => now, monotonic: () => mono });
  await app.start();
  return app;
}

async function online<T>(fn: () => Promise<T>): Promise<T> {
  await backend.start();
  try {
    return await fn();
  } finally {
    await backend.stop();
  }
}

let t0 = 0;

test('enrolls online: the offline-days clock starts at the server\'s time (setup)', { timeout: 120_000 }, async () => {
  d = await passkeyDesktop({ browser, origin: renderer.origin, backendUrl: backend.url, dir: dir.path, name: 'desktop', secrets: keychain, prf: true, clock: () => now, monotonic: () => mono });
  const created = await d.createPasskey('dr.clock', code);
  await d.auth.enrollFinish(created.response, created.prfOutput);
  d.auth.lockNow('manual');
  await d.auth.stopSync();
  t0 = now;
  await backend.stop();
  assert.equal((await unlockAt(t0 + 3 * DAY_MS)).offline, true, 'three days offline: unlocks');
});

test('clock set back 30 days after 3 days offline: still unlocks (3 days seen); after 8 days offline it is refused, and setting the clock back 30 or 400 days does not undo that', { timeout: 120_000 }, async () => {
  await unlockAt(t0 + 3 * DAY_MS - 30 * DAY_MS);
  await refusedAt(t0 + 8 * DAY_MS);
  await refusedAt(t0 + 8 * DAY_MS - 30 * DAY_MS);
  await refusedAt(t0 + 8 * DAY_MS - 400 * DAY_MS);
  await refusedAt(t0 - 400 * DAY_MS);
});

test('an online sign-in resets the offline days to the server\'s time, whatever the device clock says', { timeout: 120_000 }, async () => {
  assert.equal((await online(() => unlockAt(t0 - 400 * DAY_MS))).offline, false);
  assert.equal((await unlockAt(Date.now() - 400 * DAY_MS)).offline, true, 'offline again right after: unlocks');
  assert.equal((await unlockAt(Date.now() + 6 * DAY_MS)).offline, true, 'six days on: unlocks');
  await refusedAt(Date.now() + 8 * DAY_MS);
  // A clock held back while the app runs: the monotonic time that passed still counts.
  assert.equal((await online(() => unlockAt(Date.now()))).offline, false);
  mono += 8 * DAY_MS;
  await refusedAt(Date.now());
});

test('a clock set forward then back: the time it showed counts until the next online sign-in, which is the way back', { timeout: 120_000 }, async () => {
  await online(() => unlockAt(Date.now()));
  assert.equal((await unlockAt(Date.now() + 5 * DAY_MS)).offline, true, 'forward 5 days: unlocks');
  assert.equal((await unlockAt(Date.now())).offline, true, 'back: 5 days seen, still within 7');
  await refusedAt(Date.now() + 400 * DAY_MS);
  await refusedAt(Date.now(), /offline for more than 7 days/);
  assert.equal((await online(() => unlockAt(Date.now()))).offline, false, 'online sign-in: the way back');
  assert.equal((await unlockAt(Date.now())).offline, true, 'offline unlock works again');
});

test('edited or removed times in the keychain are refused as past the limit; an online sign-in repairs them', { timeout: 120_000 }, async () => {
  const account = `${readProfile(d.dataDir)!.profileId}/passkeys`;
  const original = JSON.parse((await keychain.get(account))!) as Record<string, unknown>;
  await refusedAt(Date.now() + 8 * DAY_MS);
  const refused = JSON.parse((await keychain.get(account))!) as { lastOnlineAt: number; latestSeenAt: number };
  assert.ok(refused.latestSeenAt >= refused.lastOnlineAt + 8 * DAY_MS, 'the refused reading was recorded');

  // Lowering the recorded latest time (keeping the old signature): the running app remembers what it saw...
  await keychain.set(account, JSON.stringify({ ...refused, latestSeenAt: refused.lastOnlineAt }));
  await refusedAt(Date.now());
  // ...and an app started again catches it once the passkey opens the device key.
  const app = await restartedApp();
  await refusedAt(Date.now(), /cannot confirm how long/, app);
  // Moving the last online time later is caught the same way.
  await keychain.set(account, JSON.stringify({ ...refused, lastOnlineAt: refused.latestSeenAt }));
  await refusedAt(Date.now(), /cannot confirm how long/, app);
  // Unsigned times (as an older record, or with the signature removed) are refused before the ceremony.
  const { recordSignature: _dropped, latestSeenAt: _also, ...unsigned } = original;
  await keychain.set(account, JSON.stringify(unsigned));
  await assert.rejects(app.signInBegin(), (e: unknown) => isOfflineTooLong(e) && /cannot confirm how long/.test((e as AppError).message));

  assert.equal((await online(() => unlockAt(Date.now(), app))).offline, false, 'online sign-in repairs the record');
  assert.equal((await unlockAt(Date.now() + DAY_MS, app)).offline, true);
  await app.quit(1000);
});

test('an edited policy (offline days, idle minutes, PRF required) or an added or changed credential in the keychain is refused offline; an online sign-in repairs it', { timeout: 180_000 }, async () => {
  const app = new AuthService({ dataDir: d.dataDir, secrets: keychain, backend: d.backend, rpId: 'localhost', origins: [renderer.origin], clock: () => now, monotonic: () => mono });
  await app.start();
  const account = `${readProfile(d.dataDir)!.profileId}/passkeys`;
  const t1 = Date.now();
  assert.equal((await online(() => unlockAt(t1, app))).offline, false);
  const signed = (await keychain.get(account))!;
  // The tester's attack: only policy.offlineDays raised from 7 to 90, then 60 days offline.
  const edit = async (change: (r: Record<string, any>) => void) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const r = JSON.parse(signed) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    change(r);
    await keychain.set(account, JSON.stringify(r));
  };
  await edit((r) => (r.policy.offlineDays = 90));
  await refusedAt(t1 + 60 * DAY_MS, /cannot confirm how long/, app);
  // Within the days, every field an offline unlock relies on is covered too.
  const edits: Array<[string, (r: Record<string, any>) => void]> = [ // eslint-disable-line @typescript-eslint/no-explicit-any
    ['offline days', (r) => (r.policy.offlineDays = 90)],
    ['idle minutes', (r) => (r.policy.idleLockMinutes = 240)],
    ['PRF required', (r) => (r.policy.requirePrf = false)],
    ['credential added', (r) => r.credentials.push({ ...r.credentials[0], id: 'YXR0YWNrZXI' })],
    ['name', (r) => (r.displayName = 'Someone Else')],
  ];
  for (const [what, change] of edits) {
    await edit(change);
    await assert.rejects(unlockAt(t1 + DAY_MS, app), (e: unknown) => isOfflineTooLong(e) && /cannot confirm how long/.test((e as AppError).message), what);
    assert.equal(app.session(), null, `nothing opened (${what})`);
  }
  // Unedited, the same record still unlocks offline; an edited one is repaired by an online sign-in.
  await keychain.set(account, signed);
  assert.equal((await unlockAt(t1 + DAY_MS, app)).offline, true, 'the record as signed unlocks');
  await edit((r) => (r.policy.offlineDays = 90));
  assert.equal((await online(() => unlockAt(t1 + DAY_MS, app))).offline, false);
  const repaired = JSON.parse((await keychain.get(account))!) as { policy: { offlineDays: number } };
  assert.equal(repaired.policy.offlineDays, 7, 'the organisation\'s policy again');
  assert.equal((await unlockAt(t1 + 2 * DAY_MS, app)).offline, true, 'offline unlock works again');
  await refusedAt(t1 + 8 * DAY_MS, /offline for more than 7 days/, app);
  await app.quit(1000);
});
