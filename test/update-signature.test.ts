/**
 * The update manifest's signature, against a real update server on loopback
 * and electron-updater's real download path run under Node: a good signed
 * update is downloaded and its sha512 checked; a tampered manifest, a
 * signature by another key, a missing or garbled signature, garbled YAML, an
 * oversized manifest and a downgrade are refused with typed errors and
 * nothing is downloaded; an installer whose bytes differ from the signed
 * sha512 is refused by electron-updater.
 */
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { AppError } from '../shared/app-error';
import { fetchVerifiedManifest, parsePublicKey, MANIFEST_MAX_BYTES } from '../electron/services/update/manifest-verifier';
import { createUpdateService, type UpdateService } from '../electron/services/update/update-service';
import { electronUpdaterDownloader } from '../electron/update-glue';
import { scratchDir } from './support/scratch';
import { publishRelease, releaseManifest, sha512Base64, startUpdateServer, throwawayUpdateKeys, type UpdateServer } from './support/update-server';
import { NodeRunUpdater } from './support/update-node-runner';

const CHANNEL = 'latest-linux.yml';
const INSTALLER = 'Clinician-Desktop-0.2.0.AppImage';
const keys = throwawayUpdateKeys();
const otherKeys = throwawayUpdateKeys();
const installer = Buffer.from(`#!/bin/sh\necho clinician desktop 0.2.0\n${'x'.repeat(50_000)}\n`);

let server: UpdateServer;
let scratch: ReturnType<typeof scratchDir>;
let updater: NodeRunUpdater;

beforeEach(async () => {
  server = await startUpdateServer();
  scratch = scratchDir('update-signature');
  updater = new NodeRunUpdater(scratch.path, '0.1.0');
});
afterEach(async () => {
  await server.close();
  scratch.remove();
});

function service(currentVersion = '0.1.0'): UpdateService {
  return createUpdateService({
    currentVersion,
    policy: { updatesEnabled: true, updateUrl: server.url, updateTargetVersion: null },
    publicKey: keys.publicKeyBase64,
    dataDir: scratch.path,
    channelFile: CHANNEL,
    downloader: electronUpdaterDownloader(updater),
    consultationActive: () => false,
    waitingChanges: async () => 0,
  });
}

function downloadedInstallers(): string[] {
  return server.requests.filter((path) => path.endsWith('.AppImage'));
}

async function expectRefused(check: Promise<unknown>, code: 'UPDATE_REJECTED' | 'UPDATE_UNAVAILABLE'): Promise<void> {
  await assert.rejects(check, (err: unknown) => err instanceof AppError && err.code === code && !err.message.includes('127.0.0.1'));
}

