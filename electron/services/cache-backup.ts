/**
 * Safe backup and restore of a cache's database, for IT. A file-level copy of
 * a live folder (cache.db without its -wal, or the two copied at different
 * moments) is not a database; these are.
 *
 * Backup is the one operation allowed beside the writer: it opens the
 * database read-only with the keychain's key (SQLite's WAL lets one reader
 * beside the writer) and copies one consistent snapshot with `VACUUM INTO`,
 * a single read transaction that a busy writer never restarts, still
 * encrypted with the same key. The copy goes to a 0600 temp file
 * beside the target, must open with the key and pass integrity_check, is
 * fsynced and only then renamed over the target. The target is never in a
 * cache folder (this one or another: profile.json or cache.lock beside it),
 * never named like a cache file, and an existing file is replaced only when
 * it is a backup of this cache (it opens with the key). While a writer holds
 * the lock and cache.db-wal is missing (deleted under the app, whose commits
 * are then only in the deleted file), backup refuses; the copy must hold the
 * source's schema version.
 *
 * Restore takes the folder's writer lock (CACHE_IN_USE while the app or
 * anything else has the cache open), checks the backup opens with this
 * profile's key and is whole, copies it into the folder as a temp file,
 * fsyncs, folds the old database's WAL into it, renames the copy over
 * cache.db and only then removes the old -wal/-shm. Any failure before the
 * rename leaves the old database as it was. A cache.lock missing beside
 * cache.db (deleted by hand; the app may hold its lock on the deleted file)
 * is refused unless forced.
 *
 * An open cache is backed up by its store (`backupOpenCache`: the place is
 * checked here, the copy is the store's `backupTo`, where the connection and
 * the key are). The SQL of all three (VACUUM INTO, the copy's checks, the
 * old WAL's checkpoint) is in ./store/operations/backup-copy.ts; this file
 * holds the file operations and none.
 *
 * Must never: write a plaintext copy, keep the key beyond the open, replace a
 * database that is open, or leave a temp file behind.
 */
import { closeSync, existsSync, fsyncSync, openSync, readSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { AppError } from '../../shared/app-error';
import { openCacheDatabase } from './cache-database';
import { diskFullError, isDiskFullError } from './cache-disk-full';
import type { CacheSession } from './cache-session';
import { backupDatabaseTo, checkCopy, foldOldWal, fsyncFolder, opensWithKey, tempBeside } from './store/operations/backup-copy';
import { acquireFolderLock, folderHasWriter, LOCK_FILE, lockFileMissing, lockFileMissingError } from './cache-folder-lock';
import { DATABASE_FILE, PROFILE_FILE, readProfile, type CacheProfile } from './cache-profile';
import { dropKeys, loadDeviceKeys, type DeviceKeys } from './device-keys';
import type { SecretStore } from './secret-store';

export interface BackupOptions {
  /** The passkey's PRF output, when the profile's keys are bound to a passkey. */
  prfOutput?: Buffer;
  /** Restore only: go ahead although cache.lock was deleted (the operator closed every window). */
  force?: boolean;
}

/**
 * The key, from the keychain. Keys bound to the clinician's passkey need its
 * PRF output, which only a sign-in gives: the command line is told so plainly.
 */
async function keysFor(secrets: SecretStore, profile: CacheProfile, options: BackupOptions): Promise<DeviceKeys> {
  try {
    return await loadDeviceKeys(secrets, profile.profileId, options.prfOutput);
  } catch (err) {
    if (err instanceof AppError && err.code === 'LOCKED') {
      throw new AppError('LOCKED', 'This cache\'s key is bound to the clinician\'s passkey, so only the signed-in app can read it; the command line cannot back it up or restore it.');
    }
    throw err;
  }
}

function sameFolder(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return resolve(a) === resolve(b);
  }
}

function existingProfile(dataDir: string): CacheProfile {
  const profile = existsSync(dataDir) ? readProfile(dataDir) : null;
  if (!profile) throw new AppError('CACHE_NOT_OPEN', 'There is no patient cache in this folder.');
  return profile;
}

export { backupDatabaseTo } from './store/operations/backup-copy';

const CACHE_FILE_NAMES: ReadonlySet<string> = new Set([DATABASE_FILE, PROFILE_FILE, LOCK_FILE]);

/**
 * A backup never lands where it would replace a cache's file: not in any
 * cache folder (one with profile.json or cache.lock, this one or another),
 * not under a cache file's name, and not over an existing file that is not
 * already a backup of this cache (it must open with this cache's key).
 */
