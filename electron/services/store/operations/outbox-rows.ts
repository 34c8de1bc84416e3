/**
 * The store's side of the outbox (moved from ../../outbox.ts, which says
 * what the outbox promises): a local change is written with its outbox entry
 * (fresh idempotency key, the version it was made on, what it replaced) and
 * its audit entry in the caller's one transaction; the sync worker reads
 * batches, counts sends, gives back an attempt that never left, and settles
 * the backend's answers; the status reads counts and refusal reasons.
 * Never drop an entry silently: a conflict moves it, with both versions, to
 * the conflicts table; never count a send of an entry that is gone; never
 * keep as a conflict's "theirs" anything but the entry's own resource.
 */
import { randomUUID } from 'node:crypto';
import { v7 as timeOrderedUuid } from 'uuid';
import { AppError } from '../../../../shared/app-error';
import type { FhirResource } from '../../../../shared/contract';
import { patientIdOf, sortDateOf } from '../../../../shared/fhir-fields';
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';
import { PULLED_PREFIX } from './pulled-versions';
import { perConnection } from '../per-connection';

/** Whether the resource waits for the clinician's choice on a conflict. */
export function hasOpenConflict(tx: StoreTx, resourceType: string, id: string): boolean {
  return !!tx.db.prepare('SELECT 1 FROM conflicts WHERE resource_type = ? AND resource_id = ?').pluck().get(resourceType, id);
}

export interface WriteChangeOptions {
  /**
   * False for a change that is not the clinician's own edit and must not be
   * taken back alone (keeping my version of a conflict: undoing it would
   * leave my content on top of the backend's version, unsent).
   */
  undoable?: boolean;
  /** The change group it belongs to (changes made together, undone together) and how many changes the group has. */
  group?: { id: string; size: number };
}

