/**
 * The backend's one authorization point: may this caller do this action on
 * this patient? Decided from stored facts only (the session's scope, the
 * clinician's current assignment, the clinician's roles), never from what a
 * request body claims. Every route that reads or writes patient data asks
 * here, about the patient the STORED record belongs to (storedRecordOf; for
 * a create, the patient the body names). A refusal discloses nothing: routes
 * answer it exactly as they answer a record that does not exist.
 *
 * Rules ("entitled" below: assigned to the patient now, or holding an
 * active break-the-glass grant for the patient now, see ../glass/: a stored
 * grant of a clinician not revoked, granted_at <= now < expires_at by the
 * backend's clock):
 *  - read (a record's content: GET, pull, a conflict's current version):
 *    a passkey ('full') session of an entitled clinician; a sync-only
 *    session never reads; the pull itself serves assigned patients only
 *    (readableResources), a granted patient's records come through the
 *    glass records route;
 *  - write (change or create a record): an entitled clinician, with a
 *    passkey or a sync-only session (the device key pushes work done
 *    offline); after a grant's expiry, refused like any unassigned patient;
 *  - trail (the patient's access trail, without search text): a passkey
 *    session of the assigned clinician or of a privacy officer;
 *  - trail-full (the trail with search text): a privacy officer's passkey
 *    session only;
 *  - review (the audit flags that name no patient, e.g. devices whose cache
 *    was found rolled back): a privacy officer's passkey session only.
 */
import { sql } from 'kysely';
import { engineOf, type Db } from '../database';
import type { Caller } from '../auth/caller';
import { systemClock, type Clock } from '../clock';
import { grantedAmong } from '../glass/grant-store';
import { hasRole } from './roles';

/**
 * read: a resource's content (GET, pull, a conflict's current version);
 * write: change or create a resource of the patient (push, PUT);
 * trail: the patient's access trail (without search text);
 * trail-full: the trail with search text (privacy role only).
 */
export type PatientAction = 'read' | 'write' | 'trail' | 'trail-full';

/** The stored facts a decision needs, looked up on demand. */
interface Facts {
  assigned(patientId: string): Promise<boolean>;
  /** An active break-the-glass grant of the caller's clinician for the patient, now. */
  granted(patientId: string): Promise<boolean>;
  privacyOfficer(): Promise<boolean>;
}

async function decide(caller: Caller, action: PatientAction, patientId: string, facts: Facts): Promise<boolean> {
  if (!patientId) return false;
  switch (action) {
    case 'read':
      return caller.scope === 'full' && ((await facts.assigned(patientId)) || (await facts.granted(patientId)));
    case 'write':
      return (await facts.assigned(patientId)) || (await facts.granted(patientId));
    case 'trail':
      return caller.scope === 'full' && ((await facts.assigned(patientId)) || (await facts.privacyOfficer()));
    case 'trail-full':
      return caller.scope === 'full' && (await facts.privacyOfficer());
    default:
      return false;
  }
}

async function isAssigned(db: Db, clinicianId: string, patientId: string): Promise<boolean> {
  return !!(await db.selectFrom('assignments').select('patient_id').where('clinician_id', '=', clinicianId).where('patient_id', '=', patientId).executeTakeFirst());
}

async function isGranted(db: Db, clinicianId: string, patientId: string, clock: Clock): Promise<boolean> {
  return (await grantedAmong(db, clinicianId, [patientId], clock())).has(patientId);
}

/** `clock`: the backend's (routes pass theirs, so a grant's expiry is tested without sleeping). */
export async function mayAccessPatient(db: Db, caller: Caller, action: PatientAction, patientId: string, clock: Clock = systemClock): Promise<boolean> {
  return decide(caller, action, patientId, {
    assigned: (p) => isAssigned(db, caller.clinicianId, p),
    granted: (p) => isGranted(db, caller.clinicianId, p, clock),
    privacyOfficer: () => hasRole(db, caller.clinicianId, 'privacy-officer'),
  });
}

/** May this caller review the audit flags that name no patient (devices found rolled back)? A privacy officer's passkey session only. */
export async function mayReviewAuditFlags(db: Db, caller: Caller): Promise<boolean> {
  return caller.scope === 'full' && (await hasRole(db, caller.clinicianId, 'privacy-officer'));
}

export interface PatientAccess {
  (action: PatientAction, patientId: string): Promise<boolean>;
  /**
   * Looks up the facts about many patients at once (their assignments, and
   * the grants of those not assigned, by the clock now: one query per 1,000
   * patients each), so the decisions about them that follow ask the
   * database nothing. As with facts looked up one by one, they hold for the
   * rest of the request (a push: well under a second), from the lookup on.
   * A decision about a patient not looked up asks on its own.
   */
  lookUp(patientIds: Iterable<string>): Promise<void>;
}

