/**
 * Sign-in and enrollment pull at most one page of the change feed before the
 * workspace appears; the sync worker, started at once, brings the rest with
 * its progress (the run's first page asks for the estimate, so the bar has
 * its total). Against the real backend process (seeded with 8,505 resources
 * of 5 patients: five pages of at most 2,000), a real cache, the real
 * keychain and real passkeys (Chromium's virtual authenticator). A real HTTP
 * server in front of the backend counts the pulls and holds chosen answers
 * until the test has looked (events, never sleeps). The story: enrollment
 * returns with one page; the worker's run shows its progress and a lock in
 * the middle of it ends it cleanly; the next sign-in returns with one more
 * page; the worker brings the rest. A device revoked at the backend is still
 * wiped at sign-in (the backend refuses its passkey; no pull is needed).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { AppError } from '../shared/app-error';
import type { SyncProgress } from '../shared/contract';
import { PULL_PATH } from '../shared/sync-api';
import { cacheKeyAccount } from '../electron/services/device-keys';
import { readProfile } from '../electron/services/cache-profile';
import { openDatabase } from '../server/database';
import { revokeDevice } from '../server/organisation/organisation';
import { inspectCache } from './support/cache-inspect';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';
import { startBackend, type BackendProcess } from './support/backend-process';
import { startInterposer, type Interposer } from './support/http-interposer';
import { passkeyDesktop, type PasskeyDesktop } from './support/passkey-desktop';
import { syntheticPatientBundle } from './support/synthetic-bundles';
import { launchChromium, serveRenderer, type RendererServer } from './browser/harness';
import { gate } from './support/gate';
import { followProgress } from './support/progress-follower';

const PATIENTS = ['page-p1', 'page-p2', 'page-p3', 'page-p4', 'page-p5'];
const OBSERVATIONS = 1700;
const TOTAL = PATIENTS.length * (OBSERVATIONS + 1);
const PAGE = 2000;

const dir = scratchDir('sign-in-first-page');
const keychain = testKeychain();
let browser: Browser;
let renderer: RendererServer;
let backend: BackendProcess;
let front: Interposer;
let code: string;
let d: PasskeyDesktop;
/** The pull requests the desktop made, as sent (path and query). */
const pulls: string[] = [];
/** Held answers: the nth pull answer (from 0) waits at gates[n] when there is one. */
const gates: Array<ReturnType<typeof gate> | undefined> = [];

before(async () => {
  const bundles = join(dir.path, 'bundles');
  mkdirSync(bundles);
  for (const patientId of PATIENTS) writeFileSync(join(bundles, `${patientId}.json`), JSON.stringify(syntheticPatientBundle({ patientId, observations: OBSERVATIONS })));
  [browser, renderer] = await Promise.all([launchChromium(), serveRenderer()]);
  backend = await startBackend({ dataDir: join(dir.path, 'backend'), origins: [renderer.origin], bundles: [bundles] });
  backend.admin(['add-clinician', 'dr.page', '--name', 'Dr Page']);
  // One assignment each: each patient's records get a change number of their own (see sync-progress.test.ts).
  for (const patientId of PATIENTS) backend.admin(['assign', 'dr.page', patientId]);
  backend.admin(['set-policy', 'undoSeconds', '0']); // about pulls, not the undo window
  // Made before any request: an admin command blocks this process (see key-theft.test.ts).
  code = backend.admin(['enroll-code', 'dr.page']);
  front = await startInterposer(backend.url);
  front.handle(async (exchange, forward) => {
    if (exchange.path !== PULL_PATH) return forward();
    const n = pulls.push(exchange.url) - 1;
    const answer = await forward();
    const held = gates[n];
    if (held) {
      held.arrive();
      await held.opened;
    }
    return answer;
  });
});

after(async () => {
  for (const g of gates) g?.open();
  await d?.close();
  await front?.close();
  await browser?.close();
  await renderer?.close();
  await backend?.dispose();
  dir.remove();
  await keychain.cleanup();
});

const asksEstimate = (url: string) => /[?&]estimate=1(&|$)/.test(url);

/** The PRF output of the desktop's passkey (the same at every ceremony): the keys in the keychain are bound to it. */
let prfOutput: Buffer | undefined;

/** Counted through the test's own connection to the unlocked session's cache file (its keys unwrapped with the passkey's PRF output). */
async function cachedResources(): Promise<number> {
  const session = d.auth.session();
  assert.ok(session, 'unlocked');
  const db = await inspectCache(session, keychain, prfOutput);
  return db.prepare('SELECT count(*) FROM resources').pluck().get() as number;
}

const prfOf = (ceremony: { prfOutput?: string }) => (ceremony.prfOutput ? Buffer.from(ceremony.prfOutput, 'base64url') : undefined);

/** Which comes first: the unlock returning, or the desktop asking for pull answer n (held). */
async function firstOf(unlock: Promise<unknown>, n: number): Promise<'unlocked' | 'pulled on'> {
  return Promise.race([unlock.then(() => 'unlocked' as const), gates[n]!.reached.then(() => 'pulled on' as const)]);
}

