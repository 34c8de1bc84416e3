/**
 * The contract between the desktop's main process and the backend: request
 * and response bodies as zod schemas, parsed on both sides, so a garbled or
 * hostile answer becomes a typed error instead of state. WebAuthn JSON is
 * bounded in size here and verified cryptographically by the relying party.
 * Never carry a PRF output, a cache key or a device private key here.
 */
import { z } from 'zod';

const b64url = (max: number) => z.string().max(max).regex(/^[A-Za-z0-9_-]*$/, 'not base64url');

export const clinicianIdSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'not a clinician id');

/** Enrollment codes: 12 characters of Crockford base32, shown in groups of four. */
export const enrollmentCodeSchema = z
  .string()
  .max(32)
  .transform((s) => s.toUpperCase().replace(/[\s-]/g, ''))
  .pipe(z.string().regex(/^[0-9A-HJKMNP-TV-Z]{12}$/, 'not an enrollment code'));

export const registrationResponseSchema = z.looseObject({
  id: b64url(1024),
  rawId: b64url(1024),
  type: z.literal('public-key'),
  response: z.looseObject({
    clientDataJSON: b64url(8192),
    attestationObject: b64url(65536),
    transports: z.array(z.string().max(32)).max(8).optional(),
  }),
  clientExtensionResults: z.looseObject({}),
  authenticatorAttachment: z.string().max(32).optional(),
});
export type RegistrationResponse = z.infer<typeof registrationResponseSchema>;

export const authenticationResponseSchema = z.looseObject({
  id: b64url(1024),
  rawId: b64url(1024),
  type: z.literal('public-key'),
  response: z.looseObject({
    clientDataJSON: b64url(8192),
    authenticatorData: b64url(8192),
    signature: b64url(2048),
    userHandle: b64url(1024).optional(),
  }),
  clientExtensionResults: z.looseObject({}),
  authenticatorAttachment: z.string().max(32).optional(),
});
export type AuthenticationResponse = z.infer<typeof authenticationResponseSchema>;

/** Options as the browser library takes them; checked for shape, not trusted for content. */
export const creationOptionsSchema = z.looseObject({
  challenge: b64url(1024),
  rp: z.looseObject({ id: z.string().max(253).optional(), name: z.string().max(256) }),
  user: z.looseObject({ id: b64url(256), name: z.string().max(256), displayName: z.string().max(256) }),
  pubKeyCredParams: z.array(z.looseObject({ type: z.literal('public-key'), alg: z.number().int() })).max(16),
});
export const requestOptionsSchema = z.looseObject({
  challenge: b64url(1024),
  rpId: z.string().max(253).optional(),
  allowCredentials: z.array(z.looseObject({ id: b64url(1024), type: z.literal('public-key') })).max(64).optional(),
  userVerification: z.string().max(32).optional(),
});

export const policySchema = z.object({
  /** Minutes without activity before the app locks. */
  idleLockMinutes: z.number().int().min(1).max(240),
  /** Days a device may unlock offline before it must sign in online again. */
  offlineDays: z.number().int().min(0).max(90),
  /** When true, a passkey without the PRF extension may not open the cache. */
  requirePrf: z.boolean(),
  /**
   * Minutes a backend session may go unused before the server ends it
   * (besides its absolute 12 hours). Optional for records saved before it
   * existed; the backend always sends it.
   */
  sessionIdleMinutes: z.number().int().min(1).max(720).optional(),
  /**
   * Seconds a local change is held on the computer before the sync worker
   * may send it, so it can be undone (0: sent at once). Optional for records
   * saved before it existed (DEFAULT_UNDO_SECONDS then); the backend always
   * sends it.
   */
  undoSeconds: z.number().int().min(0).max(120).optional(),
  /**
   * Minutes a break-the-glass grant lasts (15..1440; the backend's default
   * 240). Optional for records saved before it existed; the backend always
   * sends it.
   */
  breakGlassMinutes: z.number().int().min(15).max(1440).optional(),
});
export type Policy = z.infer<typeof policySchema>;
/** The undo window where the organisation has not said otherwise (a device with no policy yet, an older backend). */
export const DEFAULT_UNDO_SECONDS = 10;

