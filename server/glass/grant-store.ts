/**
 * The stored facts of break the glass: restricted-search handles and
 * grants. A handle is 32 random bytes handed to the caller once; only its
 * SHA-256 is kept, with the clinician and device it was issued to, and it is
 * redeemed at most once, before it expires, by that same clinician and
 * device (one conditional UPDATE, so two redemptions cannot both win). A
 * grant is active while granted_at <= now < expires_at and its clinician is
 * not revoked. Pure storage and lookups: who may do what with a grant is
 * the access policy's answer (../authorization/access-policy.ts), never
 * this file's. Never log or return a handle or a hash of one.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Caller } from '../auth/caller';
import type { Db } from '../database';

const hashHandle = (handle: string) => createHash('sha256').update(handle).digest('hex');

/** Issues one handle per patient for the caller, valid until `expiresAt`; purges handles already expired. */
export async function issueHandles(trx: Db, caller: Caller, patientIds: string[], now: Date, expiresAt: string): Promise<string[]> {
  await trx.deleteFrom('glass_handles').where('expires_at', '<=', now.toISOString()).execute();
  if (patientIds.length === 0) return [];
  const handles = patientIds.map(() => randomBytes(32).toString('base64url'));
  await trx
    .insertInto('glass_handles')
    .values(
      patientIds.map((patientId, i) => ({
        handle_hash: hashHandle(handles[i]!),
        clinician_id: caller.clinicianId,
        device_id: caller.deviceId,
        patient_id: patientId,
        created_at: now.toISOString(),
        expires_at: expiresAt,
        used_at: null,
      })),
    )
    .execute();
  return handles;
}

/** Uses the caller's handle up: the patient it stands for, or null (unknown, expired, used, or issued to another clinician or device). */
export async function redeemHandle(trx: Db, caller: Caller, handle: string, now: Date): Promise<string | null> {
  const at = now.toISOString();
  const row = await trx
    .updateTable('glass_handles')
    .set({ used_at: at })
    .where('handle_hash', '=', hashHandle(handle))
    .where('clinician_id', '=', caller.clinicianId)
    .where('device_id', '=', caller.deviceId)
    .where('used_at', 'is', null)
    .where('expires_at', '>', at)
    .returning('patient_id')
    .executeTakeFirst();
  return row?.patient_id ?? null;
}

export interface NewGrant {
  clinicianId: string;
  deviceId: string;
  patientId: string;
  reasonCode: string;
  reasonText: string;
  grantedAt: string;
  expiresAt: string;
}

export async function storeGrant(trx: Db, grant: NewGrant): Promise<string> {
  const id = randomUUID();
  await trx
    .insertInto('glass_grants')
    .values({
      id,
      clinician_id: grant.clinicianId,
      device_id: grant.deviceId,
      patient_id: grant.patientId,
      reason_code: grant.reasonCode,
      reason_text: grant.reasonText,
      granted_at: grant.grantedAt,
      expires_at: grant.expiresAt,
    })
    .execute();
  return id;
}

/** The grants active at `at` (of a clinician not revoked), as a query over `g`. */
function activeGrantRows(db: Db, clinicianId: string, at: Date) {
  const now = at.toISOString();
  return db
    .selectFrom('glass_grants as g')
    .innerJoin('clinicians as c', 'c.id', 'g.clinician_id')
    .where('g.clinician_id', '=', clinicianId)
    .where('c.revoked_at', 'is', null)
    .where('g.granted_at', '<=', now)
    .where('g.expires_at', '>', now);
}

/** Which of `patientIds` the clinician holds an active grant for at `at`. */
export async function grantedAmong(db: Db, clinicianId: string, patientIds: string[], at: Date): Promise<Set<string>> {
  const granted = new Set<string>();
  for (let i = 0; i < patientIds.length; i += 1000) {
    const rows = await activeGrantRows(db, clinicianId, at).select('g.patient_id').where('g.patient_id', 'in', patientIds.slice(i, i + 1000)).execute();
    for (const r of rows) granted.add(r.patient_id);
  }
  return granted;
}

/** The end of the clinician's latest active grant for the patient, or null when none is active. */
export async function grantEnd(db: Db, clinicianId: string, patientId: string, at: Date): Promise<string | null> {
  const row = await activeGrantRows(db, clinicianId, at).select('g.expires_at').where('g.patient_id', '=', patientId).orderBy('g.expires_at', 'desc').limit(1).executeTakeFirst();
  return row?.expires_at ?? null;
}

/** The clinician's active grants, one per patient (its latest end), soonest end first. */
export async function activeGrants(db: Db, clinicianId: string, at: Date, limit: number): Promise<Array<{ patientId: string; expiresAt: string }>> {
  const rows = await activeGrantRows(db, clinicianId, at)
    .select((eb) => ['g.patient_id', eb.fn.max('g.expires_at').as('expires_at')])
    .groupBy('g.patient_id')
    .orderBy('expires_at')
    .orderBy('g.patient_id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ patientId: r.patient_id, expiresAt: String(r.expires_at) }));
}

/** Each of `patientIds` mapped to the periods of the clinician's grants for it (whatever their state now), for checking uploaded audit entries. */
export async function grantPeriods(db: Db, clinicianId: string, patientIds: string[]): Promise<Map<string, Array<{ from: string; until: string }>>> {
  const periods = new Map<string, Array<{ from: string; until: string }>>();
  for (let i = 0; i < patientIds.length; i += 1000) {
    const rows = await db
      .selectFrom('glass_grants')
      .select(['patient_id', 'granted_at', 'expires_at'])
      .where('clinician_id', '=', clinicianId)
      .where('patient_id', 'in', patientIds.slice(i, i + 1000))
      .execute();
    for (const r of rows) {
      const list = periods.get(r.patient_id) ?? [];
      list.push({ from: r.granted_at, until: r.expires_at });
      periods.set(r.patient_id, list);
    }
  }
  return periods;
}
