/**
 * One open cache: the profile, the keys from the keychain, and the cache
 * store (./store/README.md) running in its worker thread, opened together
 * and closed together. The worker owns the database connection, the cache
 * key and the audit chain while the session is open; main keeps only the
 * signing key (device heads, sync-only sign-in, consult keys). Opening fails
 * closed: no keychain, a locked one, a missing or wrong key each give a
 * typed error and write nothing. Closing refuses every call at once, then
 * the worker signs the audit head, closes the database and zeroes the key.
 * Never create a key for a cache that already exists, never keep the cache
 * key on this thread after the worker has it, and never open the database
 * without the keychain. A session holds its data folder's writer lock from
 * before it reads the profile until its worker has closed; every failure
 * path releases it, and a failed first run removes what it made (keychain
 * entries, profile, database file).
 */
import { existsSync, rmdirSync, rmSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../../shared/app-error';
import type { AuditContext, ChainHead } from './audit-chain';
import { asCacheError } from './cache-database';
import { DATABASE_FILE, newProfile, readProfile, removeProfile, tightenProfileMode, writeProfile, type CacheProfile } from './cache-profile';
import {
  bindDeviceKeysToPasskey,
  createDeviceKeys,
  deleteDeviceKeys,
  dropKeys,
  loadDeviceKeys,
  storeDeviceKeys,
  type DeviceKeys,
  type PasskeyBinding,
} from './device-keys';
import { acquireFolderLock, acquireFolderLockWaiting, cacheInUseError, LOCK_FILE, type FolderLock } from './cache-folder-lock';
import { checkRollbackAtOpen } from './rollback-guard';
import { rememberClinicianName } from './workspace-state';
import type { SecretStore } from './secret-store';
import type { AuditNetwork } from '../../shared/audit-entry';
import type { CacheStore, StoreArgs, StoreCallName, StoreResults } from './store/store-api';
import { storeClosedError } from './store/store-errors';
import { openWorkerStore, type WorkerCacheStore } from './store/store-client';
import { pageCacheKiB } from './page-cache-policy';

/** The keys main keeps while a session is open: the cache key lives only in the store's worker. */
export type SessionKeys = Pick<DeviceKeys, 'signingKey' | 'publicKey'>;

export interface CacheSession {
  readonly profile: CacheProfile;
  readonly keys: SessionKeys;
  readonly context: Omit<AuditContext, 'purposeFor'>;
  /** The cache store in its worker: every read and write of the cache goes through it (./store/README.md). */
  readonly store: CacheStore;
  /** Told each committed chain head (./rollback-guard.ts keeps it in the keychain). */
  onHead(listener: (head: ChainHead) => void): void;
  /**
   * Refuses every store call at once (STORE_CLOSED); resolves once the
   * worker has signed the head, closed the database and zeroed the key, and
   * the folder lock is released. Never rejects; idempotent.
   */
  close(): Promise<void>;
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
  /**
   * For a new profile: its keys go to the keychain wrapped by this passkey,
   * never unwrapped. For an existing one: the keys the keychain still holds
   * unwrapped are bound to it once the cache opened with them (each read back).
   */
  binding?: PasskeyBinding;
  /** For a new profile: keys made beforehand (enrollment registers the public key first). */
  newKeys?: DeviceKeys;
  /** For a new profile: its id chosen beforehand (enrollment registers it as the device id first). */
  profileId?: string;
  /** Page cache in KiB; default: the process's (IT's policy cachePageCacheMiB, page-cache-policy.ts). */
  cacheKiB?: number;
  /**
   * How long to wait for the folder's writer lock before CACHE_IN_USE: long
   * enough for an unlock the app has just aborted to close its cache, short
   * enough that a second window is told at once.
   */
  lockWaitMs?: number;
  /** The store worker's module when not the app's own: only the benchmark's plaintext baseline (bench/plain-store-worker.ts). */
  workerFile?: string;
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
  let store: WorkerCacheStore | null = null;
  let session: CacheSession | null = null;
  // A copy of the cache key kept only until an existing profile's keys are bound (zeroed in finally).
  let bindingKey: Buffer | null = null;
  try {
    let profile = readProfile(options.dataDir);
    if (profile) {
      tightenProfileMode(options.dataDir);
      keys = await loadDeviceKeys(options.secrets, profile.profileId, options.prfOutput);
      if (options.binding) bindingKey = Buffer.from(keys.cacheKey);
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
    const context: CacheSession['context'] = {
      actor: options.actor,
      ...(options.actorName ? { actorName: options.actorName } : {}),
      deviceId: profile.profileId,
      purpose: options.purpose ?? 'TREAT',
      ...(options.network ? { network: options.network } : {}),
    };
    const heads = new Set<(head: ChainHead) => void>();
    // The worker opens the file with the key (transferred: keys.cacheKey is zeroed here once it answered),
    // checks the chain's unsigned tail and signs it when it chains on.
    store = await openWorkerStore({
      file: profile.databaseFile,
      key: keys.cacheKey,
      signingKey: keys.signingKey,
      publicKey: keys.publicKey,
      context: { actor: context.actor, ...(context.actorName ? { actorName: context.actorName } : {}), deviceId: context.deviceId, purpose: context.purpose },
      create: options.create,
      // The page cache IT's policy set for this process (page-cache-policy.ts), unless the caller chose one (bench, tests).
      cacheKiB: options.cacheKiB ?? pageCacheKiB(),
      ...(options.network ? { network: options.network } : {}),
      onHead: (head) => heads.forEach((listener) => listener(head)),
      onChainProblem: (text) => process.emitWarning(text, 'AuditChainWarning'),
      ...(options.workerFile ? { workerFile: options.workerFile } : {}),
    });
    // The keys were proven by the open: those the keychain still holds unwrapped are bound now (sign-in's migration).
    if (bindingKey && options.binding) await bindDeviceKeysToPasskey(options.secrets, profile.profileId, { ...keys, cacheKey: bindingKey }, options.binding);
    session = sessionOver(store, { profile, keys: { signingKey: keys.signingKey, publicKey: keys.publicKey }, context }, heads, lock, options.onFolderEvent);
    await rememberClinicianName(session);
    // A rollback of the folder (restored copy, lost WAL) is said at once; nothing is refused or wiped (./rollback-guard).
    await checkRollbackAtOpen(session, options.secrets);
    return session;
  } catch (err) {
    if (session) await session.close();
    else await store?.close({ signHead: false }).catch(() => undefined);
    if (keys) dropKeys(keys);
    if (firstRun) await undoFirstRun(options, firstRun.keysFor, lock, folderExisted);
    lock.release();
    throw asCacheError(err);
  } finally {
    bindingKey?.fill(0);
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
 * Keeps this session the folder's one writer, from main (which holds the
 * folder lock). Before each store call (one stat) and at once when the
 * folder watch (inotify, ReadDirectoryChangesW, FSEvents) sees cache.lock
 * change: a lock file deleted or replaced by hand is re-made and re-locked
 * within milliseconds, so a second opener is refused; if someone else took
 * the new lock first, every later call is refused (CACHE_IN_USE) and the
 * worker's connection turns query_only, so nothing commits beside the other
 * writer. The same watch sees the journal (-wal/-shm) deleted under the open
 * cache (and so does the check before each call): the worker folds the
 * commits in it into cache.db at once and makes a new journal, so a backup
 * or a crash loses nothing committed.
 */
class WriterGuard {
  private lost = false;
  private watcher: FSWatcher | null = null;
  private readonly journal: string;

  constructor(
    private lock: FolderLock,
    private readonly store: WorkerCacheStore,
    databaseFile: string,
    private readonly onEvent: ((event: FolderEvent) => void) | undefined,
  ) {
    this.journal = databaseFile;
    try {
      this.watcher = watch(lock.dataDir, { persistent: false }, (_type, name) => this.onChange(name === null ? null : String(name)));
      this.watcher.on('error', () => this.stopWatching());
    } catch {
      // No watch possible (folder gone, no watch handles left): the check before each call remains.
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
    void this.store.writerLost().catch(() => undefined);
    this.onEvent?.('writer-lost');
  }

  private onChange(name: string | null): void {
    if (this.watcher === null) return;
    if (this.store.closed) {
      // A close in progress: nothing to guard.
      this.stopWatching();
      return;
    }
    if (name === null || name === LOCK_FILE) {
      try {
        this.check();
      } catch {
        // said through writer-lost; the next call is refused
      }
    }
    if (!this.lost && (name === null || name === `${DATABASE_FILE}-wal` || name === `${DATABASE_FILE}-shm`)) void this.checkJournal();
  }

  /**
   * Before each call too (two stats): a write never goes into a deleted
   * journal when the watch has not run yet. The restore is posted to the
   * worker synchronously (before this function's first await), so the
   * worker, which answers in order, runs it before the call that follows.
   */
  async checkJournal(): Promise<void> {
    if (this.lost || (existsSync(`${this.journal}-wal`) && existsSync(`${this.journal}-shm`))) return;
    // A reader (a backup) holding the database: false, and the next change or call tries again.
    if (await this.store.restoreJournal().catch(() => false)) this.onEvent?.('journal-restored');
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

/** Wraps an opened worker store into a session: the guard's checks before each call, one close for all. */
function sessionOver(
  worker: WorkerCacheStore,
  parts: Pick<CacheSession, 'profile' | 'keys' | 'context'>,
  heads: Set<(head: ChainHead) => void>,
  lock: FolderLock,
  onFolderEvent?: (event: FolderEvent) => void,
): CacheSession {
  const guard = new WriterGuard(lock, worker, parts.profile.databaseFile, onFolderEvent);
  let closing: Promise<void> | null = null;
  const store: CacheStore = {
    call<N extends StoreCallName>(name: N, args: StoreArgs<N>): Promise<StoreResults[N]> {
      // Sent at once, never after an await: a call made before close() is answered, one made after is refused.
      if (closing) return Promise.reject(storeClosedError());
      try {
        guard.check();
      } catch (err) {
        return Promise.reject(err);
      }
      // A missing journal: the restore is posted now, so the worker (answering in order) runs it before this call.
      void guard.checkJournal();
      return worker.call(name, args);
    },
    close: () => session.close(),
    get closed() {
      return closing !== null;
    },
  };
  const session: CacheSession = {
    ...parts,
    store,
    onHead(listener) {
      heads.add(listener);
    },
    close() {
      if (closing) return closing;
      guard.stopWatching();
      // A session that lost the folder to another writer writes nothing, not even its head.
      // A full disk at close leaves the head unsigned; the next open checks the tail and signs it.
      closing = worker
        .close({ signHead: !guard.writerLost })
        .catch(() => undefined)
        .finally(() => {
          heads.clear();
          guard.release();
        });
      return closing;
    },
  };
  return session;
}
