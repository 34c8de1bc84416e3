/**
 * How a route refuses access to patient data: one answer, 404 NOT_FOUND
 * with one fixed body, identical whether the record is someone else's or
 * does not exist (no version, no ETag, no hint), and one security log line
 * naming the caller, the route pattern and the code. Never put a patient
 * id, a resource id or a URL with its values in either.
 */
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../api-error';
import type { Caller } from '../auth/caller';
import { securityEvent } from '../monitoring/security-log';

/** The reason a push gives for a change it refuses this way (same whether the record exists or not). */
export const NOT_FOUND_REASON = 'Not found among your patients.';

export const notFound = () => new ApiError(404, 'NOT_FOUND', 'No such resource among your patients.');

/** Logs the refusal (identifiers only) and returns the error to throw. */
export function refuseAccess(request: FastifyRequest, caller: Caller): ApiError {
  logRefusal(request, caller);
  return notFound();
}

export function logRefusal(request: FastifyRequest, caller: Caller, code = 'NOT_FOUND'): void {
  securityEvent('access-refused', { clinicianId: caller.clinicianId, deviceId: caller.deviceId, route: request.routeOptions.url, method: request.method, code });
}