test('enrollment returns after one page; the sync worker starts at once and brings the rest with its progress; a lock during it ends it cleanly', async () => {
  d = await passkeyDesktop({ browser, origin: renderer.origin, backendUrl: front.url, dir: dir.path, name: 'desktop', secrets: keychain, prf: true });
  const progress = followProgress(d.auth.syncState());
  gates[1] = gate();
  gates[2] = gate();
  try {
    const created = await d.createPasskey('dr.page', code);
    prfOutput = prfOf(created);
    const enrolling = d.auth.enrollFinish(created.response, created.prfOutput);
    assert.equal(await firstOf(enrolling, 1), 'unlocked', 'the workspace appears after one page, not after the whole feed');
    assert.equal(d.auth.lock.state.kind, 'unlocked');
    assert.equal(await cachedResources(), PAGE, 'one page in the cache when enrollment returns');
    assert.ok(!asksEstimate(pulls[0]!), 'enrollment\'s one page asks for no estimate (nobody would see it)');

    // The sync worker's run begins at once (no poll interval): its first pull asks for the estimate.
    await gates[1].reached;
    assert.equal(pulls.length, 2);
    assert.ok(asksEstimate(pulls[1]!), 'the worker\'s run asks for the estimate on its first page');
    gates[1].open();

    await gates[2].reached;
    const shown = await progress.reach(PAGE);
    assert.equal(shown.resources, PAGE, 'the worker\'s first page, applied (its second, asked for meanwhile, is held)');
    assert.equal(shown.resourcesTotal, TOTAL - PAGE, 'the run\'s size from its first page\'s estimate (what enrollment left)');
    assert.ok(asksEstimate(pulls[1]!) && !asksEstimate(pulls[2]!));

    // A lock while the worker's next page is on its way: the run ends, nothing more is written, the progress clears.
    const ended = progress.ended();
    d.auth.lockNow('manual');
    gates[2].open();
    await ended;
    await d.auth.stopSync();
    assert.equal(d.auth.session(), null, 'locked');
    assert.equal(d.auth.syncState().progress, null, 'no progress left showing');
    assert.equal(pulls.length, 3, 'the page held at the lock came, and no page was asked for after it: a locked device asks for nothing');
  } finally {
    gates[1]?.open();
    gates[2]?.open();
  }
});

test('sign-in returns after one page; the sync worker starts at once and brings the rest with its progress', async () => {
  const progress = followProgress(d.auth.syncState());
  const from = pulls.length; // the sign-in's pull
  gates[from + 1] = gate();
  gates[from + 2] = gate();
  try {
    const used = await d.usePasskey();
    prfOutput = prfOf(used);
    const signingIn = d.auth.signInFinish(used.response, used.prfOutput);
    assert.equal(await firstOf(signingIn, from + 1), 'unlocked', 'the workspace appears after one page, not after the whole feed');
    assert.equal(d.auth.lock.state.kind, 'unlocked');
    // Two pages from before the lock (the page the lock cut off was not written), and the sign-in's one.
    assert.equal(await cachedResources(), 3 * PAGE, 'one more page in the cache when sign-in returns');
    assert.ok(!asksEstimate(pulls[from]!), 'the sign-in\'s page asks for no estimate');

    await gates[from + 1]!.reached;
    assert.ok(asksEstimate(pulls[from + 1]!), 'the worker\'s run asks for the estimate on its first page');
    gates[from + 1]!.open();

    await gates[from + 2]!.reached;
    const shown = await progress.reach(PAGE);
    assert.deepEqual([shown.resources, shown.resourcesTotal], [PAGE, TOTAL - 3 * PAGE], 'counts and the run\'s size (what sign-in left)');
    const ended = progress.ended();
    gates[from + 2]!.open();
    await ended;

    assert.equal(await cachedResources(), TOTAL, 'the whole feed in the cache once the worker\'s run ends');
    assert.equal(d.auth.syncState().progress, null);
    assert.equal(pulls.length, from + 3, 'one page at sign-in, two in the worker\'s run');
    assert.ok(progress.seen.filter((p): p is SyncProgress => p !== null).every((p) => p.resourcesTotal === TOTAL - 3 * PAGE));
  } finally {
    gates[from + 1]?.open();
    gates[from + 2]?.open();
  }
});

test('a device revoked at the backend is still wiped at sign-in: keychain entries first, then the files', async () => {
  await d.auth.stopSync();
  d.auth.lockNow('manual');
  const profileId = readProfile(d.dataDir)!.profileId;
  const { db } = openDatabase(backend);
  try {
    assert.equal(await revokeDevice(db, profileId, () => new Date()), true);
  } finally {
    await db.destroy();
  }
  const used = await d.usePasskey();
  await assert.rejects(d.auth.signInFinish(used.response, used.prfOutput), (e: unknown) => e instanceof AppError && e.code === 'DEVICE_REVOKED');
  const status = await d.auth.status();
  assert.equal(status.state, 'signed-out');
  assert.match(status.reason ?? '', /revoked/);
  assert.equal(await keychain.get(cacheKeyAccount(profileId)), null, 'keys gone');
  assert.equal(existsSync(d.dataDir) ? readdirSync(d.dataDir).length : 0, 0, 'files gone');
});
