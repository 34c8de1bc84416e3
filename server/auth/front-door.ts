/**
 * The backend's front door: what every request meets before a route
 * handles it. Server timeouts (a request must arrive whole in time, an idle
 * or trickling connection is cut), security headers (@fastify/helmet: a
 * deny-all CSP for this JSON API, nosniff, no-referrer, HSTS only on TLS),
 * `Cache-Control: no-store` on every answer (they may carry PHI), a 404
 * whose fixed body never echoes the path or method (nor does a malformed
 * URL's 400), rate limits (@fastify/rate-limit) on sign-in, enrollment and
 * device-key endpoints per address and per (clinician or device, address),
 * per-device limits on pushes and audit uploads (and one audit upload at a
 * time per device), and the timer that purges expired challenges and
 * sessions. Never read a body before a route's session
 * check, and never log a body, token, code or URL.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions, onRequestHookHandler, preHandlerHookHandler } from 'fastify';
import helmet from '@fastify/helmet';
import helmetHeaders from 'helmet';
import rateLimit from '@fastify/rate-limit';
import { ApiError } from '../api-error';
import { securityEvent } from '../monitoring/security-log';
import { callerOf } from './session-guard';

export interface Timeouts {
  /** The whole request (headers and body) must arrive within this. */
  requestMs: number;
  /** A connection with no bytes moving for this long is closed (a body sent a byte every few seconds). */
  idleMs: number;
  /** An idle keep-alive connection between requests is closed after this. */
  keepAliveMs: number;
}

export interface RateLimits {
  /** Per clinician, per window, on each sign-in endpoint (auth/options, auth/verify). */
  signInPerClinician: number;
  /** Per clinician, per window, on each enrollment endpoint (guessing codes). */
  enrollPerClinician: number;
  /** Per device, per window, on each device-key endpoint. */
  devicePerDevice: number;
  /** Per client address, per window, on each of these endpoints. */
  perIp: number;
  /**
   * Per device, per window, on each of push and audit upload (authenticated, large bodies): a guard
   * against a runaway or hostile device, set well above a busy ward's sync worker, which pushes after
   * every change (one audit upload at a time per device is what bounds memory).
   */
  uploadsPerDevice: number;
  windowMs: number;
}

// Keep-alive stays Fastify's 72 s: longer than clients' own (undici's is 4 s), so a client drops an idle
// socket before the server does and never sends a request on one the server has already closed.
export const DEFAULT_TIMEOUTS: Timeouts = { requestMs: 120_000, idleMs: 15_000, keepAliveMs: 72_000 };
export const DEFAULT_RATE_LIMITS: RateLimits = { signInPerClinician: 30, enrollPerClinician: 10, devicePerDevice: 30, perIp: 300, uploadsPerDevice: 3000, windowMs: 60_000 };
export const PURGE_INTERVAL_MS = 60_000;

/** Fastify's server options for these timeouts (with the https options, if any). */
export function serverOptions(t: Timeouts, https: { key: Buffer; cert: Buffer } | undefined): FastifyServerOptions {
  // Node checks requestTimeout on this interval, so it follows short test timeouts too.
  const http = { requestTimeout: t.requestMs, headersTimeout: Math.min(t.requestMs, 60_000), connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(t.requestMs / 2))) };
  return {
    connectionTimeout: t.idleMs,
    keepAliveTimeout: t.keepAliveMs,
    requestTimeout: t.requestMs,
    frameworkErrors: answerMalformed,
    ...(https ? { https: { ...https, ...http } } : { http }),
  } as FastifyServerOptions;
}

const NOT_FOUND = { error: { code: 'NOT_FOUND', message: 'Not found.' } };
const MALFORMED = { error: { code: 'INVALID_REQUEST', message: 'The request was malformed.' } };
const HELMET_OPTIONS = (tls: boolean) => ({
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] } },
  hsts: tls ? { maxAge: 31_536_000, includeSubDomains: true } : false,
  referrerPolicy: { policy: 'no-referrer' as const },
  crossOriginResourcePolicy: { policy: 'same-origin' as const },
});

/**
 * Fastify's answer to a request it cannot route (a malformed URL such as
 * `%ZZ`, an over-long parameter): the fixed 400, never its own body that
 * echoes the path. Such a request skips every hook, so the headers the
 * front door's hooks set are set here too.
 */
function answerMalformed(_err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  // helmet itself (what @fastify/helmet runs in its hook); HSTS is left to answers that went through the hooks.
  helmetHeaders(HELMET_OPTIONS(false))(request.raw, reply.raw, () => undefined);
  void reply.status(400).headers({ 'cache-control': 'no-store', pragma: 'no-cache' }).send(MALFORMED);
}

/** Headers, no-store, the fixed 404 and the rate-limit plugin, on the root instance before any route. */
export function registerFrontDoor(app: FastifyInstance, { tls }: { tls: boolean }): void {
  void app.register(helmet, { global: true, ...HELMET_OPTIONS(tls) });
  void app.register(rateLimit, { global: false });
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    reply.header('pragma', 'no-cache');
  });
  app.setNotFoundHandler((_request, reply) => {
    void reply.status(404).send(NOT_FOUND);
  });
}

