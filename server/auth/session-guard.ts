/**
 * The session check of every authenticated route, run as the route's
 * `onRequest` hook: before the body is read, so an unauthenticated caller
 * cannot make the backend parse (or wait for) a large or slow body. The
 * caller it finds is attached to the request; handlers read it with
 * `callerOf`. A refusal is logged as a security event (route pattern and
 * code, never the URL or token). Never let a handler take the clinician or
 * device from the request body or path.
 */
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import { ApiError, unauthorized } from '../api-error';
import { securityEvent } from '../monitoring/security-log';
import { bearer } from './bearer-token';
import type { Caller, SessionScope } from './caller';
import type { RelyingParty } from './relying-party';

const callers = new WeakMap<FastifyRequest, Caller>();

/** Route option: `{ onRequest: requireSession(rp, 'full') }`; 'sync' also admits sync-only sessions. */
export function requireSession(rp: RelyingParty, need: SessionScope): onRequestHookHandler {
  return async (request) => {
    try {
      callers.set(request, await rp.session(bearer(request), need));
    } catch (err) {
      if (err instanceof ApiError) securityEvent('session-refused', { route: request.routeOptions.url ?? '-', method: request.method, code: err.code, ip: request.ip });
      throw err;
    }
  };
}

/** The caller the route's session hook found. */
export function callerOf(request: FastifyRequest): Caller {
  const caller = callers.get(request);
  if (!caller) throw unauthorized('SESSION_INVALID', 'Sign in again.');
  return caller;
}
