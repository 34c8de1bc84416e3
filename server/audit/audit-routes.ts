/**
 * The audit surface: a device uploads its chain (checked, stored as BALP
 * AuditEvents, answered with a signed receipt) and a patient's access trail
 * is read. Who may read which trail, and with what detail, is the
 * authorization module's answer.
 */
import type { FastifyInstance } from 'fastify';
import type { KeyObject } from 'node:crypto';
import { AUDIT_UPLOAD_PATH, auditUploadSchema } from '../../shared/audit-upload';
import { fhirIdSchema } from '../../shared/fhir-id';
import { forbidden } from '../api-error';
import type { Clock } from '../clock';
import type { Db } from '../database';
import { callerOf, requireSession } from '../auth/session-guard';
import type { RelyingParty } from '../auth/relying-party';
import { acceptAuditUpload, patientAuditTrail } from './audit-ledger';

export function registerAuditRoutes(
  app: FastifyInstance,
  { db, rp, clock, receiptKey }: { db: Db; rp: RelyingParty; clock: Clock; receiptKey: { privateKey: KeyObject; publicKey: string } },
): void {
  app.post(AUDIT_UPLOAD_PATH, { bodyLimit: 64 * 1024 * 1024, onRequest: requireSession(rp, 'sync') }, async (request) => {
    const { deviceId } = callerOf(request);
    const upload = auditUploadSchema.parse(request.body);
    return { receipt: await acceptAuditUpload(db, deviceId, upload, receiptKey.privateKey, clock), receiptKey: receiptKey.publicKey };
  });

  app.get<{ Params: { id: string } }>('/v1/audit/patients/:id', { onRequest: requireSession(rp, 'full') }, async (request) => {
    const { clinicianId } = callerOf(request);
    const patientId = fhirIdSchema.parse(request.params.id);
    const assigned = await db.selectFrom('assignments').select('patient_id').where('clinician_id', '=', clinicianId).where('patient_id', '=', patientId).executeTakeFirst();
    if (!assigned) throw forbidden('NOT_ASSIGNED', 'That patient is not assigned to you.');
    return { events: await patientAuditTrail(db, patientId, 500) };
  });
}
