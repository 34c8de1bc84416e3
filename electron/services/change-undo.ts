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
 * push in flight now (`inFlight`, from the sync worker, checked in the same
 * synchronous step as the delete, so a push cannot start in between), and is
 * not held or folded into a conflict. Anything else is ALREADY_SENT: a
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
 */
import { AppError, type ErrorCode } from '../../shared/app-error';
import { patientIdOf, sortDateOf } from '../../shared/fhir-fields';
import type { FhirResource } from '../../shared/contract';
import type { CacheSession } from './cache-session';
import { forgetPulledWhileQueued, hasOpenConflict, isLaterVersion, pulledWhileQueued } from './outbox';
import { createResourceWriter } from './resource-writer';

export const UNDO_MESSAGES = {
  notFound: 'There is no change of that item to undo.',
  sending: 'This change is being sent. Change it again to correct it.',
  sent: 'This change was already sent. Change it again to correct it.',
  maybeSent: 'This change may already have reached the hospital server. Change it again to correct it.',
  answered: 'The hospital server already answered for this change. Change it again to correct it.',
  partlySent: 'Part of this entry already reached the hospital server. Change it again to correct it.',
  notUndoable: 'This change cannot be undone. Change it again to correct it.',
  conflict: 'This item was also changed elsewhere. Choose which version to keep first.',
  addendum: 'This note has an addendum; it cannot be unsigned.',
  newNoteDraft: 'A new note for this patient is already being written. Save or discard it first, then undo.',
} as const;

interface QueuedRow {
  seq: number;
  idempotency_key: string;
  resource_type: string;
  resource_id: string;
  resource: string;
  attempts: number;
  last_error: string | null;
  held_at: string | null;
  prior: string | null;
  prior_existed: number | null;
  change_group: string | null;
  group_size: number | null;
}

const COLUMNS = 'seq, idempotency_key, resource_type, resource_id, resource, attempts, last_error, held_at, prior, prior_existed, change_group, group_size';

export interface UndoTarget {
  resourceType: string;
  resourceId: string;
}

export interface UndoRefusal {
  code: Extract<ErrorCode, 'ALREADY_SENT' | 'INVALID_INPUT' | 'CONFLICT_UNRESOLVED'>;
  message: string;
}

const refused = (row: Pick<QueuedRow, 'last_error' | 'held_at'>) => row.last_error !== null && row.held_at === null;

/** Why this one entry may not be taken back now, or null when it may (never sent, or refused by the backend). */
function entryRefusal(row: QueuedRow, inFlight: (key: string) => boolean): UndoRefusal | null {
  if (inFlight(row.idempotency_key)) return { code: 'ALREADY_SENT', message: UNDO_MESSAGES.sending };
  if (row.held_at !== null) return { code: 'ALREADY_SENT', message: UNDO_MESSAGES.answered };
  if (!refused(row) && row.attempts > 0) return { code: 'ALREADY_SENT', message: UNDO_MESSAGES.maybeSent };
  if (row.prior_existed === null) return { code: 'INVALID_INPUT', message: UNDO_MESSAGES.notUndoable };
  return null;
}

function latestOf(session: CacheSession, resourceType: string, resourceId: string): QueuedRow | undefined {
  return session.db.prepare(`SELECT ${COLUMNS} FROM outbox WHERE resource_type = ? AND resource_id = ? ORDER BY seq DESC LIMIT 1`).get(resourceType, resourceId) as
    | QueuedRow
    | undefined;
}

/** Whether a Composition in the cache appends to note `noteId` (an addendum, queued or not). */
function hasAddendum(session: CacheSession, noteId: string): boolean {
  const patientId = session.db.prepare("SELECT patient_id FROM resources WHERE resource_type = 'Composition' AND id = ?").pluck().get(noteId) as string | null | undefined;
  if (patientId === undefined) return false;
  return (
    session.db
      .prepare(
        `SELECT 1 FROM resources r, json_each(r.json, '$.relatesTo') rel
         WHERE r.resource_type = 'Composition' AND r.patient_id IS ? AND r.id <> ?
           AND json_extract(rel.value, '$.code') = 'appends' AND json_extract(rel.value, '$.targetReference.reference') = ? LIMIT 1`,
      )
      .pluck()
      .get(patientId, noteId, `Composition/${noteId}`) !== undefined
  );
}

/** The patient of a note draft that names note `noteId` and would collide with a new note's draft, if any. */
function draftCollision(session: CacheSession, noteId: string): boolean {
  return (
    session.db
      .prepare("SELECT 1 FROM drafts d WHERE d.kind = 'note' AND d.target = ? AND EXISTS (SELECT 1 FROM drafts n WHERE n.patient_id = d.patient_id AND n.kind = 'note' AND n.target = '') LIMIT 1")
      .pluck()
      .get(noteId) !== undefined
  );
}

/**
 * What an undo of the resource's latest queued change would take back: the
 * change and every other change of its group (newest first), or why not;
 * null when nothing of the resource is queued.
 */
