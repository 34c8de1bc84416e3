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
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../../shared/app-error';
import { patientIdOf, sortDateOf } from '../../shared/fhir-fields';
import type { FhirResource } from '../../shared/contract';
import type { Change, ChangeResult } from '../../shared/sync-api';
import type { CacheSession } from './cache-session';
import { PULLED_PREFIX, laterVersion } from './store/operations/pulled-versions';

export interface OutboxEntry extends Change {
  seq: number;
  attempts: number;
  /** Answered "conflict" without content before; sent again only on a passkey session. */
  held: boolean;
}

/** Writes `resource` locally and queues it for the backend; returns the idempotency key. */
export function recordChange(session: CacheSession, resource: FhirResource): string {
  return session.audited(() => writeChange(session, resource));
}

/** Several changes that belong together (one vitals entry): all or none, and one unit for undo (a change group). */
export function recordChanges(session: CacheSession, resources: FhirResource[]): string[] {
  const group = resources.length > 1 ? { id: randomUUID(), size: resources.length } : undefined;
  return session.audited(() => resources.map((r) => writeChange(session, r, { group })));
}

/** Whether the resource waits for the clinician's choice on a conflict. */
export function hasOpenConflict(session: CacheSession, resourceType: string, id: string): boolean {
  return !!session.db.prepare('SELECT 1 FROM conflicts WHERE resource_type = ? AND resource_id = ?').pluck().get(resourceType, id);
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

export function writeChange(session: CacheSession, resource: FhirResource, options: WriteChangeOptions = {}): string {
  const { db, audit } = session;
  if (hasOpenConflict(session, resource.resourceType, resource.id)) {
    throw new AppError('CONFLICT_UNRESOLVED', 'This item was also changed elsewhere. Choose which version to keep before changing it again.');
  }
  {
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
    const key = randomUUID();
    // What the change replaced, so it can be undone while it is still on this computer only (change-undo.ts);
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
}

/**
 * The next entries to push, oldest first, stopping before a second change of
 * a resource already in the batch: that one waits for the first one's new
 * version, so it goes out re-based rather than as a self-made conflict.
 * A held entry (a conflict answered without content) goes out only when
 * `releaseHeld` says so for its key; an entry `setAside` names (one the
 * server keeps failing on) does not go out now. Either way it and every
 * later change of its resource stay queued, untouched, behind it: changes
 * of one resource are never reordered; changes of other resources go on.
 */
export function pendingChanges(
  session: CacheSession,
  limit: number,
  releaseHeld: (idempotencyKey: string) => boolean = () => true,
  setAside: (idempotencyKey: string) => boolean = () => false,
): OutboxEntry[] {
  type Row = { seq: number; idempotency_key: string; resource_type: string; resource_id: string; base_version: string | null; resource: string; attempts: number; held_at: string | null };
  // Read lazily, not LIMIT n: entries waiting behind a held or set-aside change must not fill the batch's window.
  const rows = session.db
    .prepare('SELECT seq, idempotency_key, resource_type, resource_id, base_version, resource, attempts, held_at FROM outbox WHERE last_error IS NULL ORDER BY seq')
    .iterate() as IterableIterator<Row>;
  const seen = new Set<string>();
  const blocked = new Set<string>();
  const batch: Row[] = [];
  for (const r of rows) {
    if (batch.length >= limit) break;
    const key = `${r.resource_type}/${r.resource_id}`;
    if (blocked.has(key)) continue;
    if ((r.held_at !== null && !releaseHeld(r.idempotency_key)) || setAside(r.idempotency_key)) {
      blocked.add(key);
      continue;
    }
    if (seen.has(key)) break;
    seen.add(key);
    batch.push(r);
  }
  return batch.map((r) => ({
    seq: r.seq,
    attempts: r.attempts,
    held: r.held_at !== null,
    idempotencyKey: r.idempotency_key,
    resourceType: r.resource_type,
    id: r.resource_id,
    baseVersion: r.base_version,
    resource: JSON.parse(r.resource) as FhirResource,
  }));
}

/** Entries held for a passkey session (conflicts answered without content). */
export function heldCount(session: CacheSession): number {
  return session.db.prepare('SELECT count(*) FROM outbox WHERE held_at IS NOT NULL AND last_error IS NULL').pluck().get() as number;
}

export function outboxSize(session: CacheSession): number {
  return session.db.prepare('SELECT count(*) FROM outbox').pluck().get() as number;
}

/** What the sync status shows: waiting to be sent, refused by the backend, and conflicts to resolve. */
export function syncCounts(session: CacheSession): { waiting: number; refused: number; conflicts: number } {
  const count = (sql: string) => session.db.prepare(sql).pluck().get() as number;
  return {
    waiting: count('SELECT count(*) FROM outbox WHERE last_error IS NULL'),
    refused: count('SELECT count(*) FROM outbox WHERE last_error IS NOT NULL'),
    conflicts: count('SELECT count(*) FROM conflicts'),
  };
}

/** The reasons the backend gave for refused changes (distinct, at most `limit`): fixed server texts, shown with the count. */
export function refusedReasons(session: CacheSession, limit = 5): string[] {
  return session.db.prepare('SELECT DISTINCT last_error FROM outbox WHERE last_error IS NOT NULL ORDER BY last_error LIMIT ?').pluck().all(limit) as string[];
}

/** The newer version the pull left alone while a change of the resource was queued, if any. */
export function pulledWhileQueued(session: CacheSession, resourceType: string, id: string): { versionId: string; resource: FhirResource } | null {
  const value = session.db.prepare('SELECT value FROM sync_state WHERE key = ?').pluck().get(`${PULLED_PREFIX}${resourceType}/${id}`) as string | undefined;
  return value === undefined ? null : (JSON.parse(value) as { versionId: string; resource: FhirResource });
}

export function forgetPulledWhileQueued(session: CacheSession, resourceType: string, id: string): void {
  session.db.prepare('DELETE FROM sync_state WHERE key = ?').run(`${PULLED_PREFIX}${resourceType}/${id}`);
}

/** Whether `versionId` (pulled) is later than the one the cache holds. */
export function isLaterVersion(versionId: string, held: string | null): boolean {
  return laterVersion(versionId, held);
}

/**
 * Counts a push of these entries before it goes out: `attempts` is how many
 * times an entry was sent, so one with attempts > 0 may already be on the
 * backend (its answer lost) and can no longer be undone.
 */
export function markSent(session: CacheSession, keys: string[]): void {
  if (keys.length === 0) return;
  session.db.prepare('UPDATE outbox SET attempts = attempts + 1 WHERE idempotency_key IN (SELECT value FROM json_each(?))').run(JSON.stringify(keys));
}

/** Which of `keys` are still in the outbox (the rest were answered, folded into a conflict, or discarded). */
export function stillQueued(session: CacheSession, keys: string[]): Set<string> {
  if (keys.length === 0) return new Set();
  const rows = session.db.prepare('SELECT idempotency_key FROM outbox WHERE idempotency_key IN (SELECT value FROM json_each(?))').pluck().all(JSON.stringify(keys)) as string[];
  return new Set(rows);
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
export function settle(session: CacheSession, results: ChangeResult[]): void {
  const { db } = session;
  const entryOf = db.prepare('SELECT resource_type, resource_id, resource FROM outbox WHERE idempotency_key = ?');
  const remove = db.prepare('DELETE FROM outbox WHERE idempotency_key = ?');
  const setVersion = db.prepare('UPDATE resources SET version_id = ? WHERE resource_type = ? AND id = ?');
  const rebase = db.prepare('UPDATE outbox SET base_version = ? WHERE resource_type = ? AND resource_id = ?');
  const localCopy = db.prepare('SELECT json FROM resources WHERE resource_type = ? AND id = ?').pluck();
  const dropQueued = db.prepare('DELETE FROM outbox WHERE resource_type = ? AND resource_id = ?');
  const dropConflicts = db.prepare('DELETE FROM conflicts WHERE resource_type = ? AND resource_id = ?');
  const keepConflict = db.prepare(
    'INSERT INTO conflicts (idempotency_key, resource_type, resource_id, mine, theirs, their_version, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  // attempts were counted when the push went out (markSent).
  const refuse = db.prepare('UPDATE outbox SET last_error = ? WHERE idempotency_key = ?');
  const hold = db.prepare('UPDATE outbox SET held_at = ? WHERE idempotency_key = ?');
  db.transaction(() => {
    for (const r of results) {
      const entry = entryOf.get(r.idempotencyKey) as { resource_type: string; resource_id: string; resource: string } | undefined;
      if (!entry) continue;
      if (r.status === 'applied') {
        remove.run(r.idempotencyKey);
        setVersion.run(r.versionId, entry.resource_type, entry.resource_id);
        rebase.run(r.versionId, entry.resource_type, entry.resource_id);
        // The backend took it on top of whatever the pull had left alone: that version is behind now.
        forgetPulledWhileQueued(session, entry.resource_type, entry.resource_id);
      } else if (r.status === 'conflict' && r.current === undefined) {
        // The session may not read the backend's version: nothing to show the
        // clinician yet. Keep the entry (no work lost, none doubled) and hold it.
        hold.run(new Date().toISOString(), r.idempotencyKey);
      } else if (r.status === 'conflict') {
        const mine = (localCopy.get(entry.resource_type, entry.resource_id) as string | undefined) ?? entry.resource;
        dropQueued.run(entry.resource_type, entry.resource_id);
        dropConflicts.run(entry.resource_type, entry.resource_id);
        forgetPulledWhileQueued(session, entry.resource_type, entry.resource_id);
        keepConflict.run(r.idempotencyKey, entry.resource_type, entry.resource_id, mine, JSON.stringify(r.current), r.currentVersion, new Date().toISOString());
      } else {
        refuse.run(r.reason, r.idempotencyKey);
      }
    }
  })();
}
