/**
 * Single-resource HTTP access with FHIR's versioning headers: GET returns
 * the resource with meta.versionId and a weak ETag (W/"n"); PUT applies a
 * change only if If-Match names the current version (412 otherwise, 428
 * when an existing resource is written without If-Match) and only once per
 * Idempotency-Key, through the same exactly-once, conditional path as the
 * batch push. Whether the caller may touch the record is the access
 * policy's answer about the patient the STORED record belongs to; a refusal
 * is the answer a missing record gets (404 NOT_FOUND, no ETag, no version),
 * asked before anything that would tell the record exists. A GET is read
 * and audited in one transaction.
 */
import type { FastifyInstance } from 'fastify';
import { callerOf, requireSession, sessionHooks } from '../auth/session-guard';
import { z } from 'zod';
import { FHIR_ID_PATTERN } from '../../shared/fhir-id';
import { changeSchema } from '../../shared/sync-api';
import { ApiError, forbidden } from '../api-error';
import { mayAccessPatient, storedRecordOf } from '../authorization/access-policy';
import { NOT_FOUND_REASON, refuseAccess } from '../authorization/access-refusal';
import { recordDisclosures } from '../audit/disclosure-ledger';
import { servedResource } from './change-feed';
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
    const caller = callerOf(request);
    const { type, id } = paramsSchema.parse(request.params);
    const served = await db.transaction().execute(async (trx) => {
      const stored = await storedRecordOf(trx, type, id);
      if (!stored?.patientId || !(await mayAccessPatient(trx, caller, 'read', stored.patientId, clock))) return null;
      await recordDisclosures(trx, caller, [{ action: 'R', subtype: 'read', patientId: stored.patientId, entities: [`${type}/${id}`], outcome: '0', query: null }], clock);
      return stored;
    });
    if (!served) throw refuseAccess(request, caller);
    void reply.header('etag', etagOf(served.versionId));
    return servedResource(served.json, served.versionId);
  });

  app.put<{ Params: { type: string; id: string } }>('/v1/fhir/:type/:id', { ...sessionHooks(rp, 'full') }, async (request, reply) => {
    const caller = callerOf(request);
    const { type, id } = paramsSchema.parse(request.params);
    const idempotencyKey = changeSchema.shape.idempotencyKey.parse(request.headers['idempotency-key']);
    const ifMatch = request.headers['if-match'];
    const baseVersion = ifMatch === undefined ? null : ifMatchSchema.parse(ifMatch);
    const repeated = await db.selectFrom('applied_changes').select('result').where('device_id', '=', caller.deviceId).where('idempotency_key', '=', idempotencyKey).executeTakeFirst();
    if (baseVersion === null && !repeated) {
      // A repeat of a create gets its stored answer below; a new write over an existing resource needs
      // If-Match, but only someone who may write it learns that it exists.
      const stored = await storedRecordOf(db, type, id);
      if (stored) {
        if (!stored.patientId || !(await mayAccessPatient(db, caller, 'write', stored.patientId, clock))) throw refuseAccess(request, caller);
        throw new ApiError(428, 'IF_MATCH_REQUIRED', 'Changing an existing resource needs If-Match with its version.');
      }
    }
    const resource = changeSchema.shape.resource.parse(request.body);
    const [result] = await applyChanges(db, caller, [{ idempotencyKey, resourceType: type, id, baseVersion, resource }], clock);
    if (result!.status === 'applied') {
      void reply.status(baseVersion === null ? 201 : 200).header('etag', etagOf(result!.versionId));
      return { versionId: result!.versionId };
    }
    if (result!.status === 'conflict') {
      void reply.status(412).header('etag', etagOf(result!.currentVersion));
      return { error: { code: 'VERSION_CONFLICT', message: 'The resource changed since that version.' }, ...(result!.current ? { current: result!.current } : {}) };
    }
    if (result!.reason === NOT_FOUND_REASON) throw refuseAccess(request, caller);
    throw forbidden('CHANGE_REFUSED', result!.reason);
  });
}