function checkBackupTarget(outFile: string, dataDir: string, key: Buffer | null): void {
  const dir = dirname(outFile);
  const name = basename(outFile);
  const refused = () => new AppError('INVALID_INPUT', 'Write the backup to a new file outside every cache folder (not over cache.db, profile.json or another cache\'s files).');
  if (sameFolder(dir, dataDir) || existsSync(join(dir, PROFILE_FILE)) || existsSync(join(dir, LOCK_FILE))) throw refused();
  if (CACHE_FILE_NAMES.has(name) || /-(wal|shm|journal)$/.test(name)) throw refused();
  // Without the key here (an open session's store holds it), the store's backupTo makes the same check.
  if (key === null || !existsSync(outFile)) return;
  if (!opensWithKey(outFile, key)) throw refused();
}

/**
 * Backs up the open session's cache to `outFile`: the place is checked here,
 * the copy is made by the store (`backupTo`), where the connection and the
 * key are.
 */
export async function backupOpenCache(session: Pick<CacheSession, 'profile' | 'store'>, outFile: string): Promise<{ bytes: number }> {
  checkBackupTarget(outFile, dirname(session.profile.databaseFile), null);
  return session.store.call('backupTo', { file: outFile });
}

/**
 * Backs up the cache in `dataDir` to `outFile` while the app may be writing:
 * a read-only open beside the writer, never the writer lock, so it neither
 * waits for nor blocks the clinician.
 */
export async function backupCache(dataDir: string, secrets: SecretStore, outFile: string, options: BackupOptions = {}): Promise<{ bytes: number }> {
  const profile = existingProfile(dataDir);
  // A backup renamed over the live cache.db (or beside it) would be a restore behind the app's back.
  if (sameFolder(dirname(outFile), dataDir)) throw new AppError('INVALID_INPUT', 'Write the backup outside the cache folder.');
  // The journal deleted under the app: the open app still holds commits in
  // the deleted file, which a reader here cannot see (the app folds them back
  // as soon as it notices). A copy now would silently miss them.
  if (!existsSync(`${profile.databaseFile}-wal`) && existsSync(join(dataDir, LOCK_FILE)) && folderHasWriter(dataDir)) {
    throw new AppError('CACHE_IN_USE', 'The cache\'s journal file (cache.db-wal) is missing while Clinician Desktop has the cache open, so a backup now would miss recent changes. Try again in a moment; if it persists, close Clinician Desktop and back up then.');
  }
  const keys = await keysFor(secrets, profile, options);
  try {
    checkBackupTarget(outFile, dataDir, keys.cacheKey);
    const db = openCacheDatabase(profile.databaseFile, keys.cacheKey, { create: false, readonly: true });
    try {
      return backupDatabaseTo(db, keys.cacheKey, outFile);
    } finally {
      db.close();
    }
  } finally {
    dropKeys(keys);
  }
}

function copyInto(from: string, to: string): void {
  const src = openSync(from, 'r');
  try {
    const dst = openSync(to, 'wx', 0o600);
    try {
      const chunk = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const n = readSync(src, chunk, 0, chunk.length, null);
        if (n === 0) break;
        let off = 0;
        while (off < n) off += writeSync(dst, chunk, off, n - off);
      }
      fsyncSync(dst);
    } finally {
      closeSync(dst);
    }
  } finally {
    closeSync(src);
  }
}

/**
 * Replaces the folder's database with the backup `fromFile`, only when
 * nothing has the cache open, atomically; the old database stays if anything
 * fails. The backup must be this profile's (it opens only with its key).
 */
export async function restoreCache(dataDir: string, secrets: SecretStore, fromFile: string, options: BackupOptions = {}): Promise<{ bytes: number }> {
  // cache.lock deleted by hand: the app may still hold its lock on the deleted file (./cache-folder-lock).
  if (!options.force && lockFileMissing(dataDir)) throw lockFileMissingError();
  const lock = acquireFolderLock(dataDir, { create: false });
  try {
    const profile = existingProfile(dataDir);
    if (!existsSync(fromFile)) throw new AppError('CACHE_NOT_OPEN', 'The backup file could not be read.');
    const keys = await keysFor(secrets, profile, options);
    const target = join(dataDir, DATABASE_FILE);
    const tmp = tempBeside(target, 'cache-restore');
    try {
      try {
        copyInto(fromFile, tmp);
      } catch (err) {
        if (isDiskFullError(err)) throw diskFullError();
        throw new AppError('CACHE_NOT_OPEN', 'The backup file could not be read.');
      }
      checkCopy(tmp, keys.cacheKey);
      if (existsSync(`${target}-wal`)) foldOldWal(target, keys.cacheKey);
      renameSync(tmp, target);
      for (const side of ['-wal', '-shm', '-journal']) rmSync(target + side, { force: true });
      fsyncFolder(dataDir);
      return { bytes: statSync(target).size };
    } catch (err) {
      rmSync(tmp, { force: true });
      for (const side of ['-wal', '-shm', '-journal']) rmSync(tmp + side, { force: true });
      throw isDiskFullError(err) ? diskFullError() : err;
    } finally {
      dropKeys(keys);
    }
  } finally {
    lock.release();
  }
}
