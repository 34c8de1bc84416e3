/**
 * The store's side of the sync worker's own bookkeeping of a push (moved
 * from ../../sync-worker.ts): the changes still young enough to be held for
 * the undo window, and the attempt given back for a push that never reached
 * the backend. Reads and counts only: no resource, no PHI crosses (keys,
 * sequence numbers, times). Never change what a queued change holds.
 */
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';

/** Queued changes created after `since` (ISO time) that have not failed, in order. */
export function changesSince(tx: StoreTx, { since }: StoreArgs<'changesSince'>): StoreResults['changesSince'] {
  return tx.db
    .prepare('SELECT seq, idempotency_key AS idempotencyKey, created_at AS createdAt FROM outbox WHERE created_at > ? AND last_error IS NULL ORDER BY seq')
    .all(since) as StoreResults['changesSince'];
}

/** Gives back the attempt counted for changes whose push never reached the backend; answers how many were given back. */
export function unmarkSent(tx: StoreTx, { keys }: StoreArgs<'unmarkSent'>): StoreResults['unmarkSent'] {
  if (keys.length === 0) return 0;
  return tx.db.prepare('UPDATE outbox SET attempts = attempts - 1 WHERE attempts > 0 AND idempotency_key IN (SELECT value FROM json_each(?))').run(JSON.stringify(keys)).changes;
}
