/**
 * The WebAuthn PRF input the app asks every passkey to evaluate. The output
 * (a per-credential secret the authenticator computes) derives the key that
 * wraps the cache key; the salt itself is public and fixed, so the same
 * passkey always yields the same output. Never send a PRF output to the backend.
 */
export const PRF_SALT_B64URL = 'Y2xpbmljaWFuLWRlc2t0b3AvY2FjaGUta2V5L3YxLzIwMjY'; // "clinician-desktop/cache-key/v1/2026"

/** The `extensions` member of creation and request options, as JSON. */
export function prfExtensionJson(): { prf: { eval: { first: string } } } {
  return { prf: { eval: { first: PRF_SALT_B64URL } } };
}
