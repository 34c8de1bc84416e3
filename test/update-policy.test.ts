/**
 * When an update is offered and when it installs: updates off by policy or
 * without an address or a compiled-in key; a pinned version holds (never a
 * later one); a staged release reaches only machines whose stored bucket is
 * inside its percentage, and the bucket is created once and kept; checks
 * at start and on the injected timer; a ready update never installs during a
 * consultation, and not with unsent changes unless the clinician accepts it,
 * and it does not install itself on quit while changes wait. Against a real
 * loopback update server and electron-updater's download path run under Node.
 */
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../shared/app-error';
import { createUpdateService, STAGING_BUCKET_FILE, type IntervalTimer, type UpdateService } from '../electron/services/update/update-service';
import { decideUpdate, type UpdatePolicy } from '../electron/services/update/update-decision';
import { readOrCreateBucket } from '../electron/services/update/staging-bucket';
import { electronUpdaterDownloader } from '../electron/update-glue';
import { scratchDir } from './support/scratch';
import { publishRelease, releaseManifest, startUpdateServer, throwawayUpdateKeys, type UpdateServer } from './support/update-server';
import { NodeRunUpdater } from './support/update-node-runner';

const CHANNEL = 'latest-linux.yml';
const keys = throwawayUpdateKeys();
const installer = (version: string) => Buffer.from(`#!/bin/sh\necho clinician desktop ${version}\n`);
const name = (version: string) => `Clinician-Desktop-${version}.AppImage`;

let server: UpdateServer;
let scratch: ReturnType<typeof scratchDir>;
let updater: NodeRunUpdater;
let consultation: boolean;
let waiting: number | null;

beforeEach(async () => {
  server = await startUpdateServer();
  scratch = scratchDir('update-policy');
  updater = new NodeRunUpdater(scratch.path, '0.1.0');
  consultation = false;
  waiting = 0;
});
afterEach(async () => {
  await server.close();
  scratch.remove();
});

function release(version: string, extra: { stagingPercentage?: number } = {}): void {
  server.put(name(version), installer(version));
  publishRelease(server, CHANNEL, releaseManifest(version, name(version), installer(version), extra), keys.privateKeyPem);
}

function service(policy: Partial<UpdatePolicy> = {}, extra: { publicKey?: string; timer?: IntervalTimer } = {}): UpdateService {
  return createUpdateService({
    currentVersion: '0.1.0',
    policy: { updatesEnabled: true, updateUrl: server.url, updateTargetVersion: null, ...policy },
    publicKey: extra.publicKey ?? keys.publicKeyBase64,
    dataDir: scratch.path,
    channelFile: CHANNEL,
    downloader: electronUpdaterDownloader(updater),
    consultationActive: () => consultation,
    waitingChanges: async () => waiting,
    timer: extra.timer,
  });
}

function setBucket(value: number): void {
  writeFileSync(join(scratch.path, STAGING_BUCKET_FILE), `${value.toFixed(6)}\n`);
}

async function readyService(): Promise<UpdateService> {
  release('0.2.0');
  const updates = service();
  await updates.checkNow();
  assert.equal((await updates.status()).state, 'ready');
  return updates;
}

function deferred(err: unknown): boolean {
  return err instanceof AppError && err.code === 'UPDATE_DEFERRED';
}

