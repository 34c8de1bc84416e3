/**
 * What this device remembers of its clinician, kept in the keychain next to
 * the keys (integrity matters for offline unlock): the clinician, the
 * credential public keys an offline unlock checks against, the
 * organisation's policy as last seen, when the backend last verified a
 * sign-in and the latest time the device has seen (for the offline-days
 * limit). All of it is signed by the device key (latest-time-seen.ts), so an
 * edit in the keychain makes the record unconfirmed for offline unlock. Where no policy is known, the desktop assumes the strict one
 * (PRF required). Never store a PRF output or a token here.
 */
import { z } from 'zod';
import { AppError } from '../../../shared/app-error';
import { credentialRecordSchema, DEFAULT_UNDO_SECONDS, policySchema, type Policy } from '../../../shared/backend-api';
import { readProfile } from '../cache-profile';
import type { SecretStore } from '../secret-store';

/** The desktop's own fallback until the organisation says otherwise: PRF required. */
export const FALLBACK_POLICY: Policy = { idleLockMinutes: 10, offlineDays: 7, requirePrf: true, undoSeconds: DEFAULT_UNDO_SECONDS };

const passkeyRecordSchema = z.object({
  clinicianId: z.string(),
  displayName: z.string(),
  credentials: z.array(credentialRecordSchema),
  policy: policySchema.catch(FALLBACK_POLICY),
  lastOnlineAt: z.number(),
  /** The latest time this device has seen, and the device key's signature over the whole record (session/latest-time-seen.ts). */
  latestSeenAt: z.number().optional(),
  /** (The previous format's `timeSignature`, over the times only, is dropped here: such a record needs one online sign-in.) */
  recordSignature: z.string().max(256).optional(),
});
export type PasskeyRecord = z.infer<typeof passkeyRecordSchema>;

function recordAccount(profileId: string): string {
  return `${profileId}/passkeys`;
}

export async function readPasskeyRecord(dataDir: string, secrets: SecretStore): Promise<PasskeyRecord | null> {
  const profile = readProfile(dataDir);
  if (!profile) return null;
  const text = await secrets.get(recordAccount(profile.profileId));
  if (!text) return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = passkeyRecordSchema.safeParse(json);
  return parsed.success ? parsed.data : null;
}

/**
 * Whether this computer is enrolled, and its record when the keychain can be
 * read. A locked keychain holding the record counts as enrolled (record
 * unknown until it is unlocked): the app starts locked and the unlock says
 * KEYCHAIN_LOCKED, instead of offering an enrollment.
 */
export async function readEnrollment(dataDir: string, secrets: SecretStore): Promise<{ enrolled: boolean; record: PasskeyRecord | null }> {
  try {
    const record = await readPasskeyRecord(dataDir, secrets);
    return { enrolled: record !== null, record };
  } catch (err) {
    if (err instanceof AppError && err.code === 'KEYCHAIN_LOCKED') return { enrolled: true, record: null };
    throw err;
  }
}

export async function savePasskeyRecord(secrets: SecretStore, profileId: string, record: PasskeyRecord): Promise<void> {
  await secrets.set(recordAccount(profileId), JSON.stringify(record));
}

export async function deletePasskeyRecord(secrets: SecretStore, profileId: string): Promise<void> {
  await secrets.delete(recordAccount(profileId));
}

/** The PRF output as the renderer hands it over (base64url), checked to be 32 bytes. */
export function decodePrf(prfOutput: string | undefined): Buffer | undefined {
  if (!prfOutput) return undefined;
  const b = Buffer.from(prfOutput, 'base64url');
  if (b.length !== 32) throw new AppError('PASSKEY_FAILED', 'The passkey returned an unusable key.');
  return b;
}

/** The response as the backend may see it: extension outputs reduced to "PRF is enabled". */
export function withoutPrfOutput<T extends { clientExtensionResults: Record<string, unknown> }>(response: T): T {
  const prf = response.clientExtensionResults.prf as { enabled?: unknown } | undefined;
  return { ...response, clientExtensionResults: prf?.enabled === true ? { prf: { enabled: true } } : {} };
}

export const PRF_REQUIRED_MESSAGE =
  'Your organisation requires a passkey that can protect the patient cache (PRF). This one cannot; use Windows Hello or Touch ID.';
