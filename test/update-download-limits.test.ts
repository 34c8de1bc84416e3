/**
 * The installer download is bounded by the signed manifest: it stops as soon
 * as more bytes than the signed size arrive (an endless body, a Content-Length
 * over the size), a file shorter or longer than the signed size is refused,
 * the partial file is deleted and nothing is left ready; a signed size over
 * the cap is refused before any download; a download that outlives its
 * deadline (a 1-byte drip) is cancelled and the next check runs normally;
 * electron-updater's own logger prints no URL and no path. Against a real
 * loopback update server and electron-updater's download path run under Node;
 * the deadline's timer is injected (no sleeps).
 */
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../shared/app-error';
import { fetchVerifiedManifest, parsePublicKey, MAX_INSTALLER_BYTES } from '../electron/services/update/manifest-verifier';
import { createUpdateService, type UpdateService } from '../electron/services/update/update-service';
import { DOWNLOAD_DEADLINE_MS, electronUpdaterDownloader, type DownloadTimeouts } from '../electron/update-glue';
import { scratchDir } from './support/scratch';
import { publishRelease, releaseManifest, startUpdateServer, throwawayUpdateKeys, type UpdateServer } from './support/update-server';
import { NodeRunUpdater } from './support/update-node-runner';

const CHANNEL = 'latest-linux.yml';
const INSTALLER = 'Clinician-Desktop-0.2.0.AppImage';
const keys = throwawayUpdateKeys();
const installer = Buffer.from(`#!/bin/sh\necho clinician desktop 0.2.0\n${'x'.repeat(20_000)}\n`);

let server: UpdateServer;
let scratch: ReturnType<typeof scratchDir>;
let updater: NodeRunUpdater;

beforeEach(async () => {
  server = await startUpdateServer();
  scratch = scratchDir('update-limits');
  updater = new NodeRunUpdater(scratch.path, '0.1.0');
});
afterEach(async () => {
  await server.close();
  scratch.remove();
});

/** A controllable deadline: the test fires it. */
function manualTimeouts(): DownloadTimeouts & { fire(): void; armed: number[]; cleared: number } {
  const pending = new Map<number, () => void>();
  let next = 1;
  const t = {
    armed: [] as number[],
    cleared: 0,
    set(fn: () => void, ms: number) {
      t.armed.push(ms);
      pending.set(next, fn);
      return next++;
    },
    clear(handle: unknown) {
      if (pending.delete(handle as number)) t.cleared += 1;
    },
    fire() {
      for (const [handle, fn] of [...pending]) {
        pending.delete(handle);
        fn();
      }
    },
  };
  return t;
}

function service(timeouts?: DownloadTimeouts): UpdateService {
  return createUpdateService({
    currentVersion: '0.1.0',
    policy: { updatesEnabled: true, updateUrl: server.url, updateTargetVersion: null },
    publicKey: keys.publicKeyBase64,
    dataDir: scratch.path,
    channelFile: CHANNEL,
    downloader: electronUpdaterDownloader(updater, { timeouts }),
    consultationActive: () => false,
    waitingChanges: async () => 0,
  });
}

/** Bytes of every file under electron-updater's cache folder. */
function cachedBytes(): number {
  const root = join(scratch.path, 'cache');
  if (!existsSync(root)) return 0;
  let total = 0;
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else total += statSync(path).size;
    }
  };
  walk(root);
  return total;
}

async function assertRefusedForSize(updates: UpdateService): Promise<void> {
  const status = await updates.status();
  assert.equal(status.state, 'failed');
  assert.equal(status.availableVersion, null);
  assert.match(status.message ?? '', /size/);
  assert.equal(updater.downloadedFile, null);
  assert.equal(cachedBytes(), 0, 'the partial file is deleted');
}