describe('update policy', () => {
  test('updates turned off by policy: state off with the reason, no request made', async () => {
    release('0.2.0');
    const updates = service({ updatesEnabled: false });
    updates.start();
    await updates.checkNow();
    updates.stop();
    assert.equal((await updates.status()).state, 'off');
    assert.match((await updates.status()).message ?? '', /turned off by your organisation/);
    assert.deepEqual(server.requests, []);
  });

  test('no update address: off, saying so', async () => {
    const updates = service({ updateUrl: null });
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'off');
    assert.match((await updates.status()).message ?? '', /No update address/);
  });

  test('a build without a compiled-in public key cannot verify updates, so they are off', async () => {
    release('0.2.0');
    const updates = service({}, { publicKey: '' });
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'off');
    assert.match((await updates.status()).message ?? '', /cannot verify updates/);
    assert.deepEqual(server.requests, []);
  });

  test('a pinned version holds: a later version is not offered, the pinned one is', async () => {
    release('0.3.0');
    const pinned = service({ updateTargetVersion: '0.2.0' });
    await pinned.checkNow();
    assert.equal((await pinned.status()).state, 'idle');
    assert.equal((await pinned.status()).availableVersion, null);
    assert.match((await pinned.status()).message ?? '', /keeps this app at version 0\.2\.0/);
    assert.ok(!server.requests.some((path) => path.endsWith('.AppImage')));
    release('0.2.0');
    await pinned.checkNow();
    assert.equal((await pinned.status()).state, 'ready');
    assert.equal((await pinned.status()).availableVersion, '0.2.0');
  });

  test('a pinned version below the running one is a refused downgrade', async () => {
    const older = createUpdateService({
      currentVersion: '0.3.0',
      policy: { updatesEnabled: true, updateUrl: server.url, updateTargetVersion: '0.2.0' },
      publicKey: keys.publicKeyBase64,
      dataDir: scratch.path,
      channelFile: CHANNEL,
      downloader: electronUpdaterDownloader(new NodeRunUpdater(scratch.path, '0.3.0')),
      consultationActive: () => false,
      waitingChanges: async () => 0,
    });
    release('0.2.0');
    await older.checkNow();
    assert.equal((await older.status()).state, 'failed');
    assert.match((await older.status()).message ?? '', /older version/);
    assert.ok(!server.requests.some((path) => path.endsWith('.AppImage')));
  });

  test('a staged release is not offered to a machine outside its percentage, and is to one inside', async () => {
    release('0.2.0', { stagingPercentage: 10 });
    setBucket(42.5);
    const outside = service();
    await outside.checkNow();
    assert.equal((await outside.status()).state, 'idle');
    assert.ok(!server.requests.some((path) => path.endsWith('.AppImage')));
    setBucket(3.25);
    const inside = service();
    await inside.checkNow();
    assert.equal((await inside.status()).state, 'ready');
    assert.equal((await inside.status()).availableVersion, '0.2.0');
  });

  test('the staging bucket is random, created once in the data folder and kept', () => {
    const file = join(scratch.path, 'nested', STAGING_BUCKET_FILE);
    const first = readOrCreateBucket(file);
    assert.ok(first >= 0 && first < 100);
    assert.equal(readOrCreateBucket(file), first);
    assert.equal(Number(readFileSync(file, 'utf8')), first);
    const others = new Set(Array.from({ length: 20 }, (_, i) => readOrCreateBucket(join(scratch.path, `b${i}`, STAGING_BUCKET_FILE))));
    assert.ok(others.size > 15, 'buckets of different machines differ');
  });

  test('a prerelease is offered only when IT pins exactly that version', () => {
    const policy: UpdatePolicy = { updatesEnabled: true, updateUrl: server.url, updateTargetVersion: null };
    const input = { currentVersion: '1.0.0', offeredVersion: '1.0.1-rc.1', stagingPercentage: undefined, bucket: 0 };
    assert.notEqual(decideUpdate({ ...input, policy }).kind, 'offer');
    assert.deepEqual(decideUpdate({ ...input, policy: { ...policy, updateTargetVersion: '1.0.1-rc.1' } }), { kind: 'offer', version: '1.0.1-rc.1' });
    assert.deepEqual(decideUpdate({ ...input, offeredVersion: '1.0.1', policy }), { kind: 'offer', version: '1.0.1' });
  });

  test('an unreadable staging bucket is a failed check in neutral words, not an integrity failure', async () => {
    release('0.2.0');
    mkdirSync(join(scratch.path, STAGING_BUCKET_FILE));
    const logged: string[] = [];
    const updates = createUpdateService({
      currentVersion: '0.1.0',
      policy: { updatesEnabled: true, updateUrl: server.url, updateTargetVersion: null },
      publicKey: keys.publicKeyBase64,
      dataDir: scratch.path,
      channelFile: CHANNEL,
      downloader: electronUpdaterDownloader(updater),
      consultationActive: () => false,
      waitingChanges: async () => 0,
      log: (line) => logged.push(line),
    });
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'failed');
    assert.doesNotMatch((await updates.status()).message ?? '', /integrity|signature/);
    assert.match((await updates.status()).message ?? '', /try again later/);
    assert.ok(!logged.some((line) => line.includes('UPDATE_REJECTED')), logged.join('\n'));
    assert.ok(!server.requests.some((path) => path.endsWith('.AppImage')));
  });

  test('checks at start and on each timer tick', async () => {
    let tick: (() => void) | null = null;
    let interval = 0;
    const timer: IntervalTimer = {
      setInterval: (fn, ms) => {
        tick = fn;
        interval = ms;
        return 1;
      },
      clearInterval: () => {
        tick = null;
      },
    };
    const updates = service({}, { timer });
    updates.start();
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'failed', 'no manifest on the server yet');
    assert.ok(interval >= 60 * 60 * 1000);
    const manifestRequests = () => server.requests.filter((path) => path === CHANNEL).length;
    assert.equal(manifestRequests(), 1);
    release('0.2.0');
    assert.ok(tick);
    (tick as () => void)();
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'ready');
    assert.equal(manifestRequests(), 2);
    updates.stop();
    assert.equal(tick, null);
  });
});

