/**
 * Whole-cache operations for IT and tests: statistics without PHI, a full
 * verification (file integrity and the audit chain), the BALP export of the
 * audit log, and wipe. Wipe deletes the keychain entries first, so the data
 * is unreadable even if deleting the files fails halfway; it holds the
 * folder's writer lock, so it never deletes a cache that is open. The reads
 * are store calls (../store/operations/cache-maintenance-reads.ts); this
 * file holds no SQL. Never print a resource, a name or an identifier from
 * here.
 */
import { rmSync, existsSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../../shared/app-error';
import { DATABASE_FILE, PROFILE_FILE, readProfile } from './cache-profile';
import { acquireFolderLockWaiting, lockFileMissing, lockFileMissingError } from './cache-folder-lock';
import type { ChainReport } from './audit-chain';
import { deleteDeviceKeys } from './device-keys';
import { receiptProblem } from './audit-upload';
import type { CacheSession } from './cache-session';
import type { SecretStore } from './secret-store';

export interface CacheStats {
  resources: Record<string, number>;
  patients: number;
  auditEntries: number;
  signedHeads: number;
}

/** Counts by resource type, patients, audit entries and signed heads (no PHI, no entry). */
export function cacheStats(session: Pick<CacheSession, 'store'>): Promise<CacheStats> {
  return session.store.call('cacheStats', { audit: null });
}

/**
 * File integrity first (every page's HMAC), then the audit chain from the
 * start, then the backend's latest receipt (entries already uploaded must
 * still be here, unchanged).
 */
export async function verifyCache(session: CacheSession): Promise<ChainReport> {
  await session.store.call('integrityCheck', {});
  const report = await session.store.call('verifyChain', {});
  const receipt = report.ok ? await receiptProblem(session) : null;
  return receipt ? { ...report, ok: false, firstBad: { seq: receipt.seq, problem: 'receipt-mismatch' } } : report;
}

/** Audit entries read per store call by `auditEvents`. */
const EVENTS_PAGE = 1000;

/** Every audit entry before `beforeSeq` as a BALP AuditEvent, in order, a page per store call. */
export async function* auditEvents(session: Pick<CacheSession, 'store'>, beforeSeq = Number.MAX_SAFE_INTEGER): AsyncGenerator<Record<string, unknown>> {
  let after = 0;
  for (;;) {
    const page = await session.store.call('auditEventsPage', { afterSeq: after, beforeSeq, limit: EVENTS_PAGE });
    for (const { event } of page) yield event;
    if (page.length < EVENTS_PAGE) return;
    after = page[page.length - 1]!.seq;
  }
}

/** All of `auditEvents` at once (tests, small caches). */
export async function auditEventList(session: Pick<CacheSession, 'store'>, beforeSeq?: number): Promise<Array<Record<string, unknown>>> {
  const events: Array<Record<string, unknown>> = [];
  for await (const event of auditEvents(session, beforeSeq)) events.push(event);
  return events;
}

const CACHE_FILES = [`${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`, DATABASE_FILE, PROFILE_FILE];

export interface WipeOptions {
  /**
   * How long to wait for the folder's writer lock. The app waits a moment (an
   * unlock it has just aborted may still be closing its cache); the command
   * line never waits: an open app means CACHE_IN_USE and nothing is deleted.
   */
  waitMs?: number;
  /**
   * The command line's wipe refuses a folder whose cache.lock was deleted
   * while cache.db is there (an app may still hold its lock on the deleted
   * file) unless `force` (the operator has closed every window).
   */
  lockFileRequired?: boolean;
  force?: boolean;
}

/**
 * Deletes the keys (first) and then the cache files, holding the folder's
 * writer lock throughout: a cache open anywhere (this app, another window,
 * the command line) refuses with CACHE_IN_USE and loses nothing.
 */
export async function wipeCache(dataDir: string, secrets: SecretStore, options: WipeOptions = {}): Promise<{ keysDeleted: boolean; filesDeleted: number }> {
  if (options.lockFileRequired && !options.force && lockFileMissing(dataDir)) throw lockFileMissingError();
  const lock = await acquireFolderLockWaiting(dataDir, { create: false, waitMs: options.waitMs ?? 5000 });
  let filesDeleted = 0;
  let keysDeleted = false;
  try {
    let profile: ReturnType<typeof readProfile> = null;
    try {
      profile = readProfile(dataDir);
    } catch {
      // A damaged profile names no keys; the files still go.
    }
    if (profile === null && !existsSync(join(dataDir, DATABASE_FILE))) {
      throw new AppError('CACHE_NOT_OPEN', 'There is no patient cache in this folder.');
    }
    if (profile) {
      await deleteDeviceKeys(secrets, profile.profileId);
      keysDeleted = true;
    }
    for (const name of CACHE_FILES) {
      const file = join(dataDir, name);
      if (existsSync(file)) {
        rmSync(file);
        filesDeleted++;
      }
    }
  } finally {
    // The lock file last, while still held: whoever opens the folder next makes a new one.
    try {
      rmSync(lock.file, { force: true });
    } catch {
      // Windows keeps an open file; it holds nothing
    }
    lock.release();
  }
  if (readdirSync(dataDir).length === 0) rmdirSync(dataDir);
  return { keysDeleted, filesDeleted };
}
