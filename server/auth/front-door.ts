/**
 * The backend's front door: what every request meets before a route
 * handles it. Server timeouts (a request must arrive whole in time, an idle
 * or trickling connection is cut), security headers (@fastify/helmet: a
 * deny-all CSP for this JSON API, nosniff, no-referrer, HSTS only on TLS),
 * `Cache-Control: no-store` on every answer (they may carry PHI), a 404
 * whose fixed body never echoes the path or method, rate limits
 * (@fastify/rate-limit) on sign-in, enrollment and device-key endpoints per
 * address and per clinician or device, and the timer that purges expired
 * challenges and sessions. Never read a body before a route's session
 * check, and never log a body, token, code or URL.
 */
import type { FastifyInstance, FastifyRequest, FastifyServerOptions, onRequestHookHandler, preHandlerHookHandler } from 'fastify';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import { ApiError } from '../api-error';
import { securityEvent } from '../monitoring/security-log';

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
  windowMs: number;
}

// Keep-alive stays Fastify's 72 s: longer than clients' own (undici's is 4 s), so a client drops an idle
// socket before the server does and never sends a request on one the server has already closed.
export const DEFAULT_TIMEOUTS: Timeouts = { requestMs: 120_000, idleMs: 15_000, keepAliveMs: 72_000 };
export const DEFAULT_RATE_LIMITS: RateLimits = { signInPerClinician: 30, enrollPerClinician: 10, devicePerDevice: 30, perIp: 300, windowMs: 60_000 };
export const PURGE_INTERVAL_MS = 60_000;

/** Fastify's server options for these timeouts (with the https options, if any). */
export function serverOptions(t: Timeouts, https: { key: Buffer; cert: Buffer } | undefined): FastifyServerOptions {
  // Node checks requestTimeout on this interval, so it follows short test timeouts too.
  const http = { requestTimeout: t.requestMs, headersTimeout: Math.min(t.requestMs, 60_000), connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(t.requestMs / 2))) };
  return {
    connectionTimeout: t.idleMs,
    keepAliveTimeout: t.keepAliveMs,
    requestTimeout: t.requestMs,
    ...(https ? { https: { ...https, ...http } } : { http }),
  } as FastifyServerOptions;
}

const NOT_FOUND = { error: { code: 'NOT_FOUND', message: 'Not found.' } };

/** Headers, no-store, the fixed 404 and the rate-limit plugin, on the root instance before any route. */
export function registerFrontDoor(app: FastifyInstance, { tls }: { tls: boolean }): void {
  void app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] } },
    hsts: tls ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
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
 * address before the body is read, per clinician or device (from the
 * parsed body) before the handler. A hit answers 429 RATE_LIMITED and is
 * logged as a security event.
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
  const byId = app.createRateLimit({ max: perId, timeWindow: limits.windowMs, keyGenerator: (request) => `${route(request)} id ${identityOf(request.body, field)}` });
  const check = async (limiter: typeof byIp, request: FastifyRequest, reply: { header(k: string, v: string): unknown }) => {
    const r = await limiter(request);
    if (r.isAllowed || !r.isExceeded) return;
    const who = identityOf(request.body, field);
    securityEvent('rate-limited', { route: route(request), method: request.method, ip: request.ip, code: 'RATE_LIMITED', ...(who === '-' ? {} : field === 'deviceId' ? { deviceId: who } : { clinicianId: who }) });
    reply.header('retry-after', String(r.ttlInSeconds));
    throw new ApiError(429, 'RATE_LIMITED', 'Too many attempts. Wait a minute and try again.');
  };
  return {
    onRequest: async (request, reply) => check(byIp, request, reply),
    preHandler: async (request, reply) => check(byId, request, reply),
  };
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