export function planUndo(session: CacheSession, target: UndoTarget, inFlight: (key: string) => boolean): { rows: QueuedRow[] } | { refusal: UndoRefusal } | null {
  const latest = latestOf(session, target.resourceType, target.resourceId);
  if (!latest) return null;
  const rows = latest.change_group === null
    ? [latest]
    : (session.db.prepare(`SELECT ${COLUMNS} FROM outbox WHERE change_group = ? ORDER BY seq DESC`).all(latest.change_group) as QueuedRow[]);
  for (const row of rows) {
    if (hasOpenConflict(session, row.resource_type, row.resource_id)) return { refusal: { code: 'CONFLICT_UNRESOLVED', message: UNDO_MESSAGES.conflict } };
    // A later change of a member must be undone first (it is that resource's latest).
    if (latestOf(session, row.resource_type, row.resource_id)?.seq !== row.seq) return { refusal: { code: 'INVALID_INPUT', message: UNDO_MESSAGES.notUndoable } };
    const refusal = entryRefusal(row, inFlight);
    if (refusal) return { refusal };
  }
  // Part of the group already left the outbox (answered): the rest is taken back only if the backend refused it too.
  if (latest.group_size !== null && rows.length < latest.group_size && !rows.every(refused)) {
    return { refusal: { code: 'ALREADY_SENT', message: UNDO_MESSAGES.partlySent } };
  }
  for (const row of rows) {
    if (row.resource_type !== 'Composition') continue;
    if (hasAddendum(session, row.resource_id)) return { refusal: { code: 'INVALID_INPUT', message: UNDO_MESSAGES.addendum } };
    if (row.prior_existed === 0 && draftCollision(session, row.resource_id)) return { refusal: { code: 'INVALID_INPUT', message: UNDO_MESSAGES.newNoteDraft } };
  }
  return { rows };
}

/** Whether an undo of the resource's latest queued change would go through now (for the waiting list). */
export function undoable(session: CacheSession, target: UndoTarget, inFlight: (key: string) => boolean): boolean {
  const plan = planUndo(session, target, inFlight);
  return plan !== null && 'rows' in plan;
}

/** Takes back one queued change: its entry goes, and the resource is put back (see the header). */
function takeBack(session: CacheSession, row: QueuedRow): void {
  const { db } = session;
  const { resource_type: resourceType, resource_id: resourceId } = row;
  const current = db.prepare('SELECT patient_id FROM resources WHERE resource_type = ? AND id = ?').get(resourceType, resourceId) as { patient_id: string | null } | undefined;
  const changed = JSON.parse(row.resource) as FhirResource;
  db.prepare('DELETE FROM outbox WHERE idempotency_key = ?').run(row.idempotency_key);
  const ref = `${resourceType}/${resourceId}`;
  // A newer version the pull left alone while this was queued: with nothing of the resource queued any more, it goes in
  // place of the older copy the change was made on (the pull will not bring it again).
  const stillQueued = db.prepare('SELECT 1 FROM outbox WHERE resource_type = ? AND resource_id = ? LIMIT 1').pluck().get(resourceType, resourceId) !== undefined;
  const pulled = stillQueued ? null : pulledWhileQueued(session, resourceType, resourceId);
  if (pulled) forgetPulledWhileQueued(session, resourceType, resourceId);
  const heldVersion = (db.prepare('SELECT version_id FROM resources WHERE resource_type = ? AND id = ?').pluck().get(resourceType, resourceId) as string | null | undefined) ?? null;
  if (pulled && isLaterVersion(pulled.versionId, heldVersion)) {
    const { patientId } = createResourceWriter(db).write(pulled.resource, { versionId: pulled.versionId, patientId: current?.patient_id ?? undefined });
    session.audit.append({ action: 'U', subtype: 'update', patientId, entities: [ref, `${ref}/_history/${pulled.versionId}`], query: null, outcome: '0' });
  } else if (row.prior_existed === 1 && row.prior !== null) {
    const prior = JSON.parse(row.prior) as FhirResource;
    // An imported resource may name its patient by a bundle-local reference: the patient the cache filed it under then stands.
    const patientId = patientIdOf(resourceType, resourceId, prior, new Map()) ?? current?.patient_id ?? null;
    // The version the cache last got from the backend stays: the prior content is that version, or a change still queued on it.
    db.prepare('UPDATE resources SET patient_id = ?, sort_date = ?, json = ? WHERE resource_type = ? AND id = ?').run(
      patientId,
      sortDateOf(resourceType, prior),
      row.prior,
      resourceType,
      resourceId,
    );
    session.audit.append({ action: 'U', subtype: 'update', patientId, entities: [ref], query: null, outcome: '0' });
  } else {
    db.prepare('DELETE FROM resources WHERE resource_type = ? AND id = ?').run(resourceType, resourceId);
    const patientId = patientIdOf(resourceType, resourceId, changed, new Map()) ?? current?.patient_id ?? null;
    session.audit.append({ action: 'D', subtype: 'delete', patientId, entities: [ref], query: null, outcome: '0' });
    // The draft typed on a note that is gone now is the draft of a new note (a collision was refused before).
    if (resourceType === 'Composition') db.prepare("UPDATE drafts SET target = '' WHERE kind = 'note' AND target = ?").run(resourceId);
  }
}

export function undoChange(session: CacheSession, target: UndoTarget, inFlight: (key: string) => boolean): { undone: boolean } {
  const { db } = session;
  const { resourceType, resourceId } = target;
  return session.audited(() => {
    const known = db.prepare('SELECT 1 FROM resources WHERE resource_type = ? AND id = ?').pluck().get(resourceType, resourceId) !== undefined;
    const plan = planUndo(session, target, inFlight);
    if (!plan && !known) throw new AppError('NOT_FOUND', UNDO_MESSAGES.notFound);
    if (hasOpenConflict(session, resourceType, resourceId)) throw new AppError('CONFLICT_UNRESOLVED', UNDO_MESSAGES.conflict);
    if (!plan) throw new AppError('ALREADY_SENT', UNDO_MESSAGES.sent);
    if ('refusal' in plan) throw new AppError(plan.refusal.code, plan.refusal.message);
    for (const row of plan.rows) takeBack(session, row);
    return { undone: true };
  });
}