export const credentialRecordSchema = z.object({
  id: b64url(1024),
  publicKey: b64url(4096),
  counter: z.number().int().nonnegative(),
  prf: z.boolean(),
});
export type CredentialRecord = z.infer<typeof credentialRecordSchema>;

export const deviceSchema = z.object({
  id: z.uuid(),
  createdAt: z.string().max(40),
  lastSeenAt: z.string().max(40).nullable(),
  revokedAt: z.string().max(40).nullable(),
});
export type Device = z.infer<typeof deviceSchema>;

export const api = {
  enrollOptions: {
    path: '/v1/enroll/options',
    body: z.strictObject({ clinicianId: clinicianIdSchema, code: enrollmentCodeSchema }),
    reply: z.object({ options: creationOptionsSchema }),
  },
  enrollVerify: {
    path: '/v1/enroll/verify',
    body: z.strictObject({
      clinicianId: clinicianIdSchema,
      code: enrollmentCodeSchema,
      response: registrationResponseSchema,
      device: z.strictObject({ id: z.uuid(), publicKey: b64url(256) }),
    }),
    reply: z.object({
      token: b64url(128),
      clinician: z.object({ id: clinicianIdSchema, displayName: z.string().max(256) }),
      credential: credentialRecordSchema,
      policy: policySchema,
    }),
  },
  authOptions: {
    path: '/v1/auth/options',
    body: z.strictObject({ clinicianId: clinicianIdSchema }),
    reply: z.object({ options: requestOptionsSchema }),
  },
  authVerify: {
    path: '/v1/auth/verify',
    body: z.strictObject({ clinicianId: clinicianIdSchema, deviceId: z.uuid(), response: authenticationResponseSchema }),
    reply: z.object({
      token: b64url(128),
      clinician: z.object({ id: clinicianIdSchema, displayName: z.string().max(256) }),
      credentials: z.array(credentialRecordSchema).max(64),
      policy: policySchema,
    }),
  },
  /** A device's own key (registered at enrollment) gets a sync-only session: after an offline unlock, work goes out. */
  deviceOptions: {
    path: '/v1/auth/device/options',
    body: z.strictObject({ deviceId: z.uuid() }),
    reply: z.object({ challenge: b64url(128) }),
  },
  deviceVerify: {
    path: '/v1/auth/device/verify',
    body: z.strictObject({ deviceId: z.uuid(), challenge: b64url(128), signature: z.string().regex(/^[A-Za-z0-9+/=]{1,200}$/) }),
    reply: z.object({ token: b64url(128) }),
  },
  me: {
    path: '/v1/me',
    reply: z.object({
      clinician: z.object({ id: clinicianIdSchema, displayName: z.string().max(256) }),
      device: z.object({ id: z.uuid(), revoked: z.boolean() }),
      devices: z.array(deviceSchema).max(256),
      policy: policySchema,
    }),
  },
  revokeDevice: {
    path: '/v1/devices/:id/revoke',
    reply: z.object({ revoked: z.boolean() }),
  },
  /** Ends the caller's session at once (the desktop calls it on lock, sign-out and quit). */
  logout: {
    path: '/v1/session/logout',
    reply: z.object({ ended: z.boolean() }),
  },
} as const;

/** What a device signs with its Ed25519 key to get a sync-only session. */
export function deviceSessionMessage(deviceId: string, challenge: string): string {
  return `clinician-desktop device session v1\n${deviceId}\n${challenge}`;
}

export const backendErrorSchema = z.object({
  error: z.object({ code: z.string().max(64), message: z.string().max(500) }),
});
