/**
 * One writer per cache data folder. The lock is a real OS lock, not a marker
 * file: SQLite's own file locking (fcntl on POSIX, LockFileEx on Windows) on
 * a small empty file, `cache.lock`, held by a connection in exclusive locking
 * mode inside a transaction that never commits. The OS drops it when the
 * process ends, however it ends, so there is never a stale lock to clean up
 * by hand; a second holder, in this process or another, gets SQLITE_BUSY,
 * which is CACHE_IN_USE here. The lock file holds no data: junk in it (read
 * only once the lock was granted, so nobody else holds it) is emptied once.
 * The open app watches the folder and re-takes a deleted lock file at once
 * (./cache-session); a lock file missing beside cache.db is never a crash's
 * doing, so wipe and restore refuse it unless forced.
 *
 * Must never: open and close another file descriptor on the lock file while
 * the lock is held (closing any descriptor of a file drops the process's
 * POSIX locks on it; SQLite's own connections are safe), wait on the lock
 * synchronously for longer than an instant (the app's main thread), or
 * report CACHE_IN_USE for anything but a lock someone else holds.
 */
import Database from 'better-sqlite3-multiple-ciphers';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync, truncateSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../../shared/app-error';
import { diskFullError, isDiskFullError } from './cache-disk-full';

export const LOCK_FILE = 'cache.lock';

export function cacheInUseError(): AppError {
  return new AppError('CACHE_IN_USE', 'This patient cache is open in another Clinician Desktop window or program. Close it and try again.');
}

/**
 * The lock file is gone while the database is there. A crash never deletes
 * it (the OS only drops the lock) and a wipe deletes it last, after the
 * database: so someone deleted it by hand, perhaps while the app has the
 * cache open (it then holds its lock on the deleted file). Destructive
 * commands refuse this unless forced.
 */
export function lockFileMissing(dataDir: string): boolean {
  return existsSync(join(dataDir, 'cache.db')) && !existsSync(join(dataDir, LOCK_FILE));
}

export function lockFileMissingError(): AppError {
  return new AppError(
    'CACHE_IN_USE',
    'The lock file of this patient cache (cache.lock) was deleted, so it cannot be told whether Clinician Desktop has the cache open. Close every Clinician Desktop window, then run the command again with --force.',
  );
}

export interface FolderLock {
  readonly dataDir: string;
  readonly file: string;
  /** Whether the lock file at the path is still the one this lock holds (false once it was deleted or replaced). */
  intact(): boolean;
  /** Releases the lock (idempotent). */
  release(): void;
}

export interface AcquireOptions {
  /** Create the data folder (mode 0700) when it does not exist; otherwise a missing folder is "no cache here". */
  create: boolean;
}

const POSIX = process.platform !== 'win32';

function sameFile(a: Stats, b: Stats): boolean {
  return a.ino === b.ino && a.dev === b.dev;
}

function statOrNull(file: string): Stats | null {
  try {
    return statSync(file);
  } catch {
    return null;
  }
}

/** Makes the folder (0700) if asked, and tightens an existing folder to 0700 on POSIX. */
function prepareFolder(dataDir: string, create: boolean): void {
  if (!existsSync(dataDir)) {
    if (!create) throw new AppError('CACHE_NOT_OPEN', 'There is no patient cache in this folder.');
    try {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      if (isDiskFullError(err)) throw diskFullError();
      throw new AppError('CACHE_NOT_OPEN', 'The patient cache folder could not be created.');
    }
  }
  if (POSIX) chmodSync(dataDir, 0o700);
}

/**
 * Creates the lock file 0600 if it is missing. O_EXCL: when the file exists
 * no descriptor is opened at all, so a lock this process already holds on it
 * is never dropped by the close below.
 */
function ensureLockFile(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    if (isDiskFullError(err)) throw diskFullError();
    throw new AppError('CACHE_NOT_OPEN', 'The patient cache folder cannot be written.');
  }
  closeSync(fd);
}