describe('installer size', () => {
  test('an endless installer body stops at the signed size: failed, nothing on disk', { timeout: 20_000 }, async () => {
    publishRelease(server, CHANNEL, releaseManifest('0.2.0', INSTALLER, installer), keys.privateKeyPem);
    let sent = 0;
    server.serve(INSTALLER, (res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      const pump = (): void => {
        while (!res.destroyed && sent < 512 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    const updates = service();
    await updates.checkNow();
    await assertRefusedForSize(updates);
    assert.ok(sent < 16 * 1024 * 1024, `the server sent ${sent} bytes before the download stopped`);
  });

  test('a Content-Length over the signed size is refused before the body is read', async () => {
    publishRelease(server, CHANNEL, releaseManifest('0.2.0', INSTALLER, installer, { size: installer.length - 1 }), keys.privateKeyPem);
    server.put(INSTALLER, installer);
    const updates = service();
    await updates.checkNow();
    await assertRefusedForSize(updates);
  });

  test('an installer shorter than its signed size (sha512 matching) is refused, not ready', async () => {
    publishRelease(server, CHANNEL, releaseManifest('0.2.0', INSTALLER, installer, { size: 999_999 }), keys.privateKeyPem);
    server.put(INSTALLER, installer, { chunked: true });
    const updates = service();
    await updates.checkNow();
    await assertRefusedForSize(updates);
    await assert.rejects(updates.install(true), (err: unknown) => err instanceof AppError && err.code === 'UPDATE_UNAVAILABLE');
  });

  test('a signed size over the cap is refused before any download', async () => {
    publishRelease(server, CHANNEL, releaseManifest('0.2.0', INSTALLER, installer, { size: MAX_INSTALLER_BYTES + 1 }), keys.privateKeyPem);
    server.put(INSTALLER, installer);
    await assert.rejects(
      fetchVerifiedManifest({ updateUrl: server.url, channelFile: CHANNEL, publicKey: parsePublicKey(keys.publicKeyBase64)! }),
      (err: unknown) => err instanceof AppError && err.code === 'UPDATE_REJECTED',
    );
    const updates = service();
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'failed');
    assert.ok(!server.requests.includes(INSTALLER));
    assert.ok(MAX_INSTALLER_BYTES <= 1024 ** 3);
  });
});

describe('download deadline', () => {
  test('a 1-byte drip is cancelled at the deadline: failed in words, and the next check downloads normally', { timeout: 20_000 }, async () => {
    publishRelease(server, CHANNEL, releaseManifest('0.2.0', INSTALLER, installer), keys.privateKeyPem);
    server.serve(INSTALLER, (res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': installer.length });
      res.write(installer.subarray(0, 1));
    });
    const timeouts = manualTimeouts();
    const updates = service(timeouts);
    const first = updates.checkNow();
    await server.requested(INSTALLER);
    assert.equal((await updates.status()).state, 'downloading');
    assert.deepEqual(timeouts.armed, [DOWNLOAD_DEADLINE_MS]);
    assert.ok(DOWNLOAD_DEADLINE_MS >= 10 * 60 * 1000 && DOWNLOAD_DEADLINE_MS <= 60 * 60 * 1000);
    timeouts.fire();
    await first;
    const status = await updates.status();
    assert.equal(status.state, 'failed');
    assert.match(status.message ?? '', /took too long/);
    assert.equal(cachedBytes(), 0);
    // The server turns honest: the next check is not stuck behind the cancelled one.
    server.put(INSTALLER, installer);
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'ready', (await updates.status()).message ?? '');
    assert.equal(timeouts.cleared, 1, 'the deadline of a finished download is cleared');
  });
});

describe('electron-updater logging', () => {
  test('the glue replaces electron-updater’s logger: no URL, no path, no staging id is printed', async () => {
    const lines: string[] = [];
    const capture = (...args: unknown[]) => lines.push(args.map(String).join(' '));
    updater.logger = { info: capture, warn: capture, error: capture, debug: capture };
    publishRelease(server, CHANNEL, releaseManifest('0.2.0', INSTALLER, installer), keys.privateKeyPem);
    server.serve(INSTALLER, (res) => res.writeHead(500).end());
    const updates = service();
    await updates.checkNow();
    assert.equal((await updates.status()).state, 'failed');
    const printed = lines.join('\n');
    for (const secret of ['127.0.0.1', scratch.path, 'updates/', 'staging']) assert.ok(!printed.includes(secret), `printed ${secret}`);
  });
});
