/**
 * Undo until sent: takes back the latest queued change of one resource while
 * it is still on this computer only. The outbox entry is deleted and the
 * resource put back as it was before the change (or deleted, if the change
 * created it), in one audited transaction ('U' update or 'D' delete, naming
 * the resource and its patient). Undoing again takes back the change before
 * it, if that one is still unsent too.
 *
 * A change is "on this computer only" when it was never pushed (attempts 0:
 * a push whose answer was lost may have reached the backend), is not in the
 * push in flight now (`inFlight`, from the sync worker, checked in the same
 * synchronous step as the delete, so a push cannot start in between), and is
 * not held, refused or folded into a conflict. Anything else is ALREADY_SENT:
 * a correction is a new change.
 *
 * Authorization: this is the signed-in clinician's own cache; whoever may
 * open it may undo what waits in its outbox. An unknown resource and one of
 * which this cache knows nothing get the same NOT_FOUND text. Never restore
 * over a change that left, never undo a change of a resource in conflict,
 * and never put an input value into an error.
 */
import { AppError } from '../../shared/app-error';
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
  notUndoable: 'This change cannot be undone. Change it again to correct it.',
  conflict: 'This item was also changed elsewhere. Choose which version to keep first.',
} as const;

interface QueuedRow {
  idempotency_key: string;
  resource: string;
  attempts: number;
  last_error: string | null;
  held_at: string | null;
  prior: string | null;
  prior_existed: number | null;
}

export interface UndoTarget {
  resourceType: string;
  resourceId: string;
}

/** Why the latest queued change of a resource may not be undone now, or null when it may. */
export function undoRefusal(row: Pick<QueuedRow, 'idempotency_key' | 'attempts' | 'last_error' | 'held_at' | 'prior_existed'>, inFlight: (key: string) => boolean): string | null {
  if (inFlight(row.idempotency_key)) return UNDO_MESSAGES.sending;
  if (row.held_at !== null || row.last_error !== null) return UNDO_MESSAGES.answered;
  if (row.attempts > 0) return UNDO_MESSAGES.maybeSent;
  if (row.prior_existed === null) return UNDO_MESSAGES.notUndoable;
  return null;
}

export function undoChange(session: CacheSession, target: UndoTarget, inFlight: (key: string) => boolean): { undone: boolean } {
  const { db } = session;
  const { resourceType, resourceId } = target;
  return session.audited(() => {
    const latest = db
      .prepare(
        'SELECT idempotency_key, resource, attempts, last_error, held_at, prior, prior_existed FROM outbox WHERE resource_type = ? AND resource_id = ? ORDER BY seq DESC LIMIT 1',
      )
      .get(resourceType, resourceId) as QueuedRow | undefined;
    const current = db.prepare('SELECT patient_id FROM resources WHERE resource_type = ? AND id = ?').get(resourceType, resourceId) as
      | { patient_id: string | null }
      | undefined;
    if (!latest && !current) throw new AppError('NOT_FOUND', UNDO_MESSAGES.notFound);
    if (hasOpenConflict(session, resourceType, resourceId)) throw new AppError('CONFLICT_UNRESOLVED', UNDO_MESSAGES.conflict);
    if (!latest) throw new AppError('ALREADY_SENT', UNDO_MESSAGES.sent);
    const refusal = undoRefusal(latest, inFlight);
    if (refusal === UNDO_MESSAGES.notUndoable) throw new AppError('INVALID_INPUT', refusal);
    if (refusal) throw new AppError('ALREADY_SENT', refusal);

    const changed = JSON.parse(latest.resource) as FhirResource;
    db.prepare('DELETE FROM outbox WHERE idempotency_key = ?').run(latest.idempotency_key);
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
    } else if (latest.prior_existed === 1 && latest.prior !== null) {
      const prior = JSON.parse(latest.prior) as FhirResource;
      // An imported resource may name its patient by a bundle-local reference: the patient the cache filed it under then stands.
      const patientId = patientIdOf(resourceType, resourceId, prior, new Map()) ?? current?.patient_id ?? null;
      // The version the cache last got from the backend stays: the prior content is that version, or a change still queued on it.
      db.prepare('UPDATE resources SET patient_id = ?, sort_date = ?, json = ? WHERE resource_type = ? AND id = ?').run(
        patientId,
        sortDateOf(resourceType, prior),
        latest.prior,
        resourceType,
        resourceId,
      );
      session.audit.append({ action: 'U', subtype: 'update', patientId, entities: [ref], query: null, outcome: '0' });
    } else {
      db.prepare('DELETE FROM resources WHERE resource_type = ? AND id = ?').run(resourceType, resourceId);
      const patientId = patientIdOf(resourceType, resourceId, changed, new Map()) ?? current?.patient_id ?? null;
      session.audit.append({ action: 'D', subtype: 'delete', patientId, entities: [ref], query: null, outcome: '0' });
    }
    return { undone: true };
  });
}