/** Writes `resource` locally and queues it, with its C/U entry; returns the idempotency key. Call inside the call's transaction. */
export function writeChange(tx: StoreTx, resource: FhirResource, options: WriteChangeOptions = {}): string {
  const { db, audit } = tx;
  if (hasOpenConflict(tx, resource.resourceType, resource.id)) {
    throw new AppError('CONFLICT_UNRESOLVED', 'This item was also changed elsewhere. Choose which version to keep before changing it again.');
  }
  const existing = db.prepare('SELECT version_id, json FROM resources WHERE resource_type = ? AND id = ?').get(resource.resourceType, resource.id) as
    | { version_id: string | null; json: string }
    | undefined;
  const patientId = patientIdOf(resource.resourceType, resource.id, resource, new Map());
  const json = JSON.stringify(resource);
  db.prepare(
    `INSERT INTO resources (resource_type, id, patient_id, sort_date, json) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (resource_type, id) DO UPDATE SET patient_id = excluded.patient_id, sort_date = excluded.sort_date, json = excluded.json`,
  ).run(resource.resourceType, resource.id, patientId, sortDateOf(resource.resourceType, resource), json);
  // The base is the version this device last got from the backend, or the one still queued before this change.
  const queued = db
    .prepare('SELECT base_version FROM outbox WHERE resource_type = ? AND resource_id = ? ORDER BY seq DESC LIMIT 1')
    .get(resource.resourceType, resource.id) as { base_version: string | null } | undefined;
  // Time-ordered (UUID v7: the time in ms, then random bits), so the backend stores each device's answers in key order:
  // a push's answers land on one or two index pages, not one page each (its answers table grows by every change ever pushed).
  const key = timeOrderedUuid();
  // What the change replaced, so it can be undone while it is still on this computer only (change-undo-rows.ts);
  // a change that must not be undone keeps neither (prior_existed NULL).
  // A Patient also feeds the patient list and search index, which an undo does not restore: never undoable.
  const undoable = (options.undoable ?? true) && resource.resourceType !== 'Patient';
  db.prepare(
    `INSERT INTO outbox (idempotency_key, resource_type, resource_id, base_version, resource, created_at, prior, prior_existed, change_group, group_size)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    key,
    resource.resourceType,
    resource.id,
    queued ? queued.base_version : (existing?.version_id ?? null),
    json,
    new Date().toISOString(),
    undoable ? (existing?.json ?? null) : null,
    undoable ? (existing ? 1 : 0) : null,
    options.group?.id ?? null,
    options.group?.size ?? null,
  );
  audit.append({
    action: existing ? 'U' : 'C',
    subtype: existing ? 'update' : 'create',
    patientId,
    entities: [`${resource.resourceType}/${resource.id}`],
    query: null,
    outcome: '0',
  });
  return key;
}

/** Several changes that belong together: all or none; more than one (unless `group` is false) is one unit for undo. */
export function writeChanges(tx: StoreTx, resources: FhirResource[], group = resources.length > 1): string[] {
  const unit = group && resources.length > 1 ? { id: randomUUID(), size: resources.length } : undefined;
  return resources.map((r) => writeChange(tx, r, { group: unit }));
}

/**
 * The next entries to push, oldest first, stopping before a second change of
 * a resource already in the batch (see ../../outbox.ts pendingChanges). A
 * held entry goes out only when `sendHeld` and not already sent held under
 * this token; an entry set aside does not go out now; either way it and
 * every later change of its resource stay queued behind it.
 */
export function pendingChanges(tx: StoreTx, args: StoreArgs<'pendingChanges'>): StoreResults['pendingChanges'] {
  type Row = { seq: number; idempotency_key: string; resource_type: string; resource_id: string; base_version: string | null; resource: string; attempts: number; held_at: string | null; whole: number };
  const sentHeld = new Set(args.heldSentAlready);
  const setAside = new Set(args.setAside);
  // Read lazily, not LIMIT n: entries waiting behind a held or set-aside change must not fill the batch's window.
  const rows = tx.db
    .prepare(
      "SELECT seq, idempotency_key, resource_type, resource_id, base_version, resource, attempts, held_at, CASE WHEN json_valid(resource) THEN json_type(resource) = 'object' ELSE 0 END AS whole FROM outbox WHERE last_error IS NULL ORDER BY seq",
    )
    .iterate() as IterableIterator<Row>;
  const seen = new Set<string>();
  const blocked = new Set<string>();
  const batch: Row[] = [];
  for (const r of rows) {
    if (batch.length >= args.limit) break;
    const key = `${r.resource_type}/${r.resource_id}`;
    if (blocked.has(key)) continue;
    if ((r.held_at !== null && (!args.sendHeld || sentHeld.has(r.idempotency_key))) || setAside.has(r.idempotency_key)) {
      blocked.add(key);
      continue;
    }
    if (seen.has(key)) break;
    seen.add(key);
    batch.push(r);
  }
  // The text goes into the push as it is: one JSON object, as writeChange stored it, or the read fails (as a parse did).
  if (batch.some((r) => r.whole !== 1)) throw new AppError('CACHE_CORRUPT', 'The patient cache file is damaged or was altered.');
  return batch.map((r) => ({
    seq: r.seq,
    attempts: r.attempts,
    held: r.held_at !== null,
    idempotencyKey: r.idempotency_key,
    resourceType: r.resource_type,
    id: r.resource_id,
    baseVersion: r.base_version,
    // As stored (written by JSON.stringify in writeChange): spliced into the push's body as it is, never parsed here.
    resourceJson: r.resource,
  }));
}

/** Entries held for a passkey session (conflicts answered without content). */
export function heldCount(tx: StoreTx): number {
  return tx.db.prepare('SELECT count(*) FROM outbox WHERE held_at IS NOT NULL AND last_error IS NULL').pluck().get() as number;
}

export function outboxSize(tx: StoreTx): number {
  return tx.db.prepare('SELECT count(*) FROM outbox').pluck().get() as number;
}

/** What the sync status shows: waiting to be sent, refused by the backend, and conflicts to resolve. */
export function syncCounts(tx: StoreTx): StoreResults['syncCounts'] {
  const count = (sql: string) => tx.db.prepare(sql).pluck().get() as number;
  return {
    waiting: count('SELECT count(*) FROM outbox WHERE last_error IS NULL'),
    refused: count('SELECT count(*) FROM outbox WHERE last_error IS NOT NULL'),
    conflicts: count('SELECT count(*) FROM conflicts'),
  };
}

/** The reasons the backend gave for refused changes (distinct, at most `limit`): fixed server texts. */
export function refusedReasons(tx: StoreTx, { limit }: StoreArgs<'refusedReasons'>): string[] {
  return tx.db.prepare('SELECT DISTINCT last_error FROM outbox WHERE last_error IS NOT NULL ORDER BY last_error LIMIT ?').pluck().all(limit) as string[];
}

/** Pending entries made after `since` (ISO time), oldest first: the sync worker's undo window. */
export function changesSince(tx: StoreTx, { since }: StoreArgs<'changesSince'>): StoreResults['changesSince'] {
  const rows = tx.db
    .prepare('SELECT seq, idempotency_key, created_at FROM outbox WHERE created_at > ? AND last_error IS NULL ORDER BY seq')
    .all(since) as Array<{ seq: number; idempotency_key: string; created_at: string }>;
  return rows.map((r) => ({ seq: r.seq, idempotencyKey: r.idempotency_key, createdAt: r.created_at }));
}

/** The newer version the pull left alone while a change of the resource was queued, if any. */
export function pulledWhileQueued(tx: StoreTx, resourceType: string, id: string): { versionId: string; resource: FhirResource } | null {
  const value = tx.db.prepare('SELECT value FROM sync_state WHERE key = ?').pluck().get(`${PULLED_PREFIX}${resourceType}/${id}`) as string | undefined;
  return value === undefined ? null : (JSON.parse(value) as { versionId: string; resource: FhirResource });
}

export function forgetPulledWhileQueued(tx: StoreTx, resourceType: string, id: string): void {
  settleStatements(tx.db).forgetPulled.run(`${PULLED_PREFIX}${resourceType}/${id}`);
}

/**
 * Counts a push of these entries before it goes out (attempts > 0: may be on
 * the backend, no longer undoable). Answers the keys it counted: an entry no
 * longer queued (taken back meanwhile) must not be sent.
 */
export function markSent(tx: StoreTx, { keys }: StoreArgs<'markSent'>): StoreResults['markSent'] {
  if (keys.length === 0) return { marked: [] };
  const marked = tx.db
    .prepare('UPDATE outbox SET attempts = attempts + 1 WHERE idempotency_key IN (SELECT value FROM json_each(?)) RETURNING idempotency_key')
    .pluck()
    .all(JSON.stringify(keys)) as string[];
  return { marked };
}

/** Gives back the attempt counted for a push that never reached the backend. */
export function unmarkSent(tx: StoreTx, { keys }: StoreArgs<'unmarkSent'>): null {
  if (keys.length === 0) return null;
  tx.db.prepare('UPDATE outbox SET attempts = attempts - 1 WHERE attempts > 0 AND idempotency_key IN (SELECT value FROM json_each(?))').run(JSON.stringify(keys));
  return null;
}

/** Which of `keys` are still in the outbox (the rest were answered, folded into a conflict, or discarded). */
export function stillQueued(tx: StoreTx, { keys }: StoreArgs<'stillQueued'>): string[] {
  if (keys.length === 0) return [];
  return tx.db.prepare('SELECT idempotency_key FROM outbox WHERE idempotency_key IN (SELECT value FROM json_each(?))').pluck().all(JSON.stringify(keys)) as string[];
}

/** settlePush's statements (and forgetPulledWhileQueued's), prepared once per connection: a push settles up to 500 answers. */
const settleStatements = perConnection((db) => ({
  entryOf: db.prepare('SELECT resource_type, resource_id FROM outbox WHERE idempotency_key = ?'),
  queuedResource: db.prepare('SELECT resource FROM outbox WHERE idempotency_key = ?').pluck(),
  remove: db.prepare('DELETE FROM outbox WHERE idempotency_key = ?'),
  setVersion: db.prepare('UPDATE resources SET version_id = ? WHERE resource_type = ? AND id = ?'),
  rebase: db.prepare('UPDATE outbox SET base_version = ? WHERE resource_type = ? AND resource_id = ?'),
  localCopy: db.prepare('SELECT json FROM resources WHERE resource_type = ? AND id = ?').pluck(),
  dropQueued: db.prepare('DELETE FROM outbox WHERE resource_type = ? AND resource_id = ?'),
  dropConflicts: db.prepare('DELETE FROM conflicts WHERE resource_type = ? AND resource_id = ?'),
  keepConflict: db.prepare(
    'INSERT INTO conflicts (idempotency_key, resource_type, resource_id, mine, theirs, their_version, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ),
  // attempts were counted when the push went out (markSent).
  refuse: db.prepare('UPDATE outbox SET last_error = ? WHERE idempotency_key = ?'),
  hold: db.prepare('UPDATE outbox SET held_at = ? WHERE idempotency_key = ?'),
  forgetPulled: db.prepare('DELETE FROM sync_state WHERE key = ?'),
}));

/**
 * Records the backend's answers (see ../../outbox.ts settle): applied entries
 * leave and re-base later ones; a conflict with content moves to the
 * conflicts table, folding in later queued changes of the resource; one
 * without content is held; a refusal keeps the entry with its reason.
 */
export function settlePush(tx: StoreTx, { results }: StoreArgs<'settlePush'>): null {
  const { entryOf, queuedResource, remove, setVersion, rebase, localCopy, dropQueued, dropConflicts, keepConflict, refuse, hold } = settleStatements(tx.db);
  for (const r of results) {
    const entry = entryOf.get(r.idempotencyKey) as { resource_type: string; resource_id: string } | undefined;
    if (!entry) continue;
    if (r.status === 'applied') {
      remove.run(r.idempotencyKey);
      setVersion.run(r.versionId, entry.resource_type, entry.resource_id);
      rebase.run(r.versionId, entry.resource_type, entry.resource_id);
      // The backend took it on top of whatever the pull had left alone: that version is behind now.
      forgetPulledWhileQueued(tx, entry.resource_type, entry.resource_id);
    } else if (r.status === 'conflict' && (r.current === undefined || r.current.resourceType !== entry.resource_type || r.current.id !== entry.resource_id)) {
      // The session may not read the backend's version: nothing to show the
      // clinician yet. Keep the entry (no work lost, none doubled) and hold it.
      // A "current version" of another resource (another patient's record) is
      // not this change's conflict: never stored, shown or installed; held the same.
      hold.run(new Date().toISOString(), r.idempotencyKey);
    } else if (r.status === 'conflict') {
      const mine = (localCopy.get(entry.resource_type, entry.resource_id) as string | undefined) ?? (queuedResource.get(r.idempotencyKey) as string);
      dropQueued.run(entry.resource_type, entry.resource_id);
      dropConflicts.run(entry.resource_type, entry.resource_id);
      forgetPulledWhileQueued(tx, entry.resource_type, entry.resource_id);
      keepConflict.run(r.idempotencyKey, entry.resource_type, entry.resource_id, mine, JSON.stringify(r.current), r.currentVersion, new Date().toISOString());
    } else {
      refuse.run(r.reason, r.idempotencyKey);
    }
  }
  return null;
}
