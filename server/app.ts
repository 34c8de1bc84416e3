/**
 * The backend's HTTP surface (Fastify): health, enrollment and sign-in
 * ceremonies (passkey, and the device key's sync-only session), the
 * signed-in clinician's view, device revocation, sync push and pull, single
 * resources, and audit upload and trail. Every body is parsed with the
 * shared zod schema; every failure is a JSON `{ error: { code, message } }`
 * without PHI or stack.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { api, deviceSchema } from '../shared/backend-api';
import { ApiError, forbidden } from './api-error';
import type { Clock } from './clock';
import type { Db } from './database';
import { readPolicy, revokeDevice } from './organisation';
import { applyChanges } from './sync-push';
import { PULL_PATH, PUSH_PATH, pullCursorSchema, pushRequestSchema } from '../shared/sync-api';
import { pullChanges } from './change-feed';
import { registerResourceRoutes } from './resource-routes';
import { AUDIT_UPLOAD_PATH, auditUploadSchema } from '../shared/audit-upload';
import { fhirIdSchema } from '../shared/fhir-id';
import { acceptAuditUpload, patientAuditTrail } from './audit-ledger';
import type { KeyObject } from 'node:crypto';
import type { RelyingParty } from './relying-party';

export interface AppDeps {
  db: Db;
  rp: RelyingParty;
  clock: Clock;
  https?: { key: Buffer; cert: Buffer };
  /** Signs audit receipts; its public half is given to devices. */
  receiptKey: { privateKey: KeyObject; publicKey: string };
}

function bearer(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7) : undefined;
}

export function buildApp({ db, rp, clock, https, receiptKey }: AppDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 256 * 1024, ...(https ? { https } : {}) }) as unknown as FastifyInstance;

  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof ApiError) return reply.status(err.status).send({ error: { code: err.code, message: err.message } });
    if (err instanceof ZodError) return reply.status(400).send({ error: { code: 'INVALID_REQUEST', message: 'The request was malformed.' } });
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.status(status).send({ error: { code: 'INVALID_REQUEST', message: 'The request was malformed.' } });
    }
    process.stderr.write(`[backend] internal error: ${(err as Error).name}\n`);
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'The server failed to handle the request.' } });
  });

  app.get('/healthz', async () => ({ ok: true }));

  app.post(api.enrollOptions.path, async (request) => {
    const body = api.enrollOptions.body.parse(request.body);
    return { options: await rp.registrationOptions(body.clinicianId, body.code) };
  });

  app.post(api.enrollVerify.path, async (request) => {
    const body = api.enrollVerify.body.parse(request.body);
    const result = await rp.registrationVerify(body);
    return { ...result, policy: await readPolicy(db) };
  });

  app.post(api.authOptions.path, async (request) => {
    const body = api.authOptions.body.parse(request.body);
    return { options: await rp.authenticationOptions(body.clinicianId) };
  });

  app.post(api.authVerify.path, async (request) => {
    const body = api.authVerify.body.parse(request.body);
    const result = await rp.authenticationVerify(body);
    return { ...result, policy: await readPolicy(db) };
  });

  app.post(api.deviceOptions.path, async (request) => rp.deviceOptions(api.deviceOptions.body.parse(request.body).deviceId));

  app.post(api.deviceVerify.path, async (request) => rp.deviceVerify(api.deviceVerify.body.parse(request.body)));

  app.get(api.me.path, async (request) => {
    const { clinicianId, deviceId } = await rp.session(bearer(request));
    const clinician = await db.selectFrom('clinicians').select(['id', 'display_name']).where('id', '=', clinicianId).executeTakeFirstOrThrow();
    const devices = await db.selectFrom('devices').selectAll().where('clinician_id', '=', clinicianId).orderBy('created_at').execute();
    return {
      clinician: { id: clinician.id, displayName: clinician.display_name },
      device: { id: deviceId, revoked: false },
      devices: devices.map((d) => deviceSchema.parse({ id: d.id, createdAt: d.created_at, lastSeenAt: d.last_seen_at, revokedAt: d.revoked_at })),
      policy: await readPolicy(db),
    };
  });

  app.post<{ Params: { id: string } }>(api.revokeDevice.path, async (request) => {
    const { clinicianId } = await rp.session(bearer(request));
    const id = deviceSchema.shape.id.parse(request.params.id);
    const device = await db.selectFrom('devices').select(['clinician_id']).where('id', '=', id).executeTakeFirst();
    if (!device || device.clinician_id !== clinicianId) throw forbidden('DEVICE_UNKNOWN', 'That device is not one of yours.');
    return { revoked: await revokeDevice(db, id, clock) };
  });

  app.post(PUSH_PATH, { bodyLimit: 8 * 1024 * 1024 }, async (request) => {
    const who = await rp.session(bearer(request), 'sync');
    const body = pushRequestSchema.parse(request.body);
    return { results: await applyChanges(db, who, body.changes, clock) };
  });

  registerResourceRoutes(app, { db, rp, clock, bearer });

  app.get<{ Querystring: { cursor?: string } }>(PULL_PATH, async (request) => {
    const { clinicianId } = await rp.session(bearer(request));
    const cursor = request.query.cursor === undefined ? null : pullCursorSchema.parse(request.query.cursor);
    return pullChanges(db, clinicianId, cursor);
  });

  app.post(AUDIT_UPLOAD_PATH, { bodyLimit: 64 * 1024 * 1024 }, async (request) => {
    const { deviceId } = await rp.session(bearer(request), 'sync');
    const upload = auditUploadSchema.parse(request.body);
    return { receipt: await acceptAuditUpload(db, deviceId, upload, receiptKey.privateKey, clock), receiptKey: receiptKey.publicKey };
  });

  app.get<{ Params: { id: string } }>('/v1/audit/patients/:id', async (request) => {
    const { clinicianId } = await rp.session(bearer(request));
    const patientId = fhirIdSchema.parse(request.params.id);
    const assigned = await db.selectFrom('assignments').select('patient_id').where('clinician_id', '=', clinicianId).where('patient_id', '=', patientId).executeTakeFirst();
    if (!assigned) throw forbidden('NOT_ASSIGNED', 'That patient is not assigned to you.');
    return { events: await patientAuditTrail(db, patientId, 500) };
  });

  return app;
}
