/**
 * Sync conflicts and the clinician's choice. A conflict holds the
 * clinician's version (the cache's latest copy) and the one the backend had
 * when the push arrived. Listing them is a read of PHI and is audited;
 * choosing is audited with the version chosen over. "Keep mine" queues the
 * clinician's version again, now based on the backend's, so it applies
 * unless someone changed it yet again; "take theirs" puts the backend's
 * version in the cache. Either way nothing is dropped without a choice.
 */
import { AppError } from '../../shared/app-error';
import type { FhirResource } from '../../shared/contract';
import { patientIdOf } from '../../shared/fhir-fields';
import type { CacheSession } from './cache-session';
import { writeChange } from './outbox';
import { createResourceWriter } from './resource-writer';

export interface ConflictView {
  key: string;
  resourceType: string;
  resourceId: string;
  patientId: string | null;
  /** The patient's display name from the cache's patient list (null when the patient is not in it). */
  patientName: string | null;
  detectedAt: string;
  theirVersion: string;
  mine: FhirResource;
  theirs: FhirResource;
}

interface ConflictRow {
  idempotency_key: string;
  resource_type: string;
  resource_id: string;
  mine: string;
  theirs: string;
  their_version: string;
  detected_at: string;
}

function view(session: CacheSession, row: ConflictRow): ConflictView {
  const mine = JSON.parse(row.mine) as FhirResource;
  // The cache's own link first (an imported resource may name its patient by a bundle-local urn:uuid), then the reference.
  const cached = session.db.prepare('SELECT patient_id FROM resources WHERE resource_type = ? AND id = ?').pluck().get(row.resource_type, row.resource_id) as
    | string
    | null
    | undefined;
  const patientId = cached ?? patientIdOf(row.resource_type, row.resource_id, mine, new Map());
  const patientName = patientId
    ? ((session.db.prepare('SELECT display_name FROM patients WHERE id = ?').pluck().get(patientId) as string | undefined) ?? null)
    : null;
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
export function listConflicts(session: CacheSession, limit = 100): ConflictView[] {
  return session.audited(() => {
    const rows = session.db.prepare('SELECT * FROM conflicts ORDER BY detected_at, idempotency_key LIMIT ?').all(limit) as ConflictRow[];
    const views = rows.map((row) => view(session, row));
    const byPatient = new Map<string, string[]>();
    for (const v of views) {
      if (!v.patientId) continue;
      byPatient.set(v.patientId, [...(byPatient.get(v.patientId) ?? []), `${v.resourceType}/${v.resourceId}`]);
    }
    for (const [patientId, entities] of byPatient) {
      session.audit.append({ action: 'R', subtype: 'read', patientId, entities, query: null, outcome: '0' });
    }
    return views;
  });
}

export type ConflictChoice = 'mine' | 'theirs';

export function resolveConflict(session: CacheSession, key: string, choice: ConflictChoice): { resourceType: string; resourceId: string } {
  const { db } = session;
  return session.audited(() => {
    const row = db.prepare('SELECT * FROM conflicts WHERE idempotency_key = ?').get(key) as ConflictRow | undefined;
    if (!row) throw new AppError('NOT_FOUND', 'That conflict was already resolved.');
    const conflict = view(session, row);
    const ref = `${row.resource_type}/${row.resource_id}`;
    db.prepare('DELETE FROM conflicts WHERE resource_type = ? AND resource_id = ?').run(row.resource_type, row.resource_id);
    if (choice === 'mine') {
      // The clinician's version goes out again, based on the backend's current one.
      db.prepare('UPDATE resources SET version_id = ? WHERE resource_type = ? AND id = ?').run(row.their_version, row.resource_type, row.resource_id);
      // Not undoable alone: the cache would keep my content on the backend's version, unsent.
      writeChange(session, conflict.mine, { undoable: false });
    } else {
      createResourceWriter(db).write(conflict.theirs, { versionId: row.their_version });
    }
    session.audit.append({
      action: 'U',
      subtype: choice === 'mine' ? 'conflict-keep-mine' : 'conflict-take-theirs',
      patientId: conflict.patientId,
      entities: [ref, `${ref}/_history/${row.their_version}`],
      query: null,
      outcome: '0',
    });
    return { resourceType: row.resource_type, resourceId: row.resource_id };
  });
}
