/**
 * The privacy console as a device of its officer: the backend's sessions
 * are bound to a device, and the console (a page in the officer's browser)
 * has none of its own, so each officer gets one console device row with a
 * fixed id derived from the clinician id and a public key whose private half
 * was never kept: it can never get a sync session or upload audit entries.
 * It shows in the officer's device list, and revoking it (revoke-device)
 * ends the console's sessions as it would a laptop's. Made only for a
 * clinician who holds the privacy-officer role.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { Clock } from '../clock';
import type { Db } from '../database';

/** The console device id of `clinicianId`: a UUID (version 8, RFC 9562) from SHA-256 of a fixed label and the id. */
export function consoleDeviceId(clinicianId: string): string {
  const h = createHash('sha256').update(`clinician-desktop privacy console device\n${clinicianId}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The officer's console device, made if absent (its key as stored, so a second enrollment matches it). */
export async function ensureConsoleDevice(db: Db, clinicianId: string, clock: Clock): Promise<{ id: string; publicKey: string }> {
  const id = consoleDeviceId(clinicianId);
  const existing = await db.selectFrom('devices').select(['public_key']).where('id', '=', id).executeTakeFirst();
  if (existing) return { id, publicKey: existing.public_key };
  // Only the public half is kept: nobody holds the key to sign as this device.
  const publicKey = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64url');
  const now = clock().toISOString();
  await db
    .insertInto('devices')
    .values({ id, clinician_id: clinicianId, public_key: publicKey, created_at: now, last_seen_at: null, revoked_at: null })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  const row = await db.selectFrom('devices').select(['public_key']).where('id', '=', id).executeTakeFirstOrThrow();
  return { id, publicKey: row.public_key };
}
