/**
 * The backend's HTTP surface (Fastify), composed from one module per
 * feature: sign-in (auth/), sync and single resources (sync/), audit upload
 * and trails (audit/). Every failure is a JSON `{ error: { code, message } }`
 * without PHI or stack.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { ZodError } from 'zod';
import type { KeyObject } from 'node:crypto';
import { ApiError } from './api-error';
import type { Clock } from './clock';
import type { Db } from './database';
import type { RelyingParty } from './auth/relying-party';
import { registerAuthRoutes } from './auth/auth-routes';
import { registerSyncRoutes } from './sync/sync-routes';
import { registerAuditRoutes } from './audit/audit-routes';

export interface AppDeps {
  db: Db;
  rp: RelyingParty;
  clock: Clock;
  https?: { key: Buffer; cert: Buffer };
  /** Signs audit receipts; its public half is given to devices. */
  receiptKey: { privateKey: KeyObject; publicKey: string };
}

export function buildApp({ db, rp, clock, https, receiptKey }: AppDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 256 * 1024, ...(https ? { https } : {}) }) as unknown as FastifyInstance;

  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof ApiError) return reply.status(err.status).send({ error: { code: err.code, message: err.message } });
    if (err instanceof ZodError) return reply.status(400).send({ error: { code: 'INVALID_REQUEST', message: 'The request was malformed.' } });
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.status(status).send({ error: { code: 'INVALID_REQUEST', message: 'The request was malformed.' } });
    }
    process.stderr.write(`[backend] internal error: ${(err as Error).name}\n`);
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'The server failed to handle the request.' } });
  });

  app.get('/healthz', async () => ({ ok: true }));

  registerAuthRoutes(app, { db, rp, clock });
  registerSyncRoutes(app, { db, rp, clock });
  registerAuditRoutes(app, { db, rp, clock, receiptKey });

  return app;
}
