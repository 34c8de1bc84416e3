/**
 * The store's backup (`backupTo`) and the SQLite parts of backup and restore
 * (moved from ../../cache-backup.ts, which keeps the file operations: where
 * a backup may go, temp files, restore's folder lock and rename). A backup
 * is one consistent snapshot taken with `VACUUM INTO` where the connection
 * and the key are, still encrypted with the same key, into a 0600
 * temp file beside the target that must open with the key, pass
 * integrity_check and hold the source's schema version before it is fsynced
 * and renamed over the target. `backupTo` runs outside a transaction
 * (SQLite refuses VACUUM inside one; VACUUM INTO is one read transaction of
 * its own). Must never write a plaintext copy, keep the key beyond the call,
 * or leave a temp file behind.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AppError } from '../../../../shared/app-error';
import { checkCacheIntegrity, openCacheDatabase, type CacheDatabase } from '../../cache-database';
import { diskFullError, isDiskFullError } from '../../cache-disk-full';
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';

export function tempBeside(file: string, label: string): string {
  return join(dirname(file), `.${label}-${randomBytes(6).toString('hex')}.tmp`);
}

/** fsync of a folder, so a rename in it survives a power cut (not possible on Windows; skipped there). */
export function fsyncFolder(dir: string): void {
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

export function notThisCachesBackup(): AppError {
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
export function checkCopy(file: string, key: Buffer): number {
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

/** Whether an existing file opens with the key (a backup of this cache may be replaced by a newer one; nothing else). */
export function opensWithKey(file: string, key: Buffer): boolean {
  try {
    openCacheDatabase(file, key, { create: false, readonly: true }).close();
    return true;
  } catch {
    return false;
  }
}

function backupFailure(err: unknown): unknown {
  if (isDiskFullError(err)) return new AppError('DISK_FULL', 'The disk is full. Free space where the backup goes; the cache itself is unchanged.');
  if (err instanceof AppError) return err;
  return new AppError('CACHE_NOT_OPEN', 'The backup could not be written.');
}

/** One consistent, still-encrypted snapshot of an open database at `outFile` (atomically replacing it). */
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

/** The store's call: the open cache copied to `file` (its place was checked by ../../cache-backup.ts); an existing file must open with the key. */
export function backupTo(tx: StoreTx, { file }: StoreArgs<'backupTo'>): StoreResults['backupTo'] {
  if (statSafe(file) && !opensWithKey(file, tx.cacheKey)) {
    throw new AppError('INVALID_INPUT', 'Write the backup to a new file outside every cache folder (not over cache.db, profile.json or another cache\'s files).');
  }
  return backupDatabaseTo(tx.db, tx.cacheKey, file);
}

function statSafe(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Before a restore's rename: commits still in the old database's WAL go into
 * it, so the old -wal is empty when it is removed beside the restored file.
 * A damaged old database (the usual reason to restore) cannot be
 * checkpointed; its WAL belongs to it and goes with it.
 */
export function foldOldWal(file: string, key: Buffer): void {
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
