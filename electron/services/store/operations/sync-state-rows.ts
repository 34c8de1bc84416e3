/**
 * The store's side of the small sync bookkeeping kept in the cache (moved
 * from ../../sync-state.ts): one text value per key in `sync_state` (the
 * latest audit receipt, the pinned receipt key, a rollback notice). The
 * keys the store itself owns (the pull cursor, versions kept beside the
 * queue) are refused by the call's schema (store-api.ts): those move only
 * with the data they belong to. Never store a secret or PHI here.
 */
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';

export function syncState(tx: StoreTx, { key }: StoreArgs<'syncState'>): StoreResults['syncState'] {
  return (tx.db.prepare('SELECT value FROM sync_state WHERE key = ?').pluck().get(key) as string | undefined) ?? null;
}

/** Sets the key's value; null removes the key. */
export function setSyncState(tx: StoreTx, { key, value }: StoreArgs<'setSyncState'>): StoreResults['setSyncState'] {
  if (value === null) tx.db.prepare('DELETE FROM sync_state WHERE key = ?').run(key);
  else tx.db.prepare('INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  return null;
}
