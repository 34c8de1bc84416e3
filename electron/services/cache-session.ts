/**
 * One open cache: the profile, the keys from the keychain, the decrypted
 * database and the audit chain, opened together and closed together. Opening
 * fails closed: no keychain, a locked one, a missing or wrong key each give a
 * typed error and write nothing. Closing signs the audit head, closes the
 * database and drops the keys from memory. Never create a key for a cache
 * that already exists, and never open the database without the keychain.
 */
import { AppError } from '../../shared/app-error';
import { AuditChain, type AuditContext, verifyAuditChain, describeChainProblem } from './audit-chain';
import { asCacheError, openCacheDatabase, type CacheDatabase } from './cache-database';
import { newProfile, readProfile, writeProfile, type CacheProfile } from './cache-profile';
import { createDeviceKeys, dropKeys, loadDeviceKeys, storeDeviceKeys, type DeviceKeys, type PasskeyBinding } from './device-keys';
import type { SecretStore } from './secret-store';
import type { AuditNetwork } from '../../shared/audit-entry';

export interface CacheSession {
  readonly profile: CacheProfile;
  readonly db: CacheDatabase;
  readonly audit: AuditChain;
  readonly keys: DeviceKeys;
  readonly context: AuditContext;
  /** Runs `fn` in one transaction (access plus audit entries), then signs the head if due. */
  audited<T>(fn: () => T): T;
  close(): void;
}

export interface OpenSessionOptions {
  dataDir: string;
  secrets: SecretStore;
  actor: string;
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
  cacheKiB?: number;
}

export async function openCacheSession(options: OpenSessionOptions): Promise<CacheSession> {
  let profile = readProfile(options.dataDir);
  let keys: DeviceKeys;
  if (profile) {
    keys = await loadDeviceKeys(options.secrets, profile.profileId, options.prfOutput);
  } else {
    if (!options.create) throw new AppError('CACHE_NOT_OPEN', 'There is no patient cache in this folder.');
    // Keys first: if the keychain refuses, not a byte has been written to disk.
    const fresh = options.profileId ? { ...newProfile(options.dataDir), profileId: options.profileId } : newProfile(options.dataDir);
    if (options.newKeys) {
      keys = options.newKeys;
      await storeDeviceKeys(options.secrets, fresh.profileId, keys, options.binding);
    } else {
      keys = await createDeviceKeys(options.secrets, fresh.profileId, options.binding);
    }
    writeProfile(fresh);
    profile = fresh;
  }
  let db: CacheDatabase;
  try {
    db = openCacheDatabase(profile.databaseFile, keys.cacheKey, {
      create: options.create,
      ...(options.cacheKiB !== undefined ? { cacheKiB: options.cacheKiB } : {}),
    });
  } catch (err) {
    dropKeys(keys);
    throw err;
  }
  const context: AuditContext = { actor: options.actor, deviceId: profile.profileId, purpose: options.purpose ?? 'TREAT', ...(options.network ? { network: options.network } : {}) };
  const audit = new AuditChain(db, keys.signingKey, context, options.clock);
  try {
    // Vouch for entries a crash left unsigned, but only after checking they chain on.
    const lastHead = db.prepare('SELECT max(seq) AS seq FROM audit_heads').get() as { seq: number | null };
    const tail = verifyAuditChain(db, keys.publicKey, context.deviceId, lastHead.seq ?? 1);
    if (tail.ok) audit.signHead(true);
    else if (tail.firstBad) process.emitWarning(describeChainProblem(tail.firstBad), 'AuditChainWarning');
  } catch (err) {
    db.close();
    dropKeys(keys);
    throw asCacheError(err);
  }

  return sessionFrom({ profile, db, keys, context, audit });
}


/**
 * Wraps opened parts into a session. openCacheSession is the only production
 * caller; the benchmark uses it to run the same services on a plaintext
 * baseline database.
 */
export function sessionFrom(parts: Pick<CacheSession, 'profile' | 'db' | 'keys' | 'context' | 'audit'>): CacheSession {
  const { db, audit, keys } = parts;
  let open = true;
  return {
    ...parts,
    audited<T>(fn: () => T): T {
      if (!open) throw new AppError('CACHE_NOT_OPEN', 'The patient cache is locked.');
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
      try {
        audit.signHead(true);
      } finally {
        db.close();
        dropKeys(keys);
      }
    },
  };
}
