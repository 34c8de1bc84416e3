/**
 * Local changes and their outbox entries. A change to a resource, its outbox
 * entry (with a fresh idempotency key and the version it was made on) and
 * its audit entry commit in one transaction, so no change exists that will
 * not be sent, and none is sent that was not made. Entries leave the outbox
 * only when the backend has answered for them, or when the clinician takes
 * back one never sent or refused (change-undo.ts: each entry keeps what it
 * replaced and the change group it was made in, and a newer version the
 * pull left alone meanwhile is kept beside the queue until the backend
 * answers).
 * Never drop an entry silently: a conflict moves it, with both versions, to
 * the conflicts table.
 *
 * The rows are calls of the cache store (./store/operations/outbox-rows.ts,
 * one transaction each); this module holds no SQL and only names the calls
 * for the sync worker, the status and the tests.
 */
import type { FhirResource } from '../../shared/contract';
import type { ChangeResult } from '../../shared/sync-api';
import type { CacheSession } from './cache-session';
import type { OutboxEntry } from './store/store-api';

export type { OutboxEntry } from './store/store-api';

/** Writes `resource` locally and queues it for the backend; returns the idempotency key. */
export async function recordChange(session: CacheSession, resource: FhirResource): Promise<string> {
  const { keys } = await session.store.call('recordChanges', { change: { kind: 'resources', resources: [resource] } });
  return keys[0]!;
}

/**
 * Several changes that belong together (one vitals entry): all or none, and
 * one unit for undo (a change group) unless `group` is false (changes that
 * merely go in one transaction).
 */
export async function recordChanges(session: CacheSession, resources: FhirResource[], group?: boolean): Promise<string[]> {
  const { keys } = await session.store.call('recordChanges', { change: { kind: 'resources', resources, group } });
  return keys;
}

/** What the sync worker holds back: held entries (sent again once per token, on a passkey session only) and entries set aside. */
export interface PendingOptions {
  sendHeld?: boolean;
  heldSentAlready?: Iterable<string>;
  setAside?: Iterable<string>;
}

/**
 * The next entries to push, oldest first, stopping before a second change of
 * a resource already in the batch: that one waits for the first one's new
 * version, so it goes out re-based rather than as a self-made conflict.
 * A held entry (a conflict answered without content) goes out only when
 * `sendHeld` and it was not sent held before under this token; an entry
 * `setAside` names (one the server keeps failing on) does not go out now.
 * Either way it and every later change of its resource stay queued,
 * untouched, behind it: changes of one resource are never reordered;
 * changes of other resources go on.
 */
export function pendingChanges(session: CacheSession, limit: number, options: PendingOptions = {}): Promise<OutboxEntry[]> {
  return session.store.call('pendingChanges', {
    limit,
    sendHeld: options.sendHeld ?? true,
    heldSentAlready: [...(options.heldSentAlready ?? [])],
    setAside: [...(options.setAside ?? [])],
  });
}

/** Entries held for a passkey session (conflicts answered without content). */
export function heldCount(session: CacheSession): Promise<number> {
  return session.store.call('heldCount', {});
}

export function outboxSize(session: CacheSession): Promise<number> {
  return session.store.call('outboxSize', {});
}

/** What the sync status shows: waiting to be sent, refused by the backend, and conflicts to resolve. */
export function syncCounts(session: CacheSession): Promise<{ waiting: number; refused: number; conflicts: number }> {
  return session.store.call('syncCounts', {});
}

/** The reasons the backend gave for refused changes (distinct, at most `limit`): fixed server texts, shown with the count. */
export function refusedReasons(session: CacheSession, limit = 5): Promise<string[]> {
  return session.store.call('refusedReasons', { limit });
}

/**
 * Counts a push of these entries before it goes out: `attempts` is how many
 * times an entry was sent, so one with attempts > 0 may already be on the
 * backend (its answer lost) and can no longer be undone. Answers the keys
 * still queued: only those may be sent (one taken back meanwhile is gone).
 */
export async function markSent(session: CacheSession, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  return new Set((await session.store.call('markSent', { keys })).marked);
}

/** Gives back the attempt counted for a push that never reached the backend. */
export async function unmarkSent(session: CacheSession, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  await session.store.call('unmarkSent', { keys });
}

/** Which of `keys` are still in the outbox (the rest were answered, folded into a conflict, or discarded). */
export async function stillQueued(session: CacheSession, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  return new Set(await session.store.call('stillQueued', { keys }));
}

/** Pending changes made after `since` (ISO time), oldest first: what the undo window may still hold back. */
export function changesSince(session: CacheSession, since: string): Promise<Array<{ seq: number; idempotencyKey: string; createdAt: string }>> {
  return session.store.call('changesSince', { since });
}

/**
 * Records the backend's answers: applied entries leave the outbox and the
 * local copy takes the new version (later queued changes of the same
 * resource are re-based on it); conflicts move to the conflicts table with
 * both versions, "mine" being the cache's latest copy, into which any later
 * queued change of the resource is folded (those entries leave the outbox:
 * their result is what the clinician will keep or discard); a conflict
 * answered without the current version (a sync-only session) stays in the
 * outbox, held until a passkey session sends it again; refusals stay in
 * the outbox with the reason (not sent again, shown to the clinician).
 */
export async function settle(session: CacheSession, results: ChangeResult[]): Promise<void> {
  await session.store.call('settlePush', { results });
}
