/**
 * Whole-cache operations for IT and tests: statistics without PHI, a full
 * verification (file integrity and the audit chain), the BALP export of the
 * audit log, and wipe. Wipe deletes the keychain entries first, so the data
 * is unreadable even if deleting the files fails halfway; it holds the
 * folder's writer lock, so it never deletes a cache that is open. Never print a
 * resource, a name or an identifier from here.
 */
import { rmSync, existsSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../../shared/app-error';
import { toBalpAuditEvent } from '../../shared/balp-audit-event';
import { DATABASE_FILE, PROFILE_FILE, readProfile } from './cache-profile';
import { checkCacheIntegrity } from './cache-database';
import { acquireFolderLockWaiting, lockFileMissing, lockFileMissingError } from './cache-folder-lock';
import { storedEntry, type ChainReport, type StoredAuditEntry } from './audit-chain';
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

export function cacheStats(session: CacheSession): CacheStats {
  const { db } = session;
  const resources: Record<string, number> = {};
  for (const row of db.prepare('SELECT resource_type AS t, count(*) AS n FROM resources GROUP BY resource_type ORDER BY resource_type').all() as Array<{ t: string; n: number }>) {
    resources[row.t] = row.n;
  }
  const count = (sql: string) => (db.prepare(sql).pluck().get() as number) ?? 0;
  return {
    resources,
    patients: count('SELECT count(*) FROM patients'),
    auditEntries: count('SELECT count(*) FROM audit_log'),
    signedHeads: count('SELECT count(*) FROM audit_heads'),
  };
}

/**
 * File integrity first (every page's HMAC), then the audit chain from the
 * start, then the backend's latest receipt (entries already uploaded must
 * still be here, unchanged).
 */
export function verifyCache(session: CacheSession): ChainReport {
  checkCacheIntegrity(session.db);
  // Still synchronous (the store's migration runNow) for the command line.
  const report = session.store.runNow('verifyChain', {});
  const receipt = report.ok ? receiptProblem(session) : null;
  return receipt ? { ...report, ok: false, firstBad: { seq: receipt.seq, problem: 'receipt-mismatch' } } : report;
}

export function* auditEvents(session: CacheSession, beforeSeq = Number.MAX_SAFE_INTEGER): Generator<Record<string, unknown>> {
  const rows = session.db.prepare('SELECT seq, entry, prev_hash, hash FROM audit_log WHERE seq < ? ORDER BY seq').iterate(beforeSeq) as Iterable<StoredAuditEntry>;
  for (const row of rows) {
    yield toBalpAuditEvent(storedEntry(row), {
      applicationName: 'clinician-desktop',
      custodianName: `clinician-desktop-cache:${session.context.deviceId}`,
      hash: row.hash,
    });
  }
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
