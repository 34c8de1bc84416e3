/**
 * Granting and revoking roles (the organisation's admin commands only; no
 * route changes a role). A role widens what the access policy allows; it
 * never stands in for a session or an assignment to read patient records.
 */
import { z } from 'zod';
import type { Db } from '../database';

export const ROLES = ['privacy-officer'] as const;
export const roleSchema = z.enum(ROLES);
export type Role = z.infer<typeof roleSchema>;

/** Grants `role`; true when the clinician did not hold it yet. Throws for an unknown clinician. */
export async function grantRole(db: Db, clinicianId: string, role: Role): Promise<boolean> {
  const clinician = await db.selectFrom('clinicians').select('id').where('id', '=', clinicianId).executeTakeFirst();
  if (!clinician) throw new Error('no such clinician');
  const r = await db
    .insertInto('roles')
    .values({ clinician_id: clinicianId, role })
    .onConflict((oc) => oc.columns(['clinician_id', 'role']).doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** Revokes `role`; true when the clinician held it. */
export async function revokeRole(db: Db, clinicianId: string, role: Role): Promise<boolean> {
  const r = await db.deleteFrom('roles').where('clinician_id', '=', clinicianId).where('role', '=', role).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function hasRole(db: Db, clinicianId: string, role: Role): Promise<boolean> {
  return !!(await db.selectFrom('roles').select('role').where('clinician_id', '=', clinicianId).where('role', '=', role).executeTakeFirst());
}
