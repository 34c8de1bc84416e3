/**
 * The sign-in surface: enrollment with a one-time code and a passkey,
 * passkey sign-in, the device key's sync-only session, logout, the
 * signed-in clinician's view of themselves and their devices, and device
 * revocation. Every body is parsed with the shared zod schema. Sign-in,
 * enrollment and device-key endpoints are rate-limited per address and per
 * clinician or device; each failure is a security event (identifiers and
 * the answered code only). Never answer differently for an unknown and a
 * known clinician or device before a proof is checked.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { api, deviceSchema } from '../../shared/backend-api';
import { ApiError, forbidden, unauthorized } from '../api-error';
import type { Clock } from '../clock';
import type { Db } from '../database';
import { securityEvent, type SecurityEventName } from '../monitoring/security-log';
import { readPolicy, revokeDevice } from '../organisation/organisation';
import { bearer } from './bearer-token';
import { rateLimited, type RateLimits } from './front-door';
import { callerOf, requireSession } from './session-guard';
import type { RelyingParty } from './relying-party';

/** Sign-in bodies stay small: the largest is a registration response (attestation up to 64 KiB). */
const SIGN_IN_BODY_LIMIT = 256 * 1024;

/** Runs `attempt`; a refusal is logged as `event` with the clinician or device it named and the code answered. */
async function logged<T>(event: SecurityEventName, request: FastifyRequest, who: { clinicianId?: string; deviceId?: string }, attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (err) {
    if (err instanceof ApiError) securityEvent(event, { ...who, route: request.routeOptions.url ?? '-', code: err.code, ip: request.ip });
    throw err;
  }
}

export function registerAuthRoutes(app: FastifyInstance, { db, rp, clock, rateLimits }: { db: Db; rp: RelyingParty; clock: Clock; rateLimits: RateLimits }): void {
  const signIn = rateLimited(app, rateLimits, 'sign-in');
  const enroll = rateLimited(app, rateLimits, 'enroll');
  const device = rateLimited(app, rateLimits, 'device');
  const limited = (hooks: typeof signIn) => ({ bodyLimit: SIGN_IN_BODY_LIMIT, onRequest: hooks.onRequest, preHandler: hooks.preHandler });

  app.post(api.enrollOptions.path, limited(enroll), async (request) => {
    const body = api.enrollOptions.body.parse(request.body);
    return logged('enrollment-failed', request, { clinicianId: body.clinicianId }, async () => ({ options: await rp.registrationOptions(body.clinicianId, body.code) }));
  });

  app.post(api.enrollVerify.path, limited(enroll), async (request) => {
    const body = api.enrollVerify.body.parse(request.body);
    return logged('enrollment-failed', request, { clinicianId: body.clinicianId, deviceId: body.device.id }, async () => ({ ...(await rp.registrationVerify(body)), policy: await readPolicy(db) }));
  });

  app.post(api.authOptions.path, limited(signIn), async (request) => {
    const body = api.authOptions.body.parse(request.body);
    return { options: await rp.authenticationOptions(body.clinicianId) };
  });

  app.post(api.authVerify.path, limited(signIn), async (request) => {
    const body = api.authVerify.body.parse(request.body);
    return logged('sign-in-failed', request, { clinicianId: body.clinicianId, deviceId: body.deviceId }, async () => ({ ...(await rp.authenticationVerify(body)), policy: await readPolicy(db) }));
  });

  app.post(api.deviceOptions.path, limited(device), async (request) => rp.deviceOptions(api.deviceOptions.body.parse(request.body).deviceId));

  app.post(api.deviceVerify.path, limited(device), async (request) => {
    const body = api.deviceVerify.body.parse(request.body);
    return logged('sign-in-failed', request, { deviceId: body.deviceId }, () => rp.deviceVerify(body));
  });

  // Any scope may log out, and a second logout answers { ended: false }; no token at all is refused before the body.
  app.post(
    api.logout.path,
    {
      bodyLimit: 1024,
      onRequest: async (request) => {
        if (!bearer(request)) throw unauthorized('SESSION_INVALID', 'Sign in again.');
      },
    },
    async (request) => ({ ended: await rp.logout(bearer(request)!) }),
  );

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
