/**
 * The break-the-glass routes (shared/glass-api.ts): restricted search,
 * breaking the glass on a match, the caller's active grants, and the
 * granted patient's records. Passkey ('full') sessions only; a sync-only
 * session, a revoked clinician or device is refused by the session check
 * before anything is searched or granted. Every handle or grant problem is
 * one answer, 403 GLASS_REFUSED with one fixed message, and one security
 * log line (identifiers and code only); a bad reason is 400 GLASS_REFUSED,
 * checked before the handle is used. Search and grant are rate-limited per
 * clinician (the session's, never the body's). Never log a handle, the
 * search text, the reason's text or a patient id.
 */
import type { FastifyInstance, FastifyRequest, preHandlerHookHandler } from 'fastify';
import { glassReasonSchema } from '../../shared/contract';
import {
  GLASS_ACTIVE_MAX,
  GLASS_GRANTS_PATH,
  GLASS_REASON_MESSAGE,
  GLASS_RECORDS_PATH,
  GLASS_REFUSED_MESSAGE,
  GLASS_SEARCH_PATH,
  glassGrantBodySchema,
  glassHandleSchema,
  glassRecordsParamsSchema,
  glassRecordsQuerySchema,
  glassSearchBodySchema,
} from '../../shared/glass-api';
import { ApiError } from '../api-error';
import type { Clock } from '../clock';
import type { Db } from '../database';
import type { RelyingParty } from '../auth/relying-party';
import { callerOf, requireSession, sessionHooks } from '../auth/session-guard';
import { logRefusal } from '../authorization/access-refusal';
import { securityEvent } from '../monitoring/security-log';
import { breakGlass } from './break-glass';
import { activeGrants } from './grant-store';
import { grantedRecordsPage } from './granted-records';
import { restrictedSearch } from './restricted-search';

export interface GlassOptions {
  /** Restricted searches per clinician per minute (default 20). */
  searchPerMinute?: number;
  /** Attempts to break the glass per clinician per minute (default 10). */
  grantPerMinute?: number;
}

export const DEFAULT_GLASS_LIMITS = { searchPerMinute: 20, grantPerMinute: 10 } as const;

export const glassRefused = () => new ApiError(403, 'GLASS_REFUSED', GLASS_REFUSED_MESSAGE);

function refuse(request: FastifyRequest): ApiError {
  logRefusal(request, callerOf(request), 'GLASS_REFUSED');
  return glassRefused();
}

/** A per-clinician limit, checked after the session (the limiter keys on the session's clinician). */
function perClinician(app: FastifyInstance, max: number): preHandlerHookHandler {
  const limiter = app.createRateLimit({ max, timeWindow: 60_000, keyGenerator: (r) => `${r.routeOptions.url} clinician ${callerOf(r).clinicianId}` });
  return async (request, reply) => {
    const r = await limiter(request);
    if (r.isAllowed || !r.isExceeded) return;
    const { clinicianId, deviceId } = callerOf(request);
    securityEvent('rate-limited', { route: request.routeOptions.url ?? '-', method: request.method, ip: request.ip, code: 'RATE_LIMITED', clinicianId, deviceId });
    void reply.header('retry-after', String(r.ttlInSeconds));
    throw new ApiError(429, 'RATE_LIMITED', 'Too many attempts. Wait a minute and try again.');
  };
}

export function registerGlassRoutes(app: FastifyInstance, { db, rp, clock, options = {} }: { db: Db; rp: RelyingParty; clock: Clock; options?: GlassOptions }): void {
  const full = sessionHooks(rp, 'full');
  const searchLimit = perClinician(app, options.searchPerMinute ?? DEFAULT_GLASS_LIMITS.searchPerMinute);
  const grantLimit = perClinician(app, options.grantPerMinute ?? DEFAULT_GLASS_LIMITS.grantPerMinute);

  app.post(GLASS_SEARCH_PATH, { bodyLimit: 4096, onRequest: full.onRequest, preHandler: [full.preHandler, searchLimit] }, async (request) => {
    const { query } = glassSearchBodySchema.parse(request.body);
    return restrictedSearch(db, callerOf(request), query, clock);
  });

  app.post(GLASS_GRANTS_PATH, { bodyLimit: 4096, onRequest: full.onRequest, preHandler: [full.preHandler, grantLimit] }, async (request) => {
    const body = request.body && typeof request.body === 'object' ? (request.body as Record<string, unknown>) : {};
    // The reason first: a missing or bad reason never uses the handle up.
    if (!glassReasonSchema.safeParse(body.reason).success) throw new ApiError(400, 'GLASS_REFUSED', GLASS_REASON_MESSAGE);
    const parsed = glassGrantBodySchema.safeParse(body);
    if (!parsed.success || !glassHandleSchema.safeParse(parsed.data.handle).success) throw refuse(request);
    const grant = await breakGlass(db, callerOf(request), parsed.data.handle, parsed.data.reason, clock);
    if (!grant) throw refuse(request);
    return grant;
  });

  app.get(GLASS_GRANTS_PATH, { onRequest: requireSession(rp, 'full') }, async (request) => ({
    grants: await activeGrants(db, callerOf(request).clinicianId, clock(), GLASS_ACTIVE_MAX),
  }));

  app.get<{ Params: Record<string, string>; Querystring: Record<string, string> }>(GLASS_RECORDS_PATH, { onRequest: requireSession(rp, 'full') }, async (request) => {
    const params = glassRecordsParamsSchema.safeParse(request.params);
    if (!params.success) throw refuse(request);
    const { cursor } = glassRecordsQuerySchema.parse(request.query);
    const page = await grantedRecordsPage(db, callerOf(request), params.data.patientId, cursor ?? null, { query: request.url, clock });
    if (!page) throw refuse(request);
    return page;
  });
}
