/**
 * Single-resource HTTP access with FHIR's versioning headers: GET returns
 * the resource with meta.versionId and a weak ETag (W/"n"); PUT applies a
 * change only if If-Match names the current version (412 with the current
 * version otherwise, 428 when an existing resource is written without
 * If-Match) and only once per Idempotency-Key. It goes through the same
 * exactly-once, conditional path as the batch push. Only resources of
 * patients assigned to the clinician, never anyone else's.
 */
import type { FastifyInstance } from 'fastify';
import { callerOf, requireSession } from '../auth/session-guard';
import { z } from 'zod';
import { FHIR_ID_PATTERN } from '../../shared/fhir-id';
import { changeSchema } from '../../shared/sync-api';
import { ApiError, forbidden } from '../api-error';
import { assignedResources, servedResource } from './change-feed';
import type { Clock } from '../clock';
import type { Db } from '../database';
import type { RelyingParty } from '../auth/relying-party';
import { applyChanges } from './sync-push';

const paramsSchema = z.object({ type: z.string().regex(/^[A-Z][A-Za-z]{1,63}$/), id: z.string().regex(FHIR_ID_PATTERN) });
const ifMatchSchema = z.string().regex(/^(W\/)?"\d{1,15}"$/).transform((v) => v.replace(/^W\//, '').slice(1, -1));

export const etagOf = (version: number | string) => `W/"${version}"`;

export function registerResourceRoutes(app: FastifyInstance, deps: { db: Db; rp: RelyingParty; clock: Clock }): void {
  const { db, rp, clock } = deps;

  app.get<{ Params: { type: string; id: string } }>('/v1/fhir/:type/:id', { onRequest: requireSession(rp, 'full') }, async (request, reply) => {
    const { clinicianId } = callerOf(request);
    const { type, id } = paramsSchema.parse(request.params);
    const row = await assignedResources(db, clinicianId)
      .select(['r.json', 'r.version_id'])
      .where('r.resource_type', '=', type)
      .where('r.id', '=', id)
      .executeTakeFirst();
    if (!row) throw new ApiError(404, 'NOT_FOUND', 'No such resource among your patients.');
    void reply.header('etag', etagOf(Number(row.version_id)));
    return servedResource(row.json, Number(row.version_id));
  });

  app.put<{ Params: { type: string; id: string } }>('/v1/fhir/:type/:id', { onRequest: requireSession(rp, 'full') }, async (request, reply) => {
    const who = callerOf(request);
    const { type, id } = paramsSchema.parse(request.params);
    const idempotencyKey = changeSchema.shape.idempotencyKey.parse(request.headers['idempotency-key']);
    const ifMatch = request.headers['if-match'];
    const baseVersion = ifMatch === undefined ? null : ifMatchSchema.parse(ifMatch);
    const repeated = await db.selectFrom('applied_changes').select('result').where('device_id', '=', who.deviceId).where('idempotency_key', '=', idempotencyKey).executeTakeFirst();
    if (baseVersion === null && !repeated) {
      // A repeat of a create gets its stored answer below; a new write over an existing resource needs If-Match.
      const exists = await db.selectFrom('resources').select('version_id').where('resource_type', '=', type).where('id', '=', id).executeTakeFirst();
      if (exists) throw new ApiError(428, 'IF_MATCH_REQUIRED', 'Changing an existing resource needs If-Match with its version.');
    }
    const resource = changeSchema.shape.resource.parse(request.body);
    const [result] = await applyChanges(db, who, [{ idempotencyKey, resourceType: type, id, baseVersion, resource }], clock);
    if (result!.status === 'applied') {
      void reply.status(baseVersion === null ? 201 : 200).header('etag', etagOf(result!.versionId));
      return { versionId: result!.versionId };
    }
    if (result!.status === 'conflict') {
      void reply.status(412).header('etag', etagOf(result!.currentVersion));
      return { error: { code: 'VERSION_CONFLICT', message: 'The resource changed since that version.' }, current: result!.current };
    }
    throw forbidden('CHANGE_REFUSED', result!.reason);
  });
}