describe('update manifest signature', () => {
  test('a good signed update is offered, downloaded by electron-updater and its sha512 checked', async () => {
    server.put(INSTALLER, installer);
    publishRelease(server, CHANNEL, releaseManifest('0.2.0', INSTALLER, installer), keys.privateKeyPem);
    const updates = service();
    await updates.checkNow();
    const status = await updates.status();
    assert.equal(status.state, 'ready', status.message ?? '');
    assert.equal(status.availableVersion, '0.2.0');
    assert.deepEqual(downloadedInstallers(), [INSTALLER]);
    const file = updater.downloadedFile;
    assert.ok(file && existsSync(file));
    assert.equal(sha512Base64(readFileSync(file)), sha512Base64(installer));
    // Nothing in status is a URL, a path or a key.
    const shown = JSON.stringify(status);
    for (const secret of [server.url, '127.0.0.1', scratch.path, keys.publicKeyBase64]) assert.ok(!shown.includes(secret));
  });

  test('a manifest changed by one byte after signing is refused and nothing is downloaded', async () => {
    server.put(INSTALLER, installer);
    const manifest = releaseManifest('0.2.0', INSTALLER, installer);
    publishRelease(server, CHANNEL, manifest, keys.privateKeyPem);
    server.put(CHANNEL, manifest.replace('version: 0.2.0', 'version: 0.2.1'));
    await expectRefused(fetchVerifiedManifest({ updateUrl: server.url, channelFile: CHANNEL, publicKey: parsePublicKey(keys.publicKeyBase64)! }), 'UPDATE_REJECTED');
    const updates = service();
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'failed');
    assert.equal((await updates.status()).availableVersion, null);
    assert.deepEqual(downloadedInstallers(), []);
  });

  test('a manifest signed by another key is refused', async () => {
    server.put(INSTALLER, installer);
    publishRelease(server, CHANNEL, releaseManifest('0.2.0', INSTALLER, installer), otherKeys.privateKeyPem);
    await expectRefused(fetchVerifiedManifest({ updateUrl: server.url, channelFile: CHANNEL, publicKey: parsePublicKey(keys.publicKeyBase64)! }), 'UPDATE_REJECTED');
    const updates = service();
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'failed');
    assert.deepEqual(downloadedInstallers(), []);
  });

  test('a missing signature is refused', async () => {
    server.put(INSTALLER, installer);
    server.put(CHANNEL, releaseManifest('0.2.0', INSTALLER, installer));
    await expectRefused(fetchVerifiedManifest({ updateUrl: server.url, channelFile: CHANNEL, publicKey: parsePublicKey(keys.publicKeyBase64)! }), 'UPDATE_REJECTED');
    const updates = service();
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'failed');
    assert.deepEqual(downloadedInstallers(), []);
  });

  test('a garbled signature is refused', async () => {
    server.put(INSTALLER, installer);
    publishRelease(server, CHANNEL, releaseManifest('0.2.0', INSTALLER, installer), keys.privateKeyPem);
    for (const garbled of ['not base64 at all!', Buffer.alloc(64).toString('base64'), Buffer.alloc(63, 1).toString('base64'), '']) {
      server.put(`${CHANNEL}.sig`, garbled);
      await expectRefused(fetchVerifiedManifest({ updateUrl: server.url, channelFile: CHANNEL, publicKey: parsePublicKey(keys.publicKeyBase64)! }), 'UPDATE_REJECTED');
    }
    assert.deepEqual(downloadedInstallers(), []);
  });

  test('garbled YAML, even correctly signed, is refused with a typed error', async () => {
    publishRelease(server, CHANNEL, 'version: [0.2.0\nfiles: {{{\n', keys.privateKeyPem);
    await expectRefused(fetchVerifiedManifest({ updateUrl: server.url, channelFile: CHANNEL, publicKey: parsePublicKey(keys.publicKeyBase64)! }), 'UPDATE_REJECTED');
    // Signed YAML that is not a manifest (no sha512): refused by the schema.
    publishRelease(server, CHANNEL, 'version: 0.2.0\nfiles:\n  - url: a.AppImage\n    size: 3\nreleaseDate: x\n', keys.privateKeyPem);
    await expectRefused(fetchVerifiedManifest({ updateUrl: server.url, channelFile: CHANNEL, publicKey: parsePublicKey(keys.publicKeyBase64)! }), 'UPDATE_REJECTED');
    assert.deepEqual(downloadedInstallers(), []);
  });

  test('an oversized manifest is refused, with or without a Content-Length', async () => {
    const big = `${releaseManifest('0.2.0', INSTALLER, installer)}# ${'x'.repeat(MANIFEST_MAX_BYTES)}\n`;
    publishRelease(server, CHANNEL, big, keys.privateKeyPem);
    await expectRefused(fetchVerifiedManifest({ updateUrl: server.url, channelFile: CHANNEL, publicKey: parsePublicKey(keys.publicKeyBase64)! }), 'UPDATE_REJECTED');
    server.put(CHANNEL, big, { chunked: true });
    await expectRefused(fetchVerifiedManifest({ updateUrl: server.url, channelFile: CHANNEL, publicKey: parsePublicKey(keys.publicKeyBase64)! }), 'UPDATE_REJECTED');
    assert.deepEqual(downloadedInstallers(), []);
  });

  test('a signed downgrade is refused and reported; nothing is downloaded', async () => {
    const old = 'Clinician-Desktop-0.0.9.AppImage';
    server.put(old, installer);
    publishRelease(server, CHANNEL, releaseManifest('0.0.9', old, installer), keys.privateKeyPem);
    const updates = service();
    await updates.checkNow();
    const status = await updates.status();
    assert.equal(status.state, 'failed');
    assert.match(status.message ?? '', /older version/);
    assert.deepEqual(downloadedInstallers(), []);
  });

  test('the same version as the running one is no update', async () => {
    server.put(INSTALLER, installer);
    publishRelease(server, CHANNEL, releaseManifest('0.2.0', INSTALLER, installer), keys.privateKeyPem);
    const updates = service('0.2.0');
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'idle');
    assert.equal((await updates.status()).availableVersion, null);
    assert.deepEqual(downloadedInstallers(), []);
  });

  test('an installer whose bytes differ from the signed sha512 is refused by electron-updater and not left ready', async () => {
    publishRelease(server, CHANNEL, releaseManifest('0.2.0', INSTALLER, installer), keys.privateKeyPem);
    const swapped = Buffer.from(installer);
    swapped[20] = swapped[20]! ^ 1;
    server.put(INSTALLER, swapped);
    const updates = service();
    await updates.checkNow();
    const status = await updates.status();
    assert.equal(status.state, 'failed');
    assert.equal(status.availableVersion, null);
    assert.deepEqual(downloadedInstallers(), [INSTALLER]);
    assert.equal(updater.downloadedFile, null);
    await assert.rejects(updates.install(true), (err: unknown) => err instanceof AppError && err.code === 'UPDATE_UNAVAILABLE');
  });

  test('a manifest signed for another channel (linux-arm64, beta) is refused when served as latest-linux.yml', async () => {
    const arm = 'Clinician-Desktop-0.2.0-arm64.AppImage';
    server.put(arm, installer);
    publishRelease(server, CHANNEL, releaseManifest('0.2.0', arm, installer), keys.privateKeyPem, 'latest-linux-arm64.yml');
    await expectRefused(fetchVerifiedManifest({ updateUrl: server.url, channelFile: CHANNEL, publicKey: parsePublicKey(keys.publicKeyBase64)! }), 'UPDATE_REJECTED');
    publishRelease(server, CHANNEL, releaseManifest('0.2.0', INSTALLER, installer), keys.privateKeyPem, 'beta-linux.yml');
    const updates = service();
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'failed');
    assert.match((await updates.status()).message ?? '', /signature check/);
    assert.deepEqual(downloadedInstallers(), []);
  });

  test('a signed prerelease is not offered to a stable install unless pinned exactly', async () => {
    const beta = 'Clinician-Desktop-0.4.0-beta.1.AppImage';
    server.put(beta, installer);
    publishRelease(server, CHANNEL, releaseManifest('0.4.0-beta.1', beta, installer), keys.privateKeyPem);
    const updates = service('0.3.0');
    await updates.checkNow();
    assert.notEqual((await updates.status()).state, 'ready');
    assert.equal((await updates.status()).availableVersion, null);
    assert.match((await updates.status()).message ?? '', /test version/);
    assert.deepEqual(downloadedInstallers(), []);
  });

  test('a signed file address outside the update server is refused with its own words', async () => {
    for (const url of ['https://evil.example/x.AppImage', 'http://evil.example/x.AppImage', 'file:///etc/passwd', '../../evil.AppImage']) {
      const manifest = releaseManifest('0.2.0', INSTALLER, installer).replaceAll(`url: ${INSTALLER}`, `url: ${url}`);
      publishRelease(server, CHANNEL, manifest, keys.privateKeyPem);
      const updates = service();
      await updates.checkNow();
      const status = await updates.status();
      assert.equal(status.state, 'failed', url);
      assert.match(status.message ?? '', /names a file outside the update server/, url);
      assert.doesNotMatch(status.message ?? '', /settings/);
    }
    assert.deepEqual(server.requests.filter((path) => !path.startsWith('latest-linux.yml')), []);
  });

  test('plain http to a host other than loopback is refused before any request', async () => {
    await expectRefused(fetchVerifiedManifest({ updateUrl: 'http://updates.example.org/', channelFile: CHANNEL, publicKey: parsePublicKey(keys.publicKeyBase64)! }), 'UPDATE_UNAVAILABLE');
  });
});
