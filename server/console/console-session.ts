/**
 * The privacy console's session: a backend session (made by the relying
 * party's passkey sign-in, idle and absolute expiry as every session) whose
 * token lives only in an HttpOnly, SameSite=Strict cookie scoped to the
 * console (Secure with a __Host- name on TLS), never in the page's reach.
 * Every console API request must carry the console's custom header and,
 * where the browser says, come from the console's own origin (CSRF); then
 * the session must be a passkey session of the officer's console device, and
 * the access policy must still hold the caller a privacy officer. Anything
 * else gets the backend's fixed 404, exactly what a missing page gets. Never
 * read a token from anywhere but the cookie, never log it.
 */
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ApiError } from '../api-error';
import type { Caller } from '../auth/caller';
import type { RelyingParty } from '../auth/relying-party';
import { mayReviewAuditFlags } from '../authorization/access-policy';
import type { Db } from '../database';
import { securityEvent } from '../monitoring/security-log';
import { CONSOLE_REQUEST_HEADER } from '../../shared/privacy-console-api';
import { consoleDeviceId } from './console-device';

/** The front door's 404, word for word: a refused caller cannot tell the console from a page that does not exist. */
export const notAvailable = () => new ApiError(404, 'NOT_FOUND', 'Not found.');
const refusedRequest = () => new ApiError(403, 'REQUEST_REFUSED', 'This request must come from the privacy console page.');

const TOKEN = /^[A-Za-z0-9_-]{20,128}$/;

export interface ConsoleCookie {
  name: string;
  path: string;
  secure: boolean;
}

export function consoleCookie(tls: boolean): ConsoleCookie {
  return tls ? { name: '__Host-clinician-console', path: '/', secure: true } : { name: 'clinician-console', path: '/console', secure: false };
}

export function setSessionCookie(reply: FastifyReply, cookie: ConsoleCookie, token: string): void {
  reply.header('set-cookie', `${cookie.name}=${token}; Path=${cookie.path}; HttpOnly; SameSite=Strict${cookie.secure ? '; Secure' : ''}`);
}

export function clearSessionCookie(reply: FastifyReply, cookie: ConsoleCookie): void {
  reply.header('set-cookie', `${cookie.name}=; Path=${cookie.path}; HttpOnly; SameSite=Strict; Max-Age=0${cookie.secure ? '; Secure' : ''}`);
}

/** The console session token from the request's cookie (never any other place). */
export function sessionToken(request: FastifyRequest, cookie: ConsoleCookie): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === cookie.name) {
      const value = part.slice(eq + 1).trim();
      return TOKEN.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/**
 * CSRF: the console's header must be there (a form, an image or a link
 * cannot add one; a cross-origin fetch with it needs a preflight nobody
 * answers), Sec-Fetch-Site, when sent, must say same-origin, and Origin,
 * when sent, must be one of the console's.
 */
export function checkConsoleRequest(request: FastifyRequest, origins: readonly string[]): void {
  const ok =
    request.headers[CONSOLE_REQUEST_HEADER] === '1' &&
    (request.headers['sec-fetch-site'] === undefined || request.headers['sec-fetch-site'] === 'same-origin') &&
    (request.headers.origin === undefined || origins.includes(request.headers.origin));
  if (!ok) {
    securityEvent('access-refused', { route: request.routeOptions.url ?? '-', method: request.method, code: 'REQUEST_REFUSED', ip: request.ip });
    throw refusedRequest();
  }
}

const officers = new WeakMap<FastifyRequest, Caller>();

/**
 * Route hook of every console data route: the CSRF check, then the
 * session from the cookie, bound to the caller's console device, and the
 * access policy's answer that the caller is a privacy officer now.
 */
export function requireOfficer(deps: { db: Db; rp: RelyingParty; cookie: ConsoleCookie; origins: readonly string[] }): onRequestHookHandler {
  return async (request) => {
    checkConsoleRequest(request, deps.origins);
    let caller: Caller;
    try {
      caller = await deps.rp.session(sessionToken(request, deps.cookie), 'full');
    } catch (err) {
      if (err instanceof ApiError) securityEvent('session-refused', { route: request.routeOptions.url ?? '-', method: request.method, code: err.code, ip: request.ip });
      throw notAvailable();
    }
    if (caller.deviceId !== consoleDeviceId(caller.clinicianId) || !(await mayReviewAuditFlags(deps.db, caller))) {
      securityEvent('access-refused', { clinicianId: caller.clinicianId, deviceId: caller.deviceId, route: request.routeOptions.url ?? '-', method: request.method, code: 'NOT_FOUND' });
      throw notAvailable();
    }
    officers.set(request, caller);
  };
}

/** The officer the route's hook admitted. */
export function officerOf(request: FastifyRequest): Caller {
  const caller = officers.get(request);
  if (!caller) throw notAvailable();
  return caller;
}
