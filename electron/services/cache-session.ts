/**
 * One open cache: the profile, the keys from the keychain, the decrypted
 * database and the audit chain, opened together and closed together. Opening
 * fails closed: no keychain, a locked one, a missing or wrong key each give a
 * typed error and write nothing. Closing signs the audit head, closes the
 * database and drops the keys from memory. Never create a key for a cache
 * that already exists, and never open the database without the keychain.
 * A session holds its data folder's writer lock from before it reads the
 * profile until close; every failure path releases it, and a failed first
 * run removes what it made (keychain entries, profile, database file).
 */
import { existsSync, rmdirSync, rmSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../../shared/app-error';
import { AuditChain, type AuditContext, verifyAuditChain, describeChainProblem } from './audit-chain';
import { asCacheError, openCacheDatabase, type CacheDatabase } from './cache-database';
import { DATABASE_FILE, newProfile, readProfile, removeProfile, tightenProfileMode, writeProfile, type CacheProfile } from './cache-profile';
import { createDeviceKeys, deleteDeviceKeys, dropKeys, loadDeviceKeys, storeDeviceKeys, type DeviceKeys, type PasskeyBinding } from './device-keys';
import { acquireFolderLock, acquireFolderLockWaiting, cacheInUseError, LOCK_FILE, type FolderLock } from './cache-folder-lock';
import { isDiskFullError } from './cache-disk-full';
import { checkRollbackAtOpen } from './rollback-guard';
import { rememberClinicianName } from './workspace-state';
import { emergencyPurposeFor } from './glass/glass-grants';
import type { SecretStore } from './secret-store';
import type { AuditNetwork } from '../../shared/audit-entry';
import { sessionStore, type SessionStore } from './store/session-store';
import { pageCacheKiB } from './page-cache-policy';

export interface CacheSession {
  readonly profile: CacheProfile;
  readonly db: CacheDatabase;
  readonly audit: AuditChain;
  readonly keys: DeviceKeys;
  readonly context: AuditContext;
  /**
   * The cache store (./store/README.md). During the migration its calls run
   * on this session's connection (./store/session-store.ts); services that
   * moved call it, the others still use `db` and `audited`.
   */
  readonly store: SessionStore;
  /** Runs `fn` in one transaction (access plus audit entries), then signs the head if due. */
  audited<T>(fn: () => T): T;
  close(): void;
}

export interface OpenSessionOptions {
  dataDir: string;
  secrets: SecretStore;
  actor: string;
  /** The clinician's display name (remembered in the cache so the access trail names people). */
  actorName?: string;
  purpose?: string;
  /** Whether the device is connected to the hospital server, recorded in every audit entry. */
  network?: () => AuditNetwork;
  /** First run allowed: create profile, keys and database if the folder holds no cache. */
  create: boolean;
  /** The passkey's PRF output, when the keys are bound to a passkey. */
  prfOutput?: Buffer;
  /** For a new profile: its keys go to the keychain wrapped by this passkey, never unwrapped. */
  binding?: PasskeyBinding;
  /** For a new profile: keys made beforehand (enrollment registers the public key first). */
  newKeys?: DeviceKeys;
  /** For a new profile: its id chosen beforehand (enrollment registers it as the device id first). */
  profileId?: string;
  clock?: () => Date;
  /** Page cache in KiB; default: the process's (IT's policy cachePageCacheMiB, page-cache-policy.ts). */
  cacheKiB?: number;
  /**
   * How long to wait for the folder's writer lock before CACHE_IN_USE: long
   * enough for an unlock the app has just aborted to close its cache, short
   * enough that a second window is told at once.
   */
  lockWaitMs?: number;
  /** Told what the folder watch did (the app may tell the clinician; tests wait on it). */
  onFolderEvent?: (event: FolderEvent) => void;
}

/**
 * `relocked`: cache.lock was deleted or replaced and this session took the
 * new one. `writer-lost`: someone else took it first; this session writes
 * nothing more. `journal-restored`: cache.db-wal/-shm were deleted under it;
 * every commit was folded into cache.db and a new journal made.
 */
export type FolderEvent = 'relocked' | 'writer-lost' | 'journal-restored';

export async function openCacheSession(options: OpenSessionOptions): Promise<CacheSession> {
  // The folder's writer lock before anything else: a second window, a CLI
  // wipe or import, or a restore must not touch a cache that is open.
  const folderExisted = existsSync(options.dataDir);
  const lock = await acquireFolderLockWaiting(options.dataDir, { create: options.create, waitMs: options.lockWaitMs ?? 1000 });
  // Set once this open found no cache in the folder: a failure then undoes everything it made.
  let firstRun: { keysFor: string | null } | null = null;
  let keys: DeviceKeys | null = null;
  let db: CacheDatabase | null = null;
  try {
    let profile = readProfile(options.dataDir);
    if (profile) {
      tightenProfileMode(options.dataDir);
      keys = await loadDeviceKeys(options.secrets, profile.profileId, options.prfOutput);
    } else {
      firstRun = { keysFor: null };
      if (!options.create) throw new AppError('CACHE_NOT_OPEN', 'There is no patient cache in this folder.');
      // Keys first: if the keychain refuses, not a byte has been written to disk.
      const fresh = options.profileId ? { ...newProfile(options.dataDir), profileId: options.profileId } : newProfile(options.dataDir);
      firstRun.keysFor = fresh.profileId;
      if (options.newKeys) {
        keys = options.newKeys;
        await storeDeviceKeys(options.secrets, fresh.profileId, keys, options.binding);
      } else {
        keys = await createDeviceKeys(options.secrets, fresh.profileId, options.binding);
      }
      writeProfile(fresh);
      profile = fresh;
    }
    // The page cache IT's policy set for this process (page-cache-policy.ts), unless the caller chose one (bench, tests).
    const openDb = openCacheDatabase(profile.databaseFile, keys.cacheKey, { create: options.create, cacheKiB: options.cacheKiB ?? pageCacheKiB() });
    db = openDb;
    const context: AuditContext = { actor: options.actor, ...(options.actorName ? { actorName: options.actorName } : {}), deviceId: profile.profileId, purpose: options.purpose ?? 'TREAT', ...(options.network ? { network: options.network } : {}),
      // Entries naming a patient under an active break-the-glass grant carry the emergency purpose (./glass/glass-grants.ts).
      purposeFor: emergencyPurposeFor(openDb) };
    const audit = new AuditChain(openDb, keys.signingKey, context, options.clock);
    // Vouch for entries a crash left unsigned, but only after checking they chain on.
    const lastHead = openDb.prepare('SELECT max(seq) AS seq FROM audit_heads').get() as { seq: number | null };
    const tail = verifyAuditChain(openDb, keys.publicKey, context.deviceId, lastHead.seq ?? 1);
    if (tail.ok) audit.signHead(true);
    else if (tail.firstBad) process.emitWarning(describeChainProblem(tail.firstBad), 'AuditChainWarning');
    const session = sessionFrom({ profile, db: openDb, keys, context, audit }, lock, options.onFolderEvent);
    await rememberClinicianName(session);
    // A rollback of the folder (restored copy, lost WAL) is said at once; nothing is refused or wiped (./rollback-guard).
    await checkRollbackAtOpen(session, options.secrets);
    return session;
  } catch (err) {
    try {
      db?.close();
    } catch {
      // closing after a failed write: nothing more to save
    }
    if (keys) dropKeys(keys);
    if (firstRun) await undoFirstRun(options, firstRun.keysFor, lock, folderExisted);
    lock.release();
    throw asCacheError(err);
  }
}

/**
 * A first run that failed (a full disk, a keychain that did not keep the
 * keys) leaves nothing behind: no keychain entries, no profile, no database
 * or lock file (not even a 0-byte one), and no folder it made itself. Runs
 * while the folder lock is still held; the lock file goes last.
 */
async function undoFirstRun(options: OpenSessionOptions, keysFor: string | null, lock: FolderLock, folderExisted: boolean): Promise<void> {
  if (keysFor) await deleteDeviceKeys(options.secrets, keysFor).catch(() => undefined);
  try {
    removeProfile(options.dataDir);
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(join(options.dataDir, DATABASE_FILE + suffix), { force: true });
    rmSync(lock.file, { force: true });
    lock.release();
    if (!folderExisted) rmdirSync(options.dataDir);
  } catch {
    // best effort: a folder that is not empty keeps what someone else put there
  }
}

/**
 * Keeps this session the folder's one writer. Before each audited write (one
 * stat) and at once when the folder watch (inotify, ReadDirectoryChangesW,
 * FSEvents) sees cache.lock change: a lock file deleted or replaced by hand
 * is re-made and re-locked within milliseconds, so a second opener is
 * refused; if someone else took the new lock first, the database connection
 * turns query_only, so no write path (audited or not: outbox settle, sync
 * state, receipts) commits beside the other writer. The same watch sees the
 * journal (-wal/-shm) deleted under the open cache (and so does the check
 * before each audited write): the commits in it go into cache.db at once and
 * a new journal is made, so a backup or a crash loses nothing committed.
 */
class WriterGuard {
  private lost = false;
  private watcher: FSWatcher | null = null;

  constructor(
    private lock: FolderLock,
    private readonly db: CacheDatabase,
    private readonly onEvent: ((event: FolderEvent) => void) | undefined,
  ) {
    try {
      this.watcher = watch(lock.dataDir, { persistent: false }, (_type, name) => this.onChange(name === null ? null : String(name)));
      this.watcher.on('error', () => this.stopWatching());
    } catch {
      // No watch possible (folder gone, no watch handles left): the check before each audited write remains.
      this.watcher = null;
    }
  }

  get writerLost(): boolean {
    return this.lost;
  }

  /** Throws CACHE_IN_USE when another opener holds the folder's lock; re-takes a deleted or replaced lock file. */
  check(): void {
    if (this.lost) throw cacheInUseError();
    if (this.lock.intact()) return;
    let again: FolderLock;
    try {
      again = acquireFolderLock(this.lock.dataDir, { create: false });
    } catch (err) {
      if (err instanceof AppError && err.code === 'CACHE_IN_USE') this.loseWriter();
      throw err;
    }
    this.lock.release();
    this.lock = again;
    this.onEvent?.('relocked');
  }

  private loseWriter(): void {
    if (this.lost) return;
    this.lost = true;
    try {
      this.db.pragma('query_only = ON');
    } catch {
      // the connection is closing
    }
    this.onEvent?.('writer-lost');
  }

  private onChange(name: string | null): void {
    if (this.watcher === null) return;
    if (!this.db.open) {
      // An open that failed after this guard was made, or a close in progress: nothing to guard.
      this.stopWatching();
      return;
    }
    if (name === null || name === LOCK_FILE) {
      try {
        this.check();
      } catch {
        // said through writer-lost; the next write is refused
      }
    }
    if (!this.lost && (name === null || name === `${DATABASE_FILE}-wal` || name === `${DATABASE_FILE}-shm`)) this.restoreJournal();
  }

  /** Before each audited write too (two stats): a write never goes into a deleted journal when the watch has not run yet. */
  checkJournal(): void {
    if (!this.lost) this.restoreJournal();
  }

  /**
   * -wal or -shm deleted under the open database: this connection still
   * writes into the deleted files, which nobody else (a backup, the next
   * open) would see. Checkpoint everything into cache.db, then leave and
   * re-enter WAL mode, which makes a new -wal and -shm at the path.
   */
  private restoreJournal(): void {
    const file = this.db.name;
    if (existsSync(`${file}-wal`) && existsSync(`${file}-shm`)) return;
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.db.pragma('journal_mode = DELETE');
      this.db.pragma('journal_mode = WAL');
      // The first read in WAL mode makes the new -wal and -shm.
      this.db.prepare('SELECT count(*) FROM sqlite_master').get();
      this.onEvent?.('journal-restored');
    } catch {
      // A reader (a backup) holds the database: the next change event tries again.
    }
  }

  stopWatching(): void {
    const w = this.watcher;
    this.watcher = null;
    try {
      w?.close();
    } catch {
      // already closed
    }
  }

  release(): void {
    this.stopWatching();
    this.lock.release();
  }
}

