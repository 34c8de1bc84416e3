/**
 * Safe backup and restore of a cache's database, for IT. A file-level copy of
 * a live folder (cache.db without its -wal, or the two copied at different
 * moments) is not a database; these are.
 *
 * Backup is the one operation allowed beside the writer: it opens the
 * database read-only with the keychain's key (SQLite's WAL lets one reader
 * beside the writer) and copies one consistent snapshot with `VACUUM INTO`,
 * a single read transaction that a busy writer never restarts, still
 * SQLCipher-encrypted with the same key. The copy goes to a 0600 temp file
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
 * Must never: write a plaintext copy, keep the key beyond the open, replace a
 * database that is open, or leave a temp file behind.
 */
import { closeSync, existsSync, fsyncSync, openSync, readSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AppError } from '../../shared/app-error';
import { checkCacheIntegrity, openCacheDatabase, type CacheDatabase } from './cache-database';
import { diskFullError, isDiskFullError } from './cache-disk-full';
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

function tempBeside(file: string, label: string): string {
  return join(dirname(file), `.${label}-${randomBytes(6).toString('hex')}.tmp`);
}

/** fsync of a folder, so a rename in it survives a power cut (not possible on Windows; skipped there). */
function fsyncFolder(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncFile(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
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

function notThisCachesBackup(): AppError {
  return new AppError('CACHE_KEY_WRONG', 'This file is not a backup of this patient cache: it belongs to another cache, or cannot be opened with this cache\'s key. Nothing was changed.');
}

function userVersion(db: CacheDatabase): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * The copy must open with the key, be whole and hold the schema (a copy of
 * an empty file, e.g. a journal deleted under the app, has no tables) before
 * it replaces anything. Returns its schema version.
 */
function checkCopy(file: string, key: Buffer): number {
  let copy: CacheDatabase;
  try {
    copy = openCacheDatabase(file, key, { create: false, readonly: true });
  } catch (err) {
    if (err instanceof AppError && err.code === 'CACHE_KEY_WRONG') throw notThisCachesBackup();
    throw err;
  }
  try {
    checkCacheIntegrity(copy);
    const version = userVersion(copy);
    if (version === 0) throw new AppError('CACHE_CORRUPT', 'The copy holds no patient cache tables.');
    return version;
  } finally {
    copy.close();
  }
}

const CACHE_FILE_NAMES: ReadonlySet<string> = new Set([DATABASE_FILE, PROFILE_FILE, LOCK_FILE]);

/**
 * A backup never lands where it would replace a cache's file: not in any
 * cache folder (one with profile.json or cache.lock, this one or another),
 * not under a cache file's name, and not over an existing file that is not
 * already a backup of this cache (it must open with this cache's key).
 */
function checkBackupTarget(outFile: string, dataDir: string, key: Buffer): void {
  const dir = dirname(outFile);
  const name = basename(outFile);
  const refused = () => new AppError('INVALID_INPUT', 'Write the backup to a new file outside every cache folder (not over cache.db, profile.json or another cache\'s files).');
  if (sameFolder(dir, dataDir) || existsSync(join(dir, PROFILE_FILE)) || existsSync(join(dir, LOCK_FILE))) throw refused();
  if (CACHE_FILE_NAMES.has(name) || /-(wal|shm|journal)$/.test(name)) throw refused();
  if (!existsSync(outFile)) return;
  try {
    const old = openCacheDatabase(outFile, key, { create: false, readonly: true });
    old.close();
  } catch {
    throw refused();
  }
}

function backupFailure(err: unknown): unknown {
  if (isDiskFullError(err)) return new AppError('DISK_FULL', 'The disk is full. Free space where the backup goes; the cache itself is unchanged.');
  if (err instanceof AppError) return err;
  return new AppError('CACHE_NOT_OPEN', 'The backup could not be written.');
}

/**
 * Writes one consistent, still-encrypted snapshot of an open database to
 * `outFile` (atomically replacing it). For the app, through its open session,
 * and for `backupCache`.
 */
export function backupDatabaseTo(db: CacheDatabase, key: Buffer, outFile: string): { bytes: number } {
  const tmp = tempBeside(outFile, 'cache-backup');
  try {
    // VACUUM INTO needs an absent or empty target: an empty 0600 file fixes the copy's mode.
    closeSync(openSync(tmp, 'wx', 0o600));
    const expected = userVersion(db);
    db.prepare('VACUUM INTO ?').run(tmp);
    if (checkCopy(tmp, key) !== expected || expected === 0) throw new AppError('CACHE_CORRUPT', 'The copy does not hold the cache\'s current schema.');
    fsyncFile(tmp);
    renameSync(tmp, outFile);
    fsyncFolder(dirname(outFile));
    return { bytes: statSync(outFile).size };
  } catch (err) {
    rmSync(tmp, { force: true });
    throw backupFailure(err);
  }
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
 * Before the rename: commits still in the old database's WAL go into it, so
 * the old -wal is empty when it is removed beside the restored file. A
 * damaged old database (the usual reason to restore) cannot be checkpointed;
 * its WAL belongs to it and goes with it.
 */
function foldOldWal(file: string, key: Buffer): void {
  if (!existsSync(`${file}-wal`)) return;
  let old: CacheDatabase;
  try {
    old = openCacheDatabase(file, key, { create: false });
  } catch (err) {
    if (isDiskFullError(err)) throw diskFullError();
    return;
  }
  try {
    old.pragma('wal_checkpoint(TRUNCATE)');
  } catch (err) {
    if (isDiskFullError(err)) throw diskFullError();
  } finally {
    old.close();
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
      foldOldWal(target, keys.cacheKey);
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
