/**
 * The sync surface: a device pushes its queued changes and pulls what
 * changed for its clinician's patients since its cursor; single resources
 * are read and written with FHIR's versioning headers (resource-routes).
 * Whether a session may touch a patient is the authorization module's
 * answer, never this file's.
 */
import type { FastifyInstance } from 'fastify';
import { PULL_PATH, PUSH_PATH, pullQuerySchema, pushRequestSchema } from '../../shared/sync-api';
import type { Clock } from '../clock';
import type { Db } from '../database';
import { callerOf, requireSession, sessionHooks } from '../auth/session-guard';
import type { RelyingParty } from '../auth/relying-party';
import { NOT_FOUND_REASON, logRefusal } from '../authorization/access-refusal';
import { pullChanges } from './change-feed';
import { registerResourceRoutes } from './resource-routes';
import { applyChanges } from './sync-push';

export function registerSyncRoutes(app: FastifyInstance, { db, rp, clock }: { db: Db; rp: RelyingParty; clock: Clock }): void {
  app.post(PUSH_PATH, { bodyLimit: 8 * 1024 * 1024, ...sessionHooks(rp, 'sync') }, async (request) => {
    const caller = callerOf(request);
    const body = pushRequestSchema.parse(request.body);
    const results = await applyChanges(db, caller, body.changes, clock);
    // One security line per push that asked for what it may not have (not one per change: a push holds up to 500).
    if (results.some((r) => r.status === 'refused' && r.reason === NOT_FOUND_REASON)) logRefusal(request, caller);
    return { results };
  });

  registerResourceRoutes(app, { db, rp, clock });

  app.get<{ Querystring: Record<string, unknown> }>(PULL_PATH, { onRequest: requireSession(rp, 'full') }, async (request) => {
    const caller = callerOf(request);
    const { cursor, estimate } = pullQuerySchema.parse(request.query);
    return pullChanges(db, caller, cursor ?? null, { query: request.url, clock }, { estimate: estimate === '1' });
  });
}
