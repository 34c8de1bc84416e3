/**
 * Small sync bookkeeping kept in the encrypted cache (the latest audit
 * receipt, the pinned receipt key, a rollback notice), through the cache
 * store (./store/operations/sync-state-rows.ts). The pull cursor is not
 * here: it moves only with its page (./sync-pull.ts). Holds no SQL. Never
 * store a secret or PHI here.
 */
import type { CacheSession } from './cache-session';

type WithStore = Pick<CacheSession, 'store'>;

/** The value kept under `key`, or null. */
export function syncState(session: WithStore, key: string): Promise<string | null> {
  return session.store.call('syncState', { key });
}

/** Keeps `value` under `key`; null removes it. */
export async function setSyncState(session: WithStore, key: string, value: string | null): Promise<void> {
  await session.store.call('setSyncState', { key, value });
}