/** Patients per query of PatientAccess.lookUp (bound parameters, well inside SQLite's and PostgreSQL's limits). */
const LOOKUP_CHUNK = 1000;

async function assignedAmong(db: Db, clinicianId: string, patientIds: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < patientIds.length; i += LOOKUP_CHUNK) {
    const rows = await db.selectFrom('assignments').select('patient_id').where('clinician_id', '=', clinicianId).where('patient_id', 'in', patientIds.slice(i, i + LOOKUP_CHUNK)).execute();
    for (const r of rows) found.add(r.patient_id);
  }
  return found;
}

/**
 * The same decision for many patients within one request (a push, a page):
 * each patient's assignment and the clinician's role are looked up once.
 * Use inside the request's transaction and drop it with the request.
 */
export function patientAccess(db: Db, caller: Caller, clock: Clock = systemClock): PatientAccess {
  const assigned = new Map<string, Promise<boolean>>();
  const granted = new Map<string, Promise<boolean>>();
  let officer: Promise<boolean> | null = null;
  const lookUp = async (patientIds: Iterable<string>): Promise<void> => {
    const unknown = [...new Set(patientIds)].filter((p) => p && !assigned.has(p));
    if (unknown.length === 0) return;
    const yes = await assignedAmong(db, caller.clinicianId, unknown);
    for (const p of unknown) assigned.set(p, Promise.resolve(yes.has(p)));
    const rest = unknown.filter((p) => !yes.has(p) && !granted.has(p));
    if (rest.length === 0) return;
    const grants = await grantedAmong(db, caller.clinicianId, rest, clock());
    for (const p of rest) granted.set(p, Promise.resolve(grants.has(p)));
  };
  const facts: Facts = {
    assigned: (p) => {
      let known = assigned.get(p);
      if (!known) assigned.set(p, (known = isAssigned(db, caller.clinicianId, p)));
      return known;
    },
    granted: (p) => {
      let known = granted.get(p);
      if (!known) granted.set(p, (known = isGranted(db, caller.clinicianId, p, clock)));
      return known;
    },
    privacyOfficer: () => (officer ??= hasRole(db, caller.clinicianId, 'privacy-officer')),
  };
  return Object.assign((action: PatientAction, patientId: string) => decide(caller, action, patientId, facts), { lookUp });
}

/**
 * How a caller of readableResources reads the rows: 'in-order' walks them in
 * an index's order and stops after a page (the pull's pages); 'any-order'
 * reads them all (a count).
 */
export type ReadableWalk = 'in-order' | 'any-order';

/**
 * The 'read' rule as a query, for serving many records at once (the pull):
 * the resources (as `r`) of the patients assigned to the clinician now, and
 * none at all for a sync-only session. Narrower than 'read' on purpose: a
 * patient reached by breaking the glass is served by the glass records route
 * (../glass/), which asks mayAccessPatient, never by the pull.
 *
 * A filter on `r` (EXISTS on the caller's assignment), not a join: a page
 * then walks the change index from its cursor and stops after the page,
 * where the join let SQLite's planner start from the assignments and sort
 * every assigned resource for each page. For an 'in-order' walk on
 * PostgreSQL the EXISTS carries LIMIT 1 OFFSET 0, which keeps the planner
 * from turning it into a join (it would, without statistics, answer by
 * sorting every readable row first); a count ('any-order') lets it join.
 * Callers add their own range, order and select; the rule is the same.
 */
export function readableResources(db: Db, caller: Caller, walk: ReadableWalk = 'any-order') {
  const query = db.selectFrom('resources as r');
  if (caller.scope !== 'full') return query.where(sql<boolean>`1 = 0`);
  const fenced = walk === 'in-order' && engineOf(db) === 'postgres';
  return query.where(({ exists, selectFrom }) => {
    const assigned = selectFrom('assignments as a').select(sql<number>`1`.as('one')).whereRef('a.patient_id', '=', 'r.patient_id').where('a.clinician_id', '=', caller.clinicianId);
    return exists(fenced ? assigned.limit(1).offset(0) : assigned);
  });
}

/** A stored record as authorization sees it: the patient it belongs to (null: none, so nobody may touch it). */
export interface StoredRecord {
  patientId: string | null;
  json: string;
  versionId: number;
}

/** The stored record `Type/id`, or null when there is none. Authorize against its patientId, never the body's. */
export async function storedRecordOf(db: Db, resourceType: string, id: string): Promise<StoredRecord | null> {
  const row = await db.selectFrom('resources').select(['patient_id', 'json', 'version_id']).where('resource_type', '=', resourceType).where('id', '=', id).executeTakeFirst();
  return row ? { patientId: row.patient_id, json: row.json, versionId: Number(row.version_id) } : null;
}