function identityOf(body: unknown, field: 'clinicianId' | 'deviceId'): string {
  const value = body && typeof body === 'object' ? (body as Record<string, unknown>)[field] : undefined;
  return typeof value === 'string' ? value.slice(0, 64) : '-';
}

/**
 * Route hooks limiting one sign-in, enrollment or device-key endpoint: per
 * address before the body is read, per (clinician or device from the
 * parsed body, address) before the handler. The named limit is counted per
 * address so that nobody can use up a clinician's or device's attempts
 * from elsewhere and lock them out (a body names anyone). There is no
 * global per-clinician bucket on purpose: it would be exactly that
 * lock-out, and it guards nothing, since a passkey sign-in or a device
 * signature cannot be guessed and a 60-bit enrollment code cannot be
 * brute-forced within its lifetime at the per-address rate (even from
 * many addresses). A hit answers 429 RATE_LIMITED and is logged as a
 * security event.
 */
export function rateLimited(
  app: FastifyInstance,
  limits: RateLimits,
  kind: 'sign-in' | 'enroll' | 'device',
): { onRequest: onRequestHookHandler; preHandler: preHandlerHookHandler } {
  const field = kind === 'device' ? 'deviceId' : 'clinicianId';
  const perId = kind === 'sign-in' ? limits.signInPerClinician : kind === 'enroll' ? limits.enrollPerClinician : limits.devicePerDevice;
  const route = (request: FastifyRequest) => request.routeOptions.url ?? kind;
  const byIp = app.createRateLimit({ max: limits.perIp, timeWindow: limits.windowMs, keyGenerator: (request) => `${route(request)} ip ${request.ip}` });
  const byId = app.createRateLimit({ max: perId, timeWindow: limits.windowMs, keyGenerator: (request) => `${route(request)} id ${identityOf(request.body, field)} ip ${request.ip}` });
  const check = async (limiter: typeof byIp, request: FastifyRequest, reply: { header(k: string, v: string): unknown }) => {
    const r = await limiter(request);
    if (r.isAllowed || !r.isExceeded) return;
    const who = identityOf(request.body, field);
    refuse(request, reply, r.ttlInSeconds, who === '-' ? {} : field === 'deviceId' ? { deviceId: who } : { clinicianId: who });
  };
  return {
    onRequest: async (request, reply) => check(byIp, request, reply),
    preHandler: async (request, reply) => check(byId, request, reply),
  };
}

function refuse(request: FastifyRequest, reply: { header(k: string, v: string): unknown }, retryAfterSeconds: number, who: { clinicianId?: string; deviceId?: string }, message = 'Too many attempts. Wait a minute and try again.'): never {
  securityEvent('rate-limited', { route: request.routeOptions.url ?? '-', method: request.method, ip: request.ip, code: 'RATE_LIMITED', ...who });
  reply.header('retry-after', String(retryAfterSeconds));
  throw new ApiError(429, 'RATE_LIMITED', message);
}

/**
 * Limits the authenticated routes with large bodies (push, audit upload):
 * per device (the session's, never the body's), per window, and for a
 * route marked `oneAtATime`, one request per device in flight (a second
 * one is refused while the first is still arriving or being handled).
 * Runs as a root preParsing hook: after the route's session check, before
 * the body is read, so a refused body is never buffered.
 */
export function limitDeviceUploads(app: FastifyInstance, limits: RateLimits, routes: Array<{ method: string; url: string; oneAtATime?: boolean }>): void {
  let perDevice: ReturnType<FastifyInstance['createRateLimit']> | null = null;
  const inFlight = new Set<string>();
  app.addHook('preParsing', async (request, reply, payload) => {
    const limited = routes.find((r) => r.method === request.method && r.url === request.routeOptions.url);
    if (!limited) return payload;
    const { deviceId } = callerOf(request);
    // The rate-limit plugin decorates the instance once it is loaded, so the limiter is made at the first request.
    perDevice ??= app.createRateLimit({ max: limits.uploadsPerDevice, timeWindow: limits.windowMs, keyGenerator: (r) => `${r.routeOptions.url} device ${callerOf(r).deviceId}` });
    const r = await perDevice(request);
    if (!r.isAllowed && r.isExceeded) refuse(request, reply, r.ttlInSeconds, { deviceId });
    if (limited.oneAtATime) {
      const slot = `${limited.url} ${deviceId}`;
      if (inFlight.has(slot)) refuse(request, reply, 1, { deviceId }, 'This device is already uploading. Try again when that upload is done.');
      inFlight.add(slot);
      reply.raw.once('close', () => inFlight.delete(slot));
    }
    return payload;
  });
}

/** Runs `purge` on a timer while the app is up (unref'd; a failure is reported without detail and retried next time). */
export function purgeOnTimer(app: FastifyInstance, purge: () => Promise<void>, everyMs: number): void {
  let timer: NodeJS.Timeout | null = null;
  app.addHook('onReady', async () => {
    timer = setInterval(() => {
      purge().catch((err: unknown) => process.stderr.write(`[backend] purge failed: ${(err as Error).name}\n`));
    }, everyMs);
    timer.unref();
  });
  app.addHook('onClose', async () => {
    if (timer) clearInterval(timer);
  });
}
