/**
 * The audit surface: a device uploads its chain (checked against the
 * session and the assignment history, stored as BALP AuditEvents, answered
 * with a signed receipt), asks for its own chain's head (to find a rollback
 * of its cache), a privacy officer reviews devices found rolled back, and a patient's access trail is read, page by page
 * in time order. Who may read which trail, and whether with search text, is
 * the authorization module's answer; a refusal is the same 404 as for a
 * patient that does not exist. Every trail view is itself recorded in the
 * backend's disclosure chain, in the same transaction as the read.
 */
import type { FastifyInstance } from 'fastify';
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { AUDIT_HEAD_PATH, AUDIT_RECEIPT_KEY_PATH, AUDIT_ROLLBACKS_PATH, AUDIT_UPLOAD_PATH, auditHeadQuerySchema, auditUploadSchema } from '../../shared/audit-upload';
import { fhirIdSchema } from '../../shared/fhir-id';
import type { Clock } from '../clock';
import type { Db } from '../database';
import { callerOf, requireSession, sessionHooks } from '../auth/session-guard';
import type { RelyingParty } from '../auth/relying-party';
import { mayAccessPatient, mayReviewAuditFlags } from '../authorization/access-policy';
import { refuseAccess } from '../authorization/access-refusal';
import { acceptAuditUpload } from './audit-ledger';
import { deviceChainHead } from './device-chain-head';
import { ROLLBACK_REVIEW_MAX, rollbackReview } from './rollback-review';
import { recordDisclosures } from './disclosure-ledger';
import { TRAIL_PAGE_DEFAULT, TRAIL_PAGE_MAX, patientTrailPage } from './patient-trail';

const trailQuerySchema = z.object({
  cursor: z.string().max(512).optional(),
  limit: z.coerce.number().int().min(1).max(TRAIL_PAGE_MAX).default(TRAIL_PAGE_DEFAULT),
});

/** A review page: up to `limit` items, after the opaque `cursor` the previous page answered as `next`. */
const reviewCursorSchema = z.object({ recordedAt: z.string().max(40), deviceId: z.string().max(64), seq: z.number().int().nonnegative() });
const reviewQuerySchema = z.object({
  cursor: z
    .string()
    .max(512)
    .transform((text, ctx) => {
      try {
        return reviewCursorSchema.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not a review cursor' });
        return z.NEVER;
      }
    })
    .optional(),
  limit: z.coerce.number().int().min(1).max(ROLLBACK_REVIEW_MAX).default(ROLLBACK_REVIEW_MAX),
});

export function registerAuditRoutes(
  app: FastifyInstance,
  { db, rp, clock, receiptKey }: { db: Db; rp: RelyingParty; clock: Clock; receiptKey: { privateKey: KeyObject; publicKey: string } },
): void {
  app.post(AUDIT_UPLOAD_PATH, { bodyLimit: 64 * 1024 * 1024, ...sessionHooks(rp, 'sync') }, async (request) => {
    const upload = auditUploadSchema.parse(request.body);
    return { receipt: await acceptAuditUpload(db, callerOf(request), upload, receiptKey.privateKey, clock), receiptKey: receiptKey.publicKey };
  });

  // The session's own device only: its last accepted entry (or the one at ?seq=), signed; seqs and hashes, no content.
  app.get<{ Querystring: Record<string, string> }>(AUDIT_HEAD_PATH, { onRequest: requireSession(rp, 'sync') }, async (request) => {
    const { seq } = auditHeadQuerySchema.parse(request.query);
    return { receipt: await deviceChainHead(db, callerOf(request).deviceId, receiptKey.privateKey, clock, seq), receiptKey: receiptKey.publicKey };
  });

  // The current receipt key, to a passkey (full) session only: how a device re-pins after IT replaced the key.
  app.get(AUDIT_RECEIPT_KEY_PATH, { onRequest: requireSession(rp, 'full') }, async () => ({ receiptKey: receiptKey.publicKey }));

  // The privacy officer's review of devices found rolled back; anyone else gets the same 404 as a missing page.
  app.get<{ Querystring: Record<string, string> }>(AUDIT_ROLLBACKS_PATH, { onRequest: requireSession(rp, 'full') }, async (request) => {
    const caller = callerOf(request);
    if (!(await mayReviewAuditFlags(db, caller))) throw refuseAccess(request, caller);
    const { cursor, limit } = reviewQuerySchema.parse(request.query);
    const rollbacks = await rollbackReview(db, { limit, ...(cursor ? { before: cursor } : {}) });
    const last = rollbacks.at(-1);
    const next = rollbacks.length === limit && last ? Buffer.from(JSON.stringify({ recordedAt: last.recordedAt, deviceId: last.deviceId, seq: last.seq })).toString('base64url') : null;
    return { rollbacks, next };
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>('/v1/audit/patients/:id', { onRequest: requireSession(rp, 'full') }, async (request) => {
    const caller = callerOf(request);
    const patientId = fhirIdSchema.parse(request.params.id);
    const { cursor, limit } = trailQuerySchema.parse(request.query);
    const full = await mayAccessPatient(db, caller, 'trail-full', patientId);
    if (!full && !(await mayAccessPatient(db, caller, 'trail', patientId))) throw refuseAccess(request, caller);
    return db.transaction().execute(async (trx) => {
      const page = await patientTrailPage(trx, patientId, { cursor, limit, withSearchText: full });
      await recordDisclosures(trx, caller, [{ action: 'E', subtype: 'search-type', patientId, entities: [], outcome: '0', query: request.url }], clock);
      return page;
    });
  });
}