function tryLockOnce(file: string): { db: Database.Database; locked: Stats } | 'retry' | 'junk' {
  ensureLockFile(file);
  const before = statOrNull(file);
  if (!before) return 'retry';
  let db: Database.Database;
  try {
    // timeout 0: a held lock answers at once, the main thread never blocks on it.
    db = new Database(file, { timeout: 0 });
  } catch (err) {
    if (isDiskFullError(err)) throw diskFullError();
    throw new AppError('CACHE_NOT_OPEN', 'The patient cache folder cannot be written.');
  }
  try {
    // No journal file beside the lock file: nothing is ever written to it.
    db.pragma('journal_mode = MEMORY');
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    const code = (err as { code?: unknown }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw cacheInUseError();
    if (isDiskFullError(err)) throw diskFullError();
    // Bytes that are not an SQLite file: read only after the lock was granted
    // (a holder's lock would have answered BUSY first), so nobody holds it.
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') return 'junk';
    throw new AppError('CACHE_NOT_OPEN', 'The patient cache folder cannot be locked.');
  }
  // The file we locked must still be the one at the path: a wipe that held the
  // lock may have deleted it between our open and our lock (then we hold a lock
  // on an orphan that nobody else will ever look at).
  const after = statOrNull(file);
  if (!after || !sameFile(before, after)) {
    db.close();
    return 'retry';
  }
  return { db, locked: after };
}

/** Takes the folder's writer lock now or fails with CACHE_IN_USE; never waits. */
export function acquireFolderLock(dataDir: string, options: AcquireOptions): FolderLock {
  prepareFolder(dataDir, options.create);
  const file = join(dataDir, LOCK_FILE);
  let emptied = false;
  for (let attempt = 0; attempt < 5; attempt++) {
    const got = tryLockOnce(file);
    if (got === 'retry') continue;
    if (got === 'junk') {
      // The lock file holds no data: junk in it (a faulty disk, a tool that
      // wrote into it) is emptied once; nobody holds a lock on it to drop.
      if (emptied) break;
      emptied = true;
      try {
        truncateSync(file, 0);
      } catch (err) {
        if (isDiskFullError(err)) throw diskFullError();
        break;
      }
      continue;
    }
    const { db, locked } = got;
    // A lock file made by an older version may be 0644; it holds nothing, but every file here is 0600.
    if (POSIX) chmodSync(file, 0o600);
    let held = true;
    return {
      dataDir,
      file,
      intact() {
        const now = statOrNull(file);
        return held && now !== null && sameFile(now, locked);
      },
      release() {
        if (!held) return;
        held = false;
        db.close();
      },
    };
  }
  if (emptied) throw new AppError('CACHE_NOT_OPEN', 'The patient cache folder cannot be locked.');
  // The lock file keeps being replaced under us: someone is wiping or restoring this folder.
  throw cacheInUseError();
}

/**
 * Takes the lock, retrying while another holder is expected to let go soon
 * (an unlock the app has just aborted still finishing its open). For the
 * app's own wipe; the command line never waits.
 */
export async function acquireFolderLockWaiting(dataDir: string, options: AcquireOptions & { waitMs: number; retryMs?: number }): Promise<FolderLock> {
  const deadline = Date.now() + options.waitMs;
  for (;;) {
    try {
      return acquireFolderLock(dataDir, options);
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'CACHE_IN_USE') || Date.now() >= deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, options.retryMs ?? 50));
  }
}

/**
 * Whether something holds the folder's writer lock now (the app, another
 * window, a command). Takes and at once releases the lock when free.
 */
export function folderHasWriter(dataDir: string): boolean {
  try {
    acquireFolderLock(dataDir, { create: false }).release();
    return false;
  } catch (err) {
    if (err instanceof AppError && err.code === 'CACHE_IN_USE') return true;
    throw err;
  }
}

/** Runs `fn` holding the folder's writer lock, released afterwards whatever happens. */
export async function withFolderLock<T>(lock: FolderLock, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
