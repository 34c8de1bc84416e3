/**
 * The sync surface: a device pushes its queued changes and pulls what
 * changed for its clinician's patients since its cursor; single resources
 * are read and written with FHIR's versioning headers (resource-routes).
 * Whether a session may touch a patient is the authorization module's
 * answer, never this file's.
 */
import type { FastifyInstance } from 'fastify';
import { PULL_PATH, PUSH_PATH, pullCursorSchema, pushRequestSchema } from '../../shared/sync-api';
import type { Clock } from '../clock';
import type { Db } from '../database';
import { callerOf, requireSession } from '../auth/session-guard';
import type { RelyingParty } from '../auth/relying-party';
import { pullChanges } from './change-feed';
import { registerResourceRoutes } from './resource-routes';
import { applyChanges } from './sync-push';

export function registerSyncRoutes(app: FastifyInstance, { db, rp, clock }: { db: Db; rp: RelyingParty; clock: Clock }): void {
  app.post(PUSH_PATH, { bodyLimit: 8 * 1024 * 1024, onRequest: requireSession(rp, 'sync') }, async (request) => {
    const who = callerOf(request);
    const body = pushRequestSchema.parse(request.body);
    return { results: await applyChanges(db, who, body.changes, clock) };
  });

  registerResourceRoutes(app, { db, rp, clock });

  app.get<{ Querystring: { cursor?: string } }>(PULL_PATH, { onRequest: requireSession(rp, 'full') }, async (request) => {
    const { clinicianId } = callerOf(request);
    const cursor = request.query.cursor === undefined ? null : pullCursorSchema.parse(request.query.cursor);
    return pullChanges(db, clinicianId, cursor);
  });
}
