/**
 * The store's side of the waiting list (moved from ../../waiting-changes.ts,
 * which says what is listed and how it is audited): every outbox entry and
 * conflict, newest first, with its patient, kind, state and whether undo may
 * take it back (judged by change-undo-rows.ts planUndo against `sending`,
 * the push in flight, which comes with the call), and one query entry per
 * patient listed in the same transaction. Never put resource content into
 * an error text.
 */
import type { WaitingChange } from '../../../../shared/contract';
import { patientIdOf } from '../../../../shared/fhir-fields';
import { WAITING_ERRORS, WAITING_QUERY, kindOf } from '../../waiting-changes';
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';
import { undoable } from './change-undo-rows';

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

function parse(json: string): Json {
  try {
    const value = JSON.parse(json) as unknown;
    return value && typeof value === 'object' ? (value as Json) : {};
  } catch {
    return {};
  }
}

export function listWaitingChanges(tx: StoreTx, args: StoreArgs<'listWaitingChanges'>): StoreResults['listWaitingChanges'] {
  const { db } = tx;
  const { limit } = args;
  const sending = new Set(args.sending);
  const setAside = new Set(args.setAside);
  const nameOf = db.prepare('SELECT display_name FROM patients WHERE id = ?').pluck();
  const filedUnder = db.prepare('SELECT patient_id FROM resources WHERE resource_type = ? AND id = ?').pluck();
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
      undoable: latest && undoable(tx, { resourceType: r.resource_type, resourceId: r.resource_id }, (key) => sending.has(key)),
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
  if (listed.length === 0) tx.audit.append({ ...record, patientId: null, entities: [] });
  for (const patientId of listed) tx.audit.append({ ...record, patientId, entities: [`Patient/${patientId}`] });
  return { changes: shown, truncated: total > shown.length };
}
