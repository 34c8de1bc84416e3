/**
 * Break-the-glass grants as the encrypted cache keeps them, seen from main:
 * the shape of a stored grant and the one time format grants are stored in.
 * The rows themselves (table glass_grants) are the store's
 * (../store/operations/glass-grant-rows.ts: storeGrant, checkGrants,
 * activeGrants, recordsCursor, applyGlassRecords); the audit chain's
 * emergency purpose is built there too and only re-exported here for the
 * session's main-thread connection. A grant is active while it has not
 * ended and its expiry lies ahead. Never hold SQL here, never keep the
 * reason's free text, and never decide a grant: the backend grants.
 */

export interface StoredGrant {
  patientId: string;
  grantedAt: string;
  expiresAt: string;
  reasonCode: string;
  endedAt: string | null;
}

/** An instant as the chain writes it (toISOString), so stored times compare as text. */
export function isoInstant(value: string | Date): string {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) throw new Error('not a time');
  return d.toISOString();
}
