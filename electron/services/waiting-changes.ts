/**
 * What waits, in detail: every change on this computer the backend has not
 * accepted (the outbox, refused entries included) and every conflict waiting
 * for the clinician's choice, newest first, each with its patient, its kind
 * in words, its state (sending, failing, held, refused, conflict, waiting),
 * how often it was sent, its last error (fixed texts only: the backend's
 * refusal reason or ours) and whether `changes.undo` may take it back (a
 * refused change may: it is discarded; a change made with others, such as
 * one reading of a vitals entry, only when the whole entry may).
 * Listing names patients, so it is audited like a search: one query entry
 * per patient listed. Never put resource content into an error text.
 */
import type { WaitingChange } from '../../shared/contract';
import { patientIdOf } from '../../shared/fhir-fields';
import type { CacheSession } from './cache-session';
import { undoable } from './change-undo';

export const WAITING_MAX = 200;
export const WAITING_QUERY = 'waiting changes';

/** What the sync worker knows of the outbox now (none when it is not running). */
export interface SendingState {
  sending: ReadonlySet<string>;
  setAside: ReadonlyMap<string, number>;
}

export const WAITING_ERRORS = {
  failing: 'The hospital server failed on this change; it is kept and will be sent again.',
  held: 'Waits for your passkey: sign in online to see whether it conflicts.',
  conflict: 'Also changed elsewhere: choose which version to keep.',
} as const;

type Json = Record<string, unknown>;

interface OutboxRow {
  seq: number;
  idempotency_key: string;
  resource_type: string;
  resource_id: string;
  resource: string;
  created_at: string;
  attempts: number;
  last_error: string | null;
  held_at: string | null;
  prior_existed: number | null;
}

interface ConflictRow {
  idempotency_key: string;
  resource_type: string;
  resource_id: string;
  mine: string;
  detected_at: string;
}

function codings(value: unknown): Array<{ code?: unknown }> {
  if (!Array.isArray(value)) return [];
  return value.flatMap((c) => (c && typeof c === 'object' && Array.isArray((c as Json).coding) ? ((c as Json).coding as Array<{ code?: unknown }>) : []));
}

/** The kind of change as a clinician says it. */
export function kindOf(resourceType: string, resource: Json): string {
  switch (resourceType) {
    case 'Observation':
      return codings(resource.category).some((c) => c.code === 'vital-signs') ? 'Vital signs' : 'Observation';
    case 'Composition': {
      const relatesTo = Array.isArray(resource.relatesTo) ? (resource.relatesTo as Array<{ code?: unknown }>) : [];
      return relatesTo.some((r) => r.code === 'appends') ? 'Addendum' : 'Progress note';
    }
    case 'Condition':
      return 'Problem';
    default: {
      // AllergyIntolerance -> "Allergy intolerance"
      const spaced = resourceType.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
      return spaced.charAt(0).toUpperCase() + spaced.slice(1);
    }
  }
}

function parse(json: string): Json {
  try {
    const value = JSON.parse(json) as unknown;
    return value && typeof value === 'object' ? (value as Json) : {};
  } catch {
    return {};
  }
}

export function listWaitingChanges(session: CacheSession, worker: SendingState | null, limit = WAITING_MAX): { changes: WaitingChange[]; truncated: boolean } {
  const { db } = session;
  const sending = worker?.sending ?? new Set<string>();
  const setAside = worker?.setAside ?? new Map<string, number>();
  const nameOf = db.prepare('SELECT display_name FROM patients WHERE id = ?').pluck();
  const filedUnder = db.prepare('SELECT patient_id FROM resources WHERE resource_type = ? AND id = ?').pluck();
  return session.audited(() => {
    const outbox = db
      .prepare(
        'SELECT seq, idempotency_key, resource_type, resource_id, resource, created_at, attempts, last_error, held_at, prior_existed FROM outbox ORDER BY seq DESC LIMIT ?',
      )
      .all(limit + 1) as OutboxRow[];
    const conflicts = db
      .prepare('SELECT idempotency_key, resource_type, resource_id, mine, detected_at FROM conflicts ORDER BY detected_at DESC, idempotency_key LIMIT ?')
      .all(limit + 1) as ConflictRow[];
    const total = (db.prepare('SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM conflicts)').pluck().get() as number);

    const names = new Map<string, string | null>();
    const patientOf = (type: string, id: string, resource: Json) => {
      // A bundle-local patient reference (an imported resource): the patient the cache filed it under.
      const patientId = patientIdOf(type, id, resource as never, new Map()) ?? ((filedUnder.get(type, id) as string | null | undefined) ?? null);
      if (patientId !== null && !names.has(patientId)) names.set(patientId, (nameOf.get(patientId) as string | undefined) ?? null);
      return { patientId, patientName: patientId === null ? null : (names.get(patientId) ?? null) };
    };

    // Rows come newest first: the first row seen of a resource is its latest queued change, the only one undo takes.
    const latestSeen = new Set<string>();
    const rows: WaitingChange[] = outbox.map((r) => {
      const resource = parse(r.resource);
      const ref = `${r.resource_type}/${r.resource_id}`;
      const latest = !latestSeen.has(ref);
      latestSeen.add(ref);
      const inFlight = sending.has(r.idempotency_key);
      const state: WaitingChange['state'] = inFlight
        ? 'sending'
        : r.last_error !== null
          ? 'refused'
          : r.held_at !== null
            ? 'held'
            : setAside.has(r.idempotency_key)
              ? 'failing'
              : 'waiting';
      const lastError = state === 'refused' ? r.last_error!.slice(0, 300) : state === 'held' ? WAITING_ERRORS.held : state === 'failing' ? WAITING_ERRORS.failing : null;
      return {
        key: r.idempotency_key,
        ...patientOf(r.resource_type, r.resource_id, resource),
        resourceType: r.resource_type,
        resourceId: r.resource_id,
        kind: kindOf(r.resource_type, resource),
        createdAt: r.created_at,
        state,
        attempts: r.attempts,
        lastError,
        // The whole change group (a vitals entry) is judged: each member is undoable only when all of it is.
        undoable: latest && undoable(session, { resourceType: r.resource_type, resourceId: r.resource_id }, (key) => sending.has(key)),
      };
    });
    for (const c of conflicts) {
      const mine = parse(c.mine);
      rows.push({
        key: c.idempotency_key,
        ...patientOf(c.resource_type, c.resource_id, mine),
        resourceType: c.resource_type,
        resourceId: c.resource_id,
        kind: kindOf(c.resource_type, mine),
        createdAt: c.detected_at,
        state: 'conflict',
        // A conflict is the backend's answer to a push: sent at least once.
        attempts: 1,
        lastError: WAITING_ERRORS.conflict,
        undoable: false,
      });
    }
    // Newest first (ISO times compare as text); the sort is stable, so outbox entries of one moment keep their order.
    rows.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
    const shown = rows.slice(0, limit);

    const listed = [...new Set(shown.map((r) => r.patientId).filter((p): p is string => p !== null))];
    const record = { action: 'E' as const, subtype: 'search-type' as const, query: WAITING_QUERY, outcome: '0' as const };
    if (listed.length === 0) session.audit.append({ ...record, patientId: null, entities: [] });
    for (const patientId of listed) session.audit.append({ ...record, patientId, entities: [`Patient/${patientId}`] });
    return { changes: shown, truncated: total > shown.length };
  });
}