/**
 * Wraps opened parts into a session. openCacheSession is the only production
 * caller; the benchmark uses it to run the same services on a plaintext
 * baseline database.
 */
export function sessionFrom(parts: Pick<CacheSession, 'profile' | 'db' | 'keys' | 'context' | 'audit'>, lock?: FolderLock, onFolderEvent?: (event: FolderEvent) => void): CacheSession {
  const { db, audit, keys } = parts;
  let open = true;
  const guard = lock ? new WriterGuard(lock, db, onFolderEvent) : null;
  let store: SessionStore | null = null;
  const session: CacheSession = {
    ...parts,
    get store(): SessionStore {
      if (!store) {
        store = sessionStore(session);
        if (!open) store.markClosed();
      }
      return store;
    },
    audited<T>(fn: () => T): T {
      if (!open) throw new AppError('CACHE_NOT_OPEN', 'The patient cache is locked.');
      guard?.check();
      guard?.checkJournal();
      try {
        const result = db.transaction(fn)();
        audit.signHead();
        return result;
      } catch (err) {
        throw asCacheError(err);
      }
    },
    close() {
      if (!open) return;
      open = false;
      store?.markClosed();
      guard?.stopWatching();
      try {
        // A session that lost the folder to another writer writes nothing, not even its head.
        if (!guard?.writerLost) audit.signHead(true);
      } catch (err) {
        // A full disk at close: the head stays unsigned; the next open checks the tail and signs it.
        if (!isDiskFullError(err)) throw asCacheError(err);
      } finally {
        try {
          db.close();
        } finally {
          dropKeys(keys);
          guard?.release();
        }
      }
    },
  };
  return session;
}
