/**
 * The store's side of sync conflicts (moved from ../../conflicts.ts, which
 * says what a conflict is and what each choice does): listing is a read of
 * PHI, audited in the same call (one R entry per patient shown); a choice
 * deletes the resource's conflict and either queues the clinician's version
 * again on the backend's (keep mine) or installs the backend's (take
 * theirs), audited with the version chosen over, in one transaction. The
 * answer is bound to the conflict's own row: its resource, its patient and
 * its versions come from the stored conflict, never from the caller. Never
 * drop a version without the clinician's choice.
 */
import { AppError } from '../../../../shared/app-error';
import type { Conflict, FhirResource } from '../../../../shared/contract';
import { patientIdOf } from '../../../../shared/fhir-fields';
import { resourceWriter } from '../resource-writer';
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';
import { writeChange } from './outbox-rows';

export const CONFLICT_RESOLVED_MESSAGE = 'That conflict was already resolved.';
const THEIRS_NOT_THIS_ITEM = 'The hospital server\'s version is not of this item. Keep yours instead.';

interface ConflictRow {
  idempotency_key: string;
  resource_type: string;
  resource_id: string;
  mine: string;
  theirs: string;
  their_version: string;
  detected_at: string;
}

function view(tx: StoreTx, row: ConflictRow): Conflict {
  const mine = JSON.parse(row.mine) as FhirResource;
  // The cache's own link first (an imported resource may name its patient by a bundle-local urn:uuid), then the reference.
  const cached = tx.db.prepare('SELECT patient_id FROM resources WHERE resource_type = ? AND id = ?').pluck().get(row.resource_type, row.resource_id) as
    | string
    | null
    | undefined;
  const patientId = cached ?? patientIdOf(row.resource_type, row.resource_id, mine, new Map());
  const patientName = patientId ? ((tx.db.prepare('SELECT display_name FROM patients WHERE id = ?').pluck().get(patientId) as string | undefined) ?? null) : null;
  return {
    key: row.idempotency_key,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    patientId,
    patientName,
    detectedAt: row.detected_at,
    theirVersion: row.their_version,
    mine,
    theirs: JSON.parse(row.theirs) as FhirResource,
  };
}

/** Every open conflict, oldest first; one read entry per patient shown. */
export function listConflicts(tx: StoreTx, { limit }: StoreArgs<'listConflicts'>): StoreResults['listConflicts'] {
  const rows = tx.db.prepare('SELECT * FROM conflicts ORDER BY detected_at, idempotency_key LIMIT ?').all(limit) as ConflictRow[];
  const views = rows.map((r) => view(tx, r));
  const byPatient = new Map<string, string[]>();
  for (const v of views) {
    if (!v.patientId) continue;
    byPatient.set(v.patientId, [...(byPatient.get(v.patientId) ?? []), `${v.resourceType}/${v.resourceId}`]);
  }
  for (const [patientId, entities] of byPatient) {
    tx.audit.append({ action: 'R', subtype: 'read', patientId, entities, query: null, outcome: '0' });
  }
  return views;
}

/** The clinician's choice on one conflict (by its key), with its U entry naming the version chosen over. */
export function resolveConflict(tx: StoreTx, { key, choice }: StoreArgs<'resolveConflict'>): StoreResults['resolveConflict'] {
  const { db } = tx;
  const row = db.prepare('SELECT * FROM conflicts WHERE idempotency_key = ?').get(key) as ConflictRow | undefined;
  if (!row) throw new AppError('NOT_FOUND', CONFLICT_RESOLVED_MESSAGE);
  const conflict = view(tx, row);
  const ref = `${row.resource_type}/${row.resource_id}`;
  db.prepare('DELETE FROM conflicts WHERE resource_type = ? AND resource_id = ?').run(row.resource_type, row.resource_id);
  if (choice === 'mine') {
    // The clinician's version goes out again, based on the backend's current one.
    db.prepare('UPDATE resources SET version_id = ? WHERE resource_type = ? AND id = ?').run(row.their_version, row.resource_type, row.resource_id);
    // Not undoable alone: the cache would keep my content on the backend's version, unsent.
    writeChange(tx, conflict.mine, { undoable: false });
  } else {
    // Only ever the conflict's own resource (settlePush and the pull store nothing else as theirs).
    if (conflict.theirs.resourceType !== row.resource_type || conflict.theirs.id !== row.resource_id) throw new AppError('INVALID_INPUT', THEIRS_NOT_THIS_ITEM);
    resourceWriter(db).write(conflict.theirs, { versionId: row.their_version });
  }
  tx.audit.append({
    action: 'U',
    subtype: choice === 'mine' ? 'conflict-keep-mine' : 'conflict-take-theirs',
    patientId: conflict.patientId,
    entities: [ref, `${ref}/_history/${row.their_version}`],
    query: null,
    outcome: '0',
  });
  return { resourceType: row.resource_type, resourceId: row.resource_id };
}
