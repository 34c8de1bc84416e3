/**
 * The session check of every authenticated route, run as the route's
 * `onRequest` hook: before the body is read, so an unauthenticated caller
 * cannot make the backend parse (or wait for) a large or slow body. The
 * caller it finds is attached to the request; handlers read it with
 * `callerOf`. Never let a handler take the clinician or device from the
 * request body or path.
 */
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import { unauthorized } from '../api-error';
import { bearer } from './bearer-token';
import type { Caller, SessionScope } from './caller';
import type { RelyingParty } from './relying-party';

const callers = new WeakMap<FastifyRequest, Caller>();

/** Route option: `{ onRequest: requireSession(rp, 'full') }`; 'sync' also admits sync-only sessions. */
export function requireSession(rp: RelyingParty, need: SessionScope): onRequestHookHandler {
  return async (request) => {
    callers.set(request, await rp.session(bearer(request), need));
  };
}

/** The caller the route's session hook found. */
export function callerOf(request: FastifyRequest): Caller {
  const caller = callers.get(request);
  if (!caller) throw unauthorized('SESSION_INVALID', 'Sign in again.');
  return caller;
}
