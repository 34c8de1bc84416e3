/**
 * The backend's HTTP surface (Fastify), composed from one module per
 * feature: sign-in (auth/), sync and single resources (sync/), audit upload
 * and trails (audit/), consultations (signaling/: HTTP, the WebSocket, the join
 * page), the privacy console (console/), behind one front door (auth/front-door: timeouts,
 * security headers, no-store, a fixed 404, rate limits, purging). Every
 * failure is a JSON `{ error: { code, message } }` without PHI or stack; a
 * request that failed because the database could not be reached is a 503
 * SERVICE_UNAVAILABLE (Retry-After), and `/healthz` says whether the
 * database answers (`{ ok, database: 'up' | 'down' }`, 503 when down),
 * nothing more.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { ZodError } from 'zod';
import { ApiError } from './api-error';
import type { Clock } from './clock';
import { databaseUp, type Db } from './database';
import { isConnectionError, serviceUnavailable } from './database-retry';
import type { ReceiptKey } from './receipt-key';
import type { RelyingParty } from './auth/relying-party';
import { registerAuthRoutes } from './auth/auth-routes';
import { DEFAULT_RATE_LIMITS, DEFAULT_TIMEOUTS, PURGE_INTERVAL_MS, limitDeviceUploads, purgeOnTimer, registerFrontDoor, serverOptions, type RateLimits, type Timeouts } from './auth/front-door';
import { PUSH_PATH } from '../shared/sync-api';
import { AUDIT_UPLOAD_PATH } from '../shared/audit-upload';
import { registerSyncRoutes } from './sync/sync-routes';
import { registerAuditRoutes } from './audit/audit-routes';
import websocket from '@fastify/websocket';
import { SIGNALING_MESSAGE_MAX_BYTES } from '../shared/consult/signaling-messages';
import { registerConsultRoutes, type ConsultOptions } from './signaling/consult-routes';
import { registerGlassRoutes, type GlassOptions } from './glass/glass-routes';
import { registerConsoleRoutes } from './console/console-routes';
import { registerFlagRoutes } from './privacy/flag-routes';

export interface AppDeps {
  db: Db;
  rp: RelyingParty;
  clock: Clock;
  https?: { key: Buffer; cert: Buffer };
  /** Signs audit receipts; its public half is given to devices. From configuration (./receipt-key), the same for every instance. */
  receiptKey: ReceiptKey;
  /** Rate limits of sign-in, enrollment and device-key endpoints, and per-device limits of push and audit upload (defaults: DEFAULT_RATE_LIMITS; a benchmark raises them). */
  rateLimits?: Partial<RateLimits>;
  /** Request and idle-connection timeouts (defaults: DEFAULT_TIMEOUTS; tests shorten them). */
  timeouts?: Partial<Timeouts>;
  /** How often expired challenges and sessions are purged. */
  purgeIntervalMs?: number;
  /** Consultations: public address for join links, media server, TURN, link lifetime, the relay's LISTEN connection (signaling/consult-routes.ts). */
  consult?: ConsultOptions;
  /** Break the glass: per-clinician limits of restricted search and grants (glass/glass-routes.ts). */
  glass?: GlassOptions;
}

export function buildApp({ db, rp, clock, https, receiptKey, rateLimits, timeouts, purgeIntervalMs, consult, glass }: AppDeps): FastifyInstance {
  const limits: RateLimits = { ...DEFAULT_RATE_LIMITS, ...rateLimits };
  const app = Fastify({ logger: false, bodyLimit: 256 * 1024, ...serverOptions({ ...DEFAULT_TIMEOUTS, ...timeouts }, https) }) as unknown as FastifyInstance;
  registerFrontDoor(app, { tls: Boolean(https) });
  limitDeviceUploads(app, limits, [
    { method: 'POST', url: PUSH_PATH },
    { method: 'POST', url: AUDIT_UPLOAD_PATH, oneAtATime: true },
  ]);
  purgeOnTimer(app, () => rp.purgeExpired(), purgeIntervalMs ?? PURGE_INTERVAL_MS);
  // Before any route, so the signaling route upgrades; a message up to 4x the protocol's limit reaches the handler (answered INVALID_MESSAGE), a larger one closes the socket (1009).
  void app.register(websocket, { options: { maxPayload: 4 * SIGNALING_MESSAGE_MAX_BYTES } });

  app.setErrorHandler((err, _request, reply) => {
    if (isConnectionError(err)) {
      const unavailable = serviceUnavailable();
      return reply.status(unavailable.status).header('retry-after', '1').send({ error: { code: unavailable.code, message: unavailable.message } });
    }
    if (err instanceof ApiError && err.status === 503) reply.header('retry-after', '1');
    if (err instanceof ApiError) return reply.status(err.status).send({ error: { code: err.code, message: err.message } });
    if (err instanceof ZodError) return reply.status(400).send({ error: { code: 'INVALID_REQUEST', message: 'The request was malformed.' } });
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.status(status).send({ error: { code: 'INVALID_REQUEST', message: 'The request was malformed.' } });
    }
    process.stderr.write(`[backend] internal error: ${(err as Error).name}\n`);
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'The server failed to handle the request.' } });
  });

  // Routes are registered once the front door's plugins are loaded (the rate limiter decorates the instance).
  void app.register(async (routes) => {
    // One database check per second at most, however often /healthz is asked (it needs no session).
    let checked: { at: number; up: Promise<boolean> } | null = null;
    routes.get('/healthz', async (_request, reply) => {
      const now = Date.now();
      if (!checked || now - checked.at >= 1000) checked = { at: now, up: databaseUp(db) };
      const up = await checked.up;
      return reply.status(up ? 200 : 503).send({ ok: up, database: up ? 'up' : 'down' });
    });
    registerAuthRoutes(routes, { db, rp, clock, rateLimits: limits });
    registerSyncRoutes(routes, { db, rp, clock });
    registerAuditRoutes(routes, { db, rp, clock, receiptKey });
    registerConsultRoutes(routes, { db, rp, clock, consult: consult ?? {} });
    registerGlassRoutes(routes, { db, rp, clock, options: glass ?? {} });
    registerFlagRoutes(routes, { db, rp, clock });
    registerConsoleRoutes(routes, { db, rp, clock, rateLimits: limits, publicUrl: consult?.publicUrl, tls: Boolean(https), rendererDir: consult?.rendererDir });
  });

  return app;
}
