/**
 * Undo until sent: takes back the latest queued change of one resource while
 * it is still on this computer only, or one the backend refused (it did not
 * take it: discarding it is safe). The outbox entry is deleted and the
 * resource put back as it was before the change (or deleted, if the change
 * created it), or to the newer version the pull met meanwhile, in one
 * audited transaction ('U' update or 'D' delete, naming the resource and its
 * patient). Undoing again takes back the change before it, if that one is
 * still unsent too.
 *
 * Changes made together (one vitals entry: a change group) are one unit:
 * an undo of any of them takes back all of them, or none when any part has
 * left (sent, in flight, answered, or already gone from the outbox).
 *
 * A change is "on this computer only" when it was never pushed (attempts 0:
 * a push whose answer was lost may have reached the backend), is not in the
 * push in flight now (`sending`, from the sync worker), and is not held or
 * folded into a conflict. A push counts its entries as sent (markSent) in
 * the store before it goes out and sends only those still queued then, so
 * an undo and a push, each one store transaction, never both take a change. Anything else is ALREADY_SENT: a
 * correction is a new change. A signed note with an addendum is never
 * unsigned. A new note's removal keeps the draft typed on it, as the draft
 * of a new note (refused if the patient already has one, rather than lose
 * either).
 *
 * Authorization: this is the signed-in clinician's own cache; whoever may
 * open it may undo what waits in its outbox. An unknown resource and one of
 * which this cache knows nothing get the same NOT_FOUND text. Never restore
 * over a change that left, never undo a change of a resource in conflict,
 * never take back part of a change group, and never put an input value into
 * an error.
 *
 * The planning and the take-back are one call of the cache store
 * (./store/operations/change-undo-rows.ts, one transaction with its audit
 * entries); this module holds no SQL.
 */
import type { CacheSession } from './cache-session';

export { UNDO_MESSAGES } from './store/operations/change-undo-rows';

export interface UndoTarget {
  resourceType: string;
  resourceId: string;
}

/**
 * Takes back the resource's latest queued change (and the rest of its change
 * group), or refuses whole. `sending`: the idempotency keys of the push in
 * flight now (the sync worker's), never taken back.
 */
export function undoChange(session: CacheSession, target: UndoTarget, sending: Iterable<string> = []): Promise<{ undone: boolean }> {
  return session.store.call('undoChange', { ...target, sending: [...sending] });
}
