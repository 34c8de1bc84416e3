/**
 * The sign-in surface: enrollment with a one-time code and a passkey,
 * passkey sign-in, the device key's sync-only session, the signed-in
 * clinician's view of themselves and their devices, and device revocation.
 * Every body is parsed with the shared zod schema. Never answer differently
 * for an unknown and a known clinician or device before a proof is checked.
 */
import type { FastifyInstance } from 'fastify';
import { api, deviceSchema } from '../../shared/backend-api';
import { forbidden } from '../api-error';
import type { Clock } from '../clock';
import type { Db } from '../database';
import { readPolicy, revokeDevice } from '../organisation/organisation';
import { callerOf, requireSession } from './session-guard';
import type { RelyingParty } from './relying-party';

export function registerAuthRoutes(app: FastifyInstance, { db, rp, clock }: { db: Db; rp: RelyingParty; clock: Clock }): void {
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

  app.get(api.me.path, { onRequest: requireSession(rp, 'full') }, async (request) => {
    const { clinicianId, deviceId } = callerOf(request);
    const clinician = await db.selectFrom('clinicians').select(['id', 'display_name']).where('id', '=', clinicianId).executeTakeFirstOrThrow();
    const devices = await db.selectFrom('devices').selectAll().where('clinician_id', '=', clinicianId).orderBy('created_at').execute();
    return {
      clinician: { id: clinician.id, displayName: clinician.display_name },
      device: { id: deviceId, revoked: false },
      devices: devices.map((d) => deviceSchema.parse({ id: d.id, createdAt: d.created_at, lastSeenAt: d.last_seen_at, revokedAt: d.revoked_at })),
      policy: await readPolicy(db),
    };
  });

  app.post<{ Params: { id: string } }>(api.revokeDevice.path, { onRequest: requireSession(rp, 'full') }, async (request) => {
    const { clinicianId } = callerOf(request);
    const id = deviceSchema.shape.id.parse(request.params.id);
    const device = await db.selectFrom('devices').select(['clinician_id']).where('id', '=', id).executeTakeFirst();
    if (!device || device.clinician_id !== clinicianId) throw forbidden('DEVICE_UNKNOWN', 'That device is not one of yours.');
    return { revoked: await revokeDevice(db, id, clock) };
  });
}
