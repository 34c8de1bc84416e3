/**
 * The bearer token of a request, as sent in `Authorization: Bearer …`.
 * Only extracts it; whether it names a live session is the session store's
 * question. Never log or echo the token.
 */
import type { FastifyRequest } from 'fastify';

export function bearer(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7) : undefined;
}
