/**
 * The store's side of undo until sent (moved from ../../change-undo.ts,
 * which says what may be taken back and why): planUndo judges the
 * resource's latest queued change and its change group against the outbox,
 * the conflicts, the notes' addenda and the drafts; undoChange takes the
 * whole group back in the call's one transaction, putting each resource
 * back (or the newer version the pull kept beside the queue) with its U or
 * D entry. `sending` (the push in flight, from the sync worker) comes with
 * the call; an entry counted as sent (attempts > 0) is never taken back
 * either way. Never restore over a change that left, never take back part
 * of a change group, never put an input value into an error.
 */
import { AppError, type ErrorCode } from '../../../../shared/app-error';
import { patientIdOf, sortDateOf } from '../../../../shared/fhir-fields';
import type { FhirResource } from '../../../../shared/contract';
import { resourceWriter } from '../resource-writer';
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';
import { forgetPulledWhileQueued, hasOpenConflict, pulledWhileQueued } from './outbox-rows';
import { laterVersion } from './pulled-versions';

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

function latestOf(tx: StoreTx, resourceType: string, resourceId: string): QueuedRow | undefined {
  return tx.db.prepare(`SELECT ${COLUMNS} FROM outbox WHERE resource_type = ? AND resource_id = ? ORDER BY seq DESC LIMIT 1`).get(resourceType, resourceId) as
    | QueuedRow
    | undefined;
}

/** Whether a Composition in the cache appends to note `noteId` (an addendum, queued or not). */
function hasAddendum(tx: StoreTx, noteId: string): boolean {
  const patientId = tx.db.prepare("SELECT patient_id FROM resources WHERE resource_type = 'Composition' AND id = ?").pluck().get(noteId) as string | null | undefined;
  if (patientId === undefined) return false;
  return (
    tx.db
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
function draftCollision(tx: StoreTx, noteId: string): boolean {
  return (
    tx.db
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
export function planUndo(tx: StoreTx, target: UndoTarget, inFlight: (key: string) => boolean): { rows: QueuedRow[] } | { refusal: UndoRefusal } | null {
  const latest = latestOf(tx, target.resourceType, target.resourceId);
  if (!latest) return null;
  const rows = latest.change_group === null
    ? [latest]
    : (tx.db.prepare(`SELECT ${COLUMNS} FROM outbox WHERE change_group = ? ORDER BY seq DESC`).all(latest.change_group) as QueuedRow[]);
  for (const row of rows) {
    if (hasOpenConflict(tx, row.resource_type, row.resource_id)) return { refusal: { code: 'CONFLICT_UNRESOLVED', message: UNDO_MESSAGES.conflict } };
    // A later change of a member must be undone first (it is that resource's latest).
    if (latestOf(tx, row.resource_type, row.resource_id)?.seq !== row.seq) return { refusal: { code: 'INVALID_INPUT', message: UNDO_MESSAGES.notUndoable } };
    const refusal = entryRefusal(row, inFlight);
    if (refusal) return { refusal };
  }
  // Part of the group already left the outbox (answered): the rest is taken back only if the backend refused it too.
  if (latest.group_size !== null && rows.length < latest.group_size && !rows.every(refused)) {
    return { refusal: { code: 'ALREADY_SENT', message: UNDO_MESSAGES.partlySent } };
  }
  for (const row of rows) {
    if (row.resource_type !== 'Composition') continue;
    if (hasAddendum(tx, row.resource_id)) return { refusal: { code: 'INVALID_INPUT', message: UNDO_MESSAGES.addendum } };
    if (row.prior_existed === 0 && draftCollision(tx, row.resource_id)) return { refusal: { code: 'INVALID_INPUT', message: UNDO_MESSAGES.newNoteDraft } };
  }
  return { rows };
}

/** Whether an undo of the resource's latest queued change would go through now (for the waiting list). */
export function undoable(tx: StoreTx, target: UndoTarget, inFlight: (key: string) => boolean): boolean {
  const plan = planUndo(tx, target, inFlight);
  return plan !== null && 'rows' in plan;
}

/** Takes back one queued change: its entry goes, and the resource is put back (see the header). */
function takeBack(tx: StoreTx, row: QueuedRow): void {
  const { db } = tx;
  const { resource_type: resourceType, resource_id: resourceId } = row;
  const current = db.prepare('SELECT patient_id FROM resources WHERE resource_type = ? AND id = ?').get(resourceType, resourceId) as { patient_id: string | null } | undefined;
  const changed = JSON.parse(row.resource) as FhirResource;
  db.prepare('DELETE FROM outbox WHERE idempotency_key = ?').run(row.idempotency_key);
  const ref = `${resourceType}/${resourceId}`;
  // A newer version the pull left alone while this was queued: with nothing of the resource queued any more, it goes in
  // place of the older copy the change was made on (the pull will not bring it again).
  const stillQueued = db.prepare('SELECT 1 FROM outbox WHERE resource_type = ? AND resource_id = ? LIMIT 1').pluck().get(resourceType, resourceId) !== undefined;
  const pulled = stillQueued ? null : pulledWhileQueued(tx, resourceType, resourceId);
  if (pulled) forgetPulledWhileQueued(tx, resourceType, resourceId);
  const heldVersion = (db.prepare('SELECT version_id FROM resources WHERE resource_type = ? AND id = ?').pluck().get(resourceType, resourceId) as string | null | undefined) ?? null;
  if (pulled && laterVersion(pulled.versionId, heldVersion)) {
    const { patientId } = resourceWriter(db).write(pulled.resource, { versionId: pulled.versionId, patientId: current?.patient_id ?? undefined });
    tx.audit.append({ action: 'U', subtype: 'update', patientId, entities: [ref, `${ref}/_history/${pulled.versionId}`], query: null, outcome: '0' });
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
    tx.audit.append({ action: 'U', subtype: 'update', patientId, entities: [ref], query: null, outcome: '0' });
  } else {
    db.prepare('DELETE FROM resources WHERE resource_type = ? AND id = ?').run(resourceType, resourceId);
    const patientId = patientIdOf(resourceType, resourceId, changed, new Map()) ?? current?.patient_id ?? null;
    tx.audit.append({ action: 'D', subtype: 'delete', patientId, entities: [ref], query: null, outcome: '0' });
    // The draft typed on a note that is gone now is the draft of a new note (a collision was refused before).
    if (resourceType === 'Composition') db.prepare("UPDATE drafts SET target = '' WHERE kind = 'note' AND target = ?").run(resourceId);
  }
}

/** Takes back the resource's latest queued change and the rest of its group, or refuses whole (see the header). */
export function undoChange(tx: StoreTx, { resourceType, resourceId, sending }: StoreArgs<'undoChange'>): StoreResults['undoChange'] {
  const inFlight = new Set(sending);
  const target = { resourceType, resourceId };
  const known = tx.db.prepare('SELECT 1 FROM resources WHERE resource_type = ? AND id = ?').pluck().get(resourceType, resourceId) !== undefined;
  const plan = planUndo(tx, target, (key) => inFlight.has(key));
  if (!plan && !known) throw new AppError('NOT_FOUND', UNDO_MESSAGES.notFound);
  if (hasOpenConflict(tx, resourceType, resourceId)) throw new AppError('CONFLICT_UNRESOLVED', UNDO_MESSAGES.conflict);
  if (!plan) throw new AppError('ALREADY_SENT', UNDO_MESSAGES.sent);
  if ('refusal' in plan) throw new AppError(plan.refusal.code, plan.refusal.message);
  for (const row of plan.rows) takeBack(tx, row);
  return { undone: true };
}
