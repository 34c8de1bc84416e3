/**
 * The break-the-glass HTTP contract between a desktop and the backend
 * (issue 13): the paths, request and reply schemas, and the audit facts of
 * a grant. Parsed on both sides. A restricted match tells that a patient
 * exists and is restricted, nothing more: never a name, a birth date, an
 * identifier or a patient id; the handle is opaque, random, short-lived,
 * single-use and bound to the clinician and device that searched.
 *
 * Every route needs a passkey ('full') session. Refusals:
 *  - the session checks every route has (401 SESSION_INVALID,
 *    403 CLINICIAN_REVOKED / DEVICE_REVOKED, 403 SCOPE_INSUFFICIENT for a
 *    sync-only session), before anything is searched or granted;
 *  - 403 GLASS_REFUSED with one fixed message for every handle or grant
 *    problem (unknown, expired, used, another clinician's or device's
 *    handle; no active grant, expired grant, never granted, no such patient):
 *    the answer never says which;
 *  - 400 GLASS_REFUSED (GLASS_REASON_MESSAGE) for a missing or bad reason:
 *    checked before the handle, so a bad reason never uses it up;
 *  - 429 RATE_LIMITED (Retry-After) past the per-clinician limits.
 */
import { z } from 'zod';
import { fhirIdSchema } from './fhir-id';
import { glassGrantSchema, glassReasonSchema, restrictedMatchSchema } from './contract';
import { pullCursorSchema, pulledResourceSchema } from './sync-api';

/** POST {query}: restricted matches among patients the caller is neither assigned to nor granted. */
export const GLASS_SEARCH_PATH = '/v1/glass/search';
/** POST {handle, reason}: break the glass; GET: the caller's active grants (any of their devices). */
export const GLASS_GRANTS_PATH = '/v1/glass/grants';
/** GET ?cursor=: the granted patient's records, page by page, while the grant is active. */
export const GLASS_RECORDS_PATH = '/v1/glass/grants/:patientId/records';
export const glassRecordsPath = (patientId: string) => `/v1/glass/grants/${encodeURIComponent(patientId)}/records`;

/** The only label a restricted match carries. */
export const RESTRICTED_LABEL = 'Restricted patient';
/** At most this many restricted matches per search (the list is the only count disclosed). */
export const GLASS_MATCHES_MAX = 10;
/** How long a handle may be used to break the glass, once. */
export const GLASS_HANDLE_MINUTES = 10;
/** Search text: 3..100 characters, at most 4 words of at least 2 characters (names match by word prefix, identifiers exactly). */
export const GLASS_QUERY_MIN = 3;
export const GLASS_QUERY_MAX = 100;
/** Resources per records page. */
export const GLASS_RECORDS_PAGE_MAX = 1000;

/** Policy `breakGlassMinutes`: how long a grant lasts. */
export const DEFAULT_BREAK_GLASS_MINUTES = 240;
export const BREAK_GLASS_MINUTES_MIN = 15;
export const BREAK_GLASS_MINUTES_MAX = 1440;

export const GLASS_REFUSED_MESSAGE = 'Break-the-glass access is not available for this request.';
export const GLASS_REASON_MESSAGE = 'Choose a reason (and say why for "other") to break the glass.';

export const glassSearchBodySchema = z.strictObject({ query: z.string().trim().min(GLASS_QUERY_MIN).max(GLASS_QUERY_MAX) });
export const glassSearchReplySchema = z.object({ matches: z.array(restrictedMatchSchema).max(GLASS_MATCHES_MAX) });
export type GlassSearchReply = z.infer<typeof glassSearchReplySchema>;

/** The handle as the backend issues it: 32 random bytes, base64url. */
export const glassHandleSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
export const glassGrantBodySchema = z.strictObject({ handle: z.string().min(1).max(200), reason: glassReasonSchema });
/** patientId: now readable by this clinician until expiresAt (ISO, the backend's clock). */
export const glassGrantReplySchema = glassGrantSchema;
export type GlassGrantReply = z.infer<typeof glassGrantReplySchema>;

export const GLASS_ACTIVE_MAX = 100;
export const glassActiveReplySchema = z.object({ grants: z.array(glassGrantSchema).max(GLASS_ACTIVE_MAX) });

export const glassRecordsParamsSchema = z.object({ patientId: fhirIdSchema });
export const glassRecordsQuerySchema = z.object({ cursor: pullCursorSchema.optional() });
/**
 * One page of the granted patient's resources, in the pull's shape (so the
 * desktop writes them with its pull writer): current versions with
 * meta.versionId, ordered by the change feed; `cursor` resumes after the
 * last one (pass it back to get only what changed since); `more`: another
 * page waits now. `expiresAt`: the grant's end (the latest of the caller's
 * active grants for this patient).
 */
export const glassRecordsReplySchema = z.object({
  resources: z.array(pulledResourceSchema).max(GLASS_RECORDS_PAGE_MAX),
  cursor: pullCursorSchema.nullable(),
  more: z.boolean(),
  expiresAt: z.string().max(40),
});
export type GlassRecordsReply = z.infer<typeof glassRecordsReplySchema>;

const GLASS_URN = 'urn:clinician-desktop:break-glass:';
/**
 * The entities of a 'break-glass' audit entry (device and backend): the
 * reason code and the grant's end, as URNs; the reason's free text goes in
 * the entry's `query`. Names no patient (the entry's patientId does).
 */
export function glassFacts(f: { reason: string; expiresAt: string }): string[] {
  return [`${GLASS_URN}reason:${f.reason}`, `${GLASS_URN}until:${f.expiresAt}`];
}
