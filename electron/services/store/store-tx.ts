/**
 * What an operation of the store gets: the open connection, the audit chain
 * on it, and who is acting. Only the store's host in the worker makes one,
 * always inside the one transaction of the call. Never hand a StoreTx to
 * code outside electron/services/store/.
 */
import type { KeyObject } from 'node:crypto';
import type { AuditChain } from '../audit-chain';
import type { CacheDatabase } from '../cache-database';

export interface StoreTx {
  readonly db: CacheDatabase;
  readonly audit: AuditChain;
  /** The acting clinician (their id, and display name where known). */
  readonly actor: string;
  readonly actorName: string | undefined;
  /** This device's id and public key, to verify the chain's signed heads. */
  readonly deviceId: string;
  readonly publicKey: KeyObject;
  /** The cache key, for the one call that needs it (backupTo checks its copy with it); never returned, never logged. */
  readonly cacheKey: Buffer;
}