describe('update install', () => {
  test('never installs during a consultation, even with acceptUnsynced; says why it waits', async () => {
    const updates = await readyService();
    consultation = true;
    assert.deepEqual((await updates.status()).waitingFor, ['consultation']);
    await assert.rejects(updates.install(true), deferred);
    await assert.rejects(updates.install(false), deferred);
    assert.equal(updater.installs.length, 0);
    consultation = false;
    assert.deepEqual((await updates.status()).waitingFor, []);
    assert.deepEqual(await updates.install(false), { installing: true });
    assert.equal(updater.installs.length, 1);
  });

  test('with unsent changes: deferred unless the clinician accepts, then installs', async () => {
    const updates = await readyService();
    waiting = 3;
    assert.deepEqual((await updates.status()).waitingFor, ['unsynced-changes']);
    await assert.rejects(updates.install(false), deferred);
    assert.equal(updater.installs.length, 0);
    assert.deepEqual(await updates.install(true), { installing: true });
    assert.equal(updater.installs.length, 1);
  });

  test('does not install itself on quit while changes wait; does once they are sent', async () => {
    const updates = await readyService();
    waiting = 1;
    assert.equal(await updates.recheckInstallOnQuit(), false);
    assert.equal(updater.autoInstallOnAppQuit, false);
    waiting = 0;
    assert.equal(await updates.recheckInstallOnQuit(), true);
    assert.equal(updater.autoInstallOnAppQuit, true);
  });

  test('at quit (the cache already locked by then) the decision is made on the count last read, at once', async () => {
    const updates = await readyService();
    waiting = 2;
    await updates.status(); // the renderer's poll read the outbox
    waiting = null;
    assert.equal(updates.mayInstallOnQuit(), false, 'changes were seen waiting');
    assert.equal(updater.autoInstallOnAppQuit, false);
    waiting = 0;
    await updates.status();
    waiting = null;
    assert.equal(updates.mayInstallOnQuit(), true, 'the outbox was seen empty');
    assert.equal(updater.autoInstallOnAppQuit, true);
  });

  // electron-updater registers its quit handler once, when a download ends, and only if autoInstallOnAppQuit is true then;
  // the handler re-reads the flag at 'quit', which Electron fires after every 'before-quit' listener (where main calls mayInstallOnQuit).
  test('installs on quit when the outbox is empty (electron-updater registered its quit handler)', async () => {
    const updates = await readyService();
    assert.equal(updater.quitHandlerCount, 1, 'electron-updater registered its quit handler when the download ended');
    assert.equal(updates.mayInstallOnQuit(), true);
    updater.fireQuit();
    assert.equal(updater.installs.length, 1);
    assert.equal(updater.installs[0]?.isSilent, true);
  });

  test('does not install on quit while changes wait, even after they were once sent', async () => {
    const updates = await readyService();
    waiting = 2;
    assert.equal(await updates.recheckInstallOnQuit(), false);
    updater.fireQuit();
    assert.equal(updater.installs.length, 0);
  });

  test('does not install on quit during a consultation', async () => {
    const updates = await readyService();
    consultation = true;
    assert.equal(updates.mayInstallOnQuit(), false);
    updater.fireQuit();
    assert.equal(updater.installs.length, 0);
  });

  test('macOS: the update is never handed over for install on quit (Squirrel.Mac would apply it whatever we decide later)', async () => {
    release('0.2.0');
    const updates = createUpdateService({
      currentVersion: '0.1.0',
      policy: { updatesEnabled: true, updateUrl: server.url, updateTargetVersion: null },
      publicKey: keys.publicKeyBase64,
      dataDir: scratch.path,
      channelFile: CHANNEL,
      downloader: electronUpdaterDownloader(updater, { platform: 'darwin' }),
      consultationActive: () => consultation,
      waitingChanges: async () => waiting,
    });
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'ready');
    assert.equal(updater.quitHandlerCount, 0, 'autoInstallOnAppQuit was false as the download ended');
    updates.mayInstallOnQuit();
    assert.equal(updater.autoInstallOnAppQuit, false);
    assert.deepEqual(await updates.install(false), { installing: true });
    assert.equal(updater.installs.length, 1, 'an explicit install still runs');
  });

  test('a quit that does not exit cleanly does not install', async () => {
    const updates = await readyService();
    assert.equal(updates.mayInstallOnQuit(), true);
    updater.fireQuit(1);
    assert.equal(updater.installs.length, 0);
  });

  test('an install that fails (electron-updater emits error) is a failed state in neutral words, and the next check runs', async () => {
    const logged: string[] = [];
    release('0.2.0');
    const updates = createUpdateService({
      currentVersion: '0.1.0',
      policy: { updatesEnabled: true, updateUrl: server.url, updateTargetVersion: null },
      publicKey: keys.publicKeyBase64,
      dataDir: scratch.path,
      channelFile: CHANNEL,
      downloader: electronUpdaterDownloader(updater),
      consultationActive: () => consultation,
      waitingChanges: async () => waiting,
      log: (line) => logged.push(line),
    });
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'ready');
    updater.failInstallWith = new Error(`spawn ${scratch.path}/installer EACCES https://updates.example/x`);
    await updates.install(false);
    assert.equal(updater.installs.length, 0);
    const failed = await updates.status();
    assert.equal(failed.state, 'failed');
    assert.equal(failed.message, 'The update could not be installed; the app will try again later.');
    for (const line of logged) assert.ok(!line.includes(scratch.path) && !line.includes('https:'), line);
    const manifestRequests = () => server.requests.filter((path) => path === CHANNEL).length;
    const before = manifestRequests();
    await updates.checkNow();
    assert.equal(manifestRequests(), before + 1, 'the next check ran');
    assert.equal((await updates.status()).state, 'ready');
    assert.deepEqual(await updates.install(false), { installing: true });
    assert.equal(updater.installs.length, 1);
  });

  test('an error after the install started (Squirrel.Mac refusing the code signature) fails the install, and the next check runs', async () => {
    const updates = await readyService();
    assert.deepEqual(await updates.install(false), { installing: true });
    // MacUpdater re-emits Squirrel's 'error' on the updater; without a listener this would throw out of emit.
    updater.emit('error', new Error('Code signature at URL file:///private/var/folders/x did not pass validation'));
    assert.equal((await updates.status()).state, 'failed');
    const before = server.requests.filter((path) => path === CHANNEL).length;
    await updates.checkNow();
    assert.equal(server.requests.filter((path) => path === CHANNEL).length, before + 1);
  });

  test('while the cache is locked the last known count holds; a count never known counts as waiting', async () => {
    waiting = null;
    const updates = await readyService();
    assert.deepEqual((await updates.status()).waitingFor, ['locked', 'unsynced-changes']);
    assert.equal(updates.mayInstallOnQuit(), false);
    await assert.rejects(updates.install(false), deferred);
    waiting = 0;
    assert.equal(await updates.recheckInstallOnQuit(), true);
    waiting = null;
    assert.equal(updates.mayInstallOnQuit(), true, 'locked after the outbox was seen empty');
    waiting = 2;
    await updates.status();
    waiting = null;
    assert.equal(updates.mayInstallOnQuit(), false, 'locked after changes were seen waiting');
  });

  test('an outbox that cannot be read (the store refused the count) counts as locked: nothing installs, on quit neither', async () => {
    release('0.2.0');
    const updates = createUpdateService({
      currentVersion: '0.1.0',
      policy: { updatesEnabled: true, updateUrl: server.url, updateTargetVersion: null },
      publicKey: keys.publicKeyBase64,
      dataDir: scratch.path,
      channelFile: CHANNEL,
      downloader: electronUpdaterDownloader(updater),
      consultationActive: () => consultation,
      waitingChanges: () => Promise.reject(new AppError('STORE_CLOSED', 'The patient cache is locked. Unlock to continue.')),
    });
    await updates.checkNow();
    const status = await updates.status();
    assert.equal(status.state, 'ready', 'the count is not part of the check');
    assert.deepEqual(status.waitingFor, ['locked', 'unsynced-changes']);
    await assert.rejects(updates.install(true), (err: unknown) => deferred(err) && (err as AppError).message === 'Unlock first; the update waits.');
    assert.equal(await updates.recheckInstallOnQuit(), false);
    assert.equal(updater.installs.length, 0);
  });

  test('while locked (no one signed in) nobody at the screen can install, even accepting unsent changes; unlocked, it can', async () => {
    const updates = await readyService();
    assert.deepEqual((await updates.status()).waitingFor, [], 'unlocked, outbox seen empty: nothing to wait for');
    waiting = null;
    assert.deepEqual((await updates.status()).waitingFor, ['locked'], 'locked after the outbox was seen empty: waits for the unlock only');
    for (const acceptUnsynced of [true, false]) {
      await assert.rejects(updates.install(acceptUnsynced), (err: unknown) => deferred(err) && (err as AppError).message === 'Unlock first; the update waits.');
    }
    assert.equal(updater.installs.length, 0);
    waiting = 0;
    assert.deepEqual((await updates.status()).waitingFor, []);
    assert.deepEqual(await updates.install(false), { installing: true });
    assert.equal(updater.installs.length, 1);
  });

  test('nothing ready: install is UPDATE_UNAVAILABLE', async () => {
    const updates = service();
    await assert.rejects(updates.install(true), (err: unknown) => err instanceof AppError && err.code === 'UPDATE_UNAVAILABLE');
  });
});
