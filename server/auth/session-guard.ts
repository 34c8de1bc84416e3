/**
 * The session check of every authenticated route, run as the route's
 * `onRequest` hook: before the body is read, so an unauthenticated caller
 * cannot make the backend parse (or wait for) a large or slow body. The
 * caller it finds is attached to the request; handlers read it with
 * `callerOf`. A refusal is logged as a security event (route pattern and
 * code, never the URL or token). Never let a handler take the clinician or
 * device from the request body or path. A route with a body uses
 * `sessionHooks`, which checks the session again once the body has been
 * read, so a revocation stops a request whose body was still arriving.
 */
import type { FastifyRequest, onRequestHookHandler, preHandlerHookHandler } from 'fastify';
import { ApiError, unauthorized } from '../api-error';
import { securityEvent } from '../monitoring/security-log';
import { bearer } from './bearer-token';
import type { Caller, SessionScope } from './caller';
import type { RelyingParty } from './relying-party';

const callers = new WeakMap<FastifyRequest, Caller>();

/** Route option: `{ onRequest: requireSession(rp, 'full') }`; 'sync' also admits sync-only sessions. */
export function requireSession(rp: RelyingParty, need: SessionScope): onRequestHookHandler {
  return async (request) => checkSession(rp, need, request);
}

/**
 * Route options for a route with a body: `{ ...sessionHooks(rp, 'sync') }`.
 * `onRequest` checks the session before the body is read (an
 * unauthenticated body stays unread); `preHandler` checks it again after
 * the body arrived, so a device or clinician revoked (or a session ended)
 * meanwhile is refused before the handler stores anything.
 */
export function sessionHooks(rp: RelyingParty, need: SessionScope): { onRequest: onRequestHookHandler; preHandler: preHandlerHookHandler } {
  return {
    onRequest: async (request) => checkSession(rp, need, request),
    preHandler: async (request) => checkSession(rp, need, request),
  };
}

async function checkSession(rp: RelyingParty, need: SessionScope, request: FastifyRequest): Promise<void> {
  try {
    callers.set(request, await rp.session(bearer(request), need));
  } catch (err) {
    callers.delete(request);
    if (err instanceof ApiError) securityEvent('session-refused', { route: request.routeOptions.url ?? '-', method: request.method, code: err.code, ip: request.ip });
    throw err;
  }
}

/** The caller the route's session hook found. */
export function callerOf(request: FastifyRequest): Caller {
  const caller = callers.get(request);
  if (!caller) throw unauthorized('SESSION_INVALID', 'Sign in again.');
  return caller;
}
