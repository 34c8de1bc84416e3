/**
 * An old signed manifest replayed by the server does not freeze updates
 * silently: a manifest whose releaseDate (its signed time) is more than
 * MAX_MANIFEST_AGE_DAYS old is refused in words, and one older than the newest
 * already seen (kept in the data folder, across restarts) is refused too.
 * Against a real loopback update server; the clock is injected.
 */
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createUpdateService, MAX_MANIFEST_AGE_DAYS, type UpdateService } from '../electron/services/update/update-service';
import { electronUpdaterDownloader } from '../electron/update-glue';
import { scratchDir } from './support/scratch';
import { publishRelease, releaseManifest, startUpdateServer, throwawayUpdateKeys, type UpdateServer } from './support/update-server';
import { NodeRunUpdater } from './support/update-node-runner';

const CHANNEL = 'latest-linux.yml';
const keys = throwawayUpdateKeys();
const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.parse('2027-03-01T12:00:00.000Z');
const installer = (version: string) => Buffer.from(`#!/bin/sh\necho clinician desktop ${version}\n`);
const name = (version: string) => `Clinician-Desktop-${version}.AppImage`;

let server: UpdateServer;
let scratch: ReturnType<typeof scratchDir>;

beforeEach(async () => {
  server = await startUpdateServer();
  scratch = scratchDir('update-replay');
});
afterEach(async () => {
  await server.close();
  scratch.remove();
});

function release(version: string, releaseDate: Date, extra: { stagingPercentage?: number } = {}): void {
  server.put(name(version), installer(version));
  publishRelease(server, CHANNEL, releaseManifest(version, name(version), installer(version), { ...extra, releaseDate }), keys.privateKeyPem);
}

function service(currentVersion = '0.2.0', now = NOW): UpdateService {
  return createUpdateService({
    currentVersion,
    policy: { updatesEnabled: true, updateUrl: server.url, updateTargetVersion: null },
    publicKey: keys.publicKeyBase64,
    dataDir: scratch.path,
    channelFile: CHANNEL,
    downloader: electronUpdaterDownloader(new NodeRunUpdater(scratch.path, currentVersion)),
    consultationActive: () => false,
    waitingChanges: async () => 0,
    now: () => now,
  });
}

const installers = () => server.requests.filter((path) => path.endsWith('.AppImage'));

describe('replayed update lists', () => {
  test('the current version’s list signed long ago is refused in words, not idle', async () => {
    assert.ok(MAX_MANIFEST_AGE_DAYS >= 7 && MAX_MANIFEST_AGE_DAYS <= 90);
    release('0.2.0', new Date(NOW - (MAX_MANIFEST_AGE_DAYS + 1) * DAY));
    const updates = service();
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'failed');
    assert.match((await updates.status()).message ?? '', /only an old update list; ask IT/);
    // The same list within the age limit is simply no update.
    release('0.2.0', new Date(NOW - (MAX_MANIFEST_AGE_DAYS - 1) * DAY));
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'idle');
  });

  test('an old stage-0% list replayed after a newer one was seen is refused, also after a restart', async () => {
    release('0.3.0', new Date(NOW - 2 * DAY), { stagingPercentage: 0 });
    const first = service();
    await first.checkNow();
    assert.equal((await first.status()).state, 'idle', 'outside the stage: nothing to do');
    release('0.3.0', new Date(NOW - 1 * DAY), { stagingPercentage: 100 });
    await first.checkNow();
    assert.equal((await first.status()).state, 'ready');
    // The server goes back to the older list (stage 0%): a new run of the app refuses it.
    release('0.3.0', new Date(NOW - 2 * DAY), { stagingPercentage: 0 });
    const restarted = service('0.2.0', NOW + DAY);
    await restarted.checkNow();
    assert.equal((await restarted.status()).state, 'failed');
    assert.match((await restarted.status()).message ?? '', /older update list than one already seen; ask IT/);
  });

  test('a list dated in the future beyond a day is refused and not remembered', async () => {
    release('0.3.0', new Date(NOW + 3 * DAY));
    const updates = service();
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'failed');
    assert.match((await updates.status()).message ?? '', /clock/);
    assert.deepEqual(installers(), []);
    release('0.3.0', new Date(NOW - DAY));
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'ready', (await updates.status()).message ?? '');
  });
});
