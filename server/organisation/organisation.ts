/**
 * The organisation's people and settings: clinicians, one-time enrollment
 * codes, devices, passkeys and policy (assignments: ./assignments). Enrollment codes
 * are random, stored only as a SHA-256 hash, valid for 15 minutes and once.
 * There is no default account and no password anywhere.
 */
import { createHash, randomBytes } from 'node:crypto';
import { DEFAULT_UNDO_SECONDS, policySchema, type Policy } from '../../shared/backend-api';
import { DEFAULT_BREAK_GLASS_MINUTES } from '../../shared/glass-api';
import type { Db } from '../database';
import { plusMinutes, type Clock } from '../clock';
import { endPasskeySessions, endSessionsFor } from '../auth/session-store';
import { securityEvent } from '../monitoring/security-log';

export const ENROLLMENT_CODE_MINUTES = 15;
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** requirePrf: an organisation may relax it explicitly (README: what that costs). */
export const DEFAULT_POLICY: Policy & { sessionIdleMinutes: number; undoSeconds: number; breakGlassMinutes: number } = {
  idleLockMinutes: 10,
  offlineDays: 7,
  requirePrf: true,
  sessionIdleMinutes: 30,
  undoSeconds: DEFAULT_UNDO_SECONDS,
  breakGlassMinutes: DEFAULT_BREAK_GLASS_MINUTES,
};

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function newEnrollmentCode(): string {
  const bytes = randomBytes(12);
  return [...bytes].map((b) => CROCKFORD[b % 32]).join('');
}

export function formatEnrollmentCode(code: string): string {
  return code.match(/.{4}/g)!.join('-');
}

export async function addClinician(db: Db, id: string, displayName: string, clock: Clock): Promise<void> {
  await db
    .insertInto('clinicians')
    .values({ id, display_name: displayName, created_at: clock().toISOString(), revoked_at: null })
    .onConflict((oc) => oc.column('id').doUpdateSet({ display_name: displayName }))
    .execute();
}

/** Creates a one-time code for `clinicianId` and returns it; only its hash is stored. */
export async function createEnrollmentCode(db: Db, clinicianId: string, clock: Clock): Promise<string> {
  const clinician = await db.selectFrom('clinicians').select(['id', 'revoked_at']).where('id', '=', clinicianId).executeTakeFirst();
  if (!clinician || clinician.revoked_at) throw new Error(`no active clinician "${clinicianId}"`);
  const code = newEnrollmentCode();
  const now = clock();
  await db
    .insertInto('enrollment_codes')
    .values({ code_hash: hashSecret(code), clinician_id: clinicianId, created_at: now.toISOString(), expires_at: plusMinutes(now, ENROLLMENT_CODE_MINUTES), used_at: null })
    .execute();
  return code;
}

export async function readPolicy(db: Db): Promise<Policy & { sessionIdleMinutes: number; breakGlassMinutes: number }> {
  const rows = await db.selectFrom('settings').select(['key', 'value']).execute();
  const stored = Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value) as unknown]));
  const policy = policySchema.parse({ ...DEFAULT_POLICY, ...stored });
  return {
    ...policy,
    sessionIdleMinutes: policy.sessionIdleMinutes ?? DEFAULT_POLICY.sessionIdleMinutes,
    breakGlassMinutes: policy.breakGlassMinutes ?? DEFAULT_POLICY.breakGlassMinutes,
  };
}

export async function setPolicy(db: Db, key: keyof Policy, value: unknown): Promise<void> {
  // Only a setting the policy has (a mistyped key would be stored and never read); its value is checked by the schema.
  if (!Object.hasOwn(policySchema.shape, key)) throw new Error(`unknown policy setting "${String(key)}"`);
  const next = policySchema.parse({ ...(await readPolicy(db)), [key]: value });
  await db
    .insertInto('settings')
    .values({ key, value: JSON.stringify(next[key]) })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(next[key]) }))
    .execute();
}

/** Revokes a device and ends its sessions at once (they answer DEVICE_REVOKED, and the desktop wipes). */
export async function revokeDevice(db: Db, deviceId: string, clock: Clock): Promise<boolean> {
  const r = await db.updateTable('devices').set({ revoked_at: clock().toISOString() }).where('id', '=', deviceId).where('revoked_at', 'is', null).executeTakeFirst();
  const revoked = Number(r.numUpdatedRows) > 0;
  if (revoked) securityEvent('revoked', { what: 'device', deviceId });
  if ((await endSessionsFor(db, { deviceId }, clock)) > 0) securityEvent('session-ended', { what: 'device', deviceId });
  return revoked;
}

/** Revokes a clinician and ends all their sessions at once (they answer CLINICIAN_REVOKED). */
export async function revokeClinician(db: Db, clinicianId: string, clock: Clock): Promise<void> {
  await db.updateTable('clinicians').set({ revoked_at: clock().toISOString() }).where('id', '=', clinicianId).where('revoked_at', 'is', null).execute();
  securityEvent('revoked', { what: 'clinician', clinicianId });
  if ((await endSessionsFor(db, { clinicianId }, clock)) > 0) securityEvent('session-ended', { what: 'clinician', clinicianId });
}

/** Revokes one passkey and ends the sessions it made (SESSION_INVALID); the clinician's other passkeys keep working. */
export async function revokeCredential(db: Db, credentialId: string, clock: Clock): Promise<boolean> {
  const r = await db.updateTable('credentials').set({ revoked_at: clock().toISOString() }).where('id', '=', credentialId).where('revoked_at', 'is', null).executeTakeFirst();
  const revoked = Number(r.numUpdatedRows) > 0;
  if (revoked) securityEvent('revoked', { what: 'passkey', credentialId });
  if ((await endPasskeySessions(db, credentialId)) > 0) securityEvent('session-ended', { what: 'passkey', credentialId });
  return revoked;
}
