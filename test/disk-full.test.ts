/**
 * A full disk, on a real small filesystem the test mounts (tmpfs; we run as
 * root in CI): the clinician is told DISK_FULL, never INTERNAL; a first run
 * leaves nothing behind (no profile.json.tmp, no 0-byte file, no folder it
 * made, no keychain entry: checked in the real gnome-keyring through the
 * SecretStore); an open cache that runs out of space mid-write keeps every
 * earlier change and works again once space is freed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import keytar from 'keytar';
import { AppError } from '../shared/app-error';
import { openCacheSession, type CacheSession } from '../electron/services/cache-session';
import { outboxSize, recordChange, recordChanges } from '../electron/services/outbox';
import { verifyCache } from '../electron/services/cache-maintenance';
import { backupCache } from '../electron/services/cache-backup';
import { cacheKeyAccount, signingKeyAccount } from '../electron/services/device-keys';
import { scratchDir } from './support/scratch';
import { testKeychain } from './support/test-keychain';

const scratch = scratchDir('disk-full');
const mountPoint = join(scratch.path, 'small-disk');
let mounted = false;
let skipReason: string | false = false;

before(() => {
  mkdirSync(mountPoint);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', mountPoint], { encoding: 'utf8' });
  if (r.status === 0) mounted = true;
  else skipReason = `cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): ${(r.stderr || r.error?.message || '').trim()}`;
});

after(() => {
  // Lazily if something still holds a file there (a failing test's open cache): the mount never outlives the test.
  if (mounted && spawnSync('umount', [mountPoint]).status !== 0) spawnSync('umount', ['-l', mountPoint]);
  scratch.remove();
});

const FILLER = () => join(mountPoint, 'filler');
const diskFull = (e: unknown) => e instanceof AppError && e.code === 'DISK_FULL' && e.message === 'The disk is full. Free space on this computer; nothing you entered was lost.';

/** Fills the filesystem to the last byte with one file. */
function fillDisk(): void {
  const fd = openSync(FILLER(), 'a');
  try {
    for (let size = 1 << 20; size >= 1; size = Math.floor(size / 4)) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          if (writeSync(fd, chunk) < size) break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

function freeBytes(n: number): void {
  const fd = openSync(FILLER(), 'r+');
  try {
    ftruncateSync(fd, Math.max(0, fstatSync(fd).size - n));
  } finally {
    closeSync(fd);
  }
}

function emptyDisk(): void {
  for (const f of readdirSync(mountPoint)) rmSync(join(mountPoint, f), { recursive: true, force: true });
}

function bigObservation(n: number) {
  return { resourceType: 'Observation', id: `big-${n}`, status: 'final', code: { text: 'Note '.repeat(1600) }, subject: { reference: 'Patient/p1' } };
}

test('a first run on a full disk fails with DISK_FULL and leaves nothing: no file, no folder it made, no keychain entry (0 to 256 KiB free, new folder and IT-made folder)', async (t) => {
  if (skipReason) return t.skip(skipReason);
  emptyDisk();
  fillDisk();
  let failures = 0;
  for (const free of [0, 4096, 16384, 65536, 262144]) {
    for (const folderMadeByIt of [false, true]) {
      if (free > 0) {
        emptyDisk();
        fillDisk();
        freeBytes(free);
      }
      const keychain = testKeychain();
      const dataDir = join(mountPoint, `cache-${free}-${folderMadeByIt}`);
      if (folderMadeByIt) mkdirSync(dataDir, { mode: 0o700 });
      const profileId = randomUUID();
      let opened = false;
      try {
        (await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.full', create: true, profileId })).close();
        opened = true; // enough room for this one
      } catch (err) {
        assert.ok(diskFull(err), `free ${free}: ${String(err)} (${(err as { code?: string }).code})`);
        failures++;
      }
      if (!opened) {
        if (folderMadeByIt) assert.deepEqual(readdirSync(dataDir), [], `free ${free}: the IT-made folder is empty`);
        else assert.equal(existsSync(dataDir), false, `free ${free}: the folder it made is gone (left: ${existsSync(dataDir) ? readdirSync(dataDir).join(', ') : ''})`);
        assert.deepEqual(readdirSync(mountPoint).filter((f) => f !== 'filler' && !f.startsWith('cache-')), [], 'nothing else on the disk');
        assert.equal(await keychain.get(cacheKeyAccount(profileId)), null, `free ${free}: no cache key left in the keychain`);
        assert.equal(await keychain.get(signingKeyAccount(profileId)), null, `free ${free}: no signing key left in the keychain`);
        assert.deepEqual(await keytar.findCredentials(keychain.service), [], `free ${free}: no keychain entry at all`);
      }
      await keychain.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  assert.ok(failures >= 2, `the full disk refused first runs (${failures})`);
});

test('an open cache that runs out of space mid-write: DISK_FULL, every earlier change intact and the chain whole, and it works again once space is freed', async (t) => {
  if (skipReason) return t.skip(skipReason);
  emptyDisk();
  const keychain = testKeychain();
  const dataDir = join(mountPoint, 'live');
  let s: CacheSession | null = null;
  try {
    s = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.full', create: true });
    for (let n = 0; n < 20; n++) await recordChange(s, bigObservation(n));
    fillDisk();
    let refused = 0;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await recordChanges(s, Array.from({ length: 40 }, (_, i) => bigObservation(100 + attempt * 40 + i)));
      } catch (err) {
        assert.ok(diskFull(err), `${String(err)} (${(err as { code?: string }).code})`);
        refused++;
      }
    }
    assert.equal(refused, 5, 'every batch that did not fit was refused');
    assert.equal(await outboxSize(s), 20, 'the earlier changes are all there, none of the refused ones');
    assert.equal((await verifyCache(s)).ok, true, 'audit chain whole');
    await s.close(); // closing on a full disk does not throw

    rmSync(FILLER());
    s = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.full', create: false });
    await recordChanges(s, Array.from({ length: 40 }, (_, i) => bigObservation(500 + i)));
    assert.equal(await outboxSize(s), 60);
    assert.equal((await verifyCache(s)).ok, true);
  } finally {
    s?.close();
    emptyDisk();
    await keychain.cleanup();
  }
});

test('a backup onto a full disk: DISK_FULL, no temp file beside it, and the previous backup is left whole', async (t) => {
  if (skipReason) return t.skip(skipReason);
  emptyDisk();
  const keychain = testKeychain();
  const dir = scratchDir('disk-full-backup');
  const dataDir = join(dir.path, 'cache');
  const out = join(mountPoint, 'nightly.db');
  try {
    const s = await openCacheSession({ dataDir, secrets: keychain, actor: 'dr.full', create: true });
    for (let n = 0; n < 5; n++) await recordChange(s, bigObservation(n));
    await backupCache(dataDir, keychain, out);
    const before = readFileSync(out);
    for (let n = 5; n < 200; n++) await recordChange(s, bigObservation(n));
    await s.close();
    fillDisk();
    await assert.rejects(backupCache(dataDir, keychain, out), (e: unknown) => e instanceof AppError && e.code === 'DISK_FULL' && /Free space where the backup goes/.test(e.message));
    assert.deepEqual(readdirSync(mountPoint).sort(), ['filler', 'nightly.db'], 'no temp file left');
    assert.ok(readFileSync(out).equals(before), 'the previous backup is untouched');
  } finally {
    emptyDisk();
    dir.remove();
    await keychain.cleanup();
  }
});
