/**
 * The privacy officer's flags over HTTP: list (open or acknowledged, in
 * pages), one flag, acknowledge with a note. A privacy officer's passkey
 * session only (the authorization point's review decision); anyone else,
 * a clinician's session or a sync-only one, gets the front door's own 404
 * (the same body as a route that does not exist). A flag about the officer
 * themselves cannot be acknowledged by them (403 FLAG_ABOUT_YOURSELF). Every list, view and acknowledgement is recorded in
 * the backend's disclosure chain in the same transaction as the read or
 * write (one entry per patient the answer names, and one for the flags that
 * name none). Never logs or audits the note's text.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { PRIVACY_FLAGS_PATH, flagAckBodySchema, flagListQuerySchema, type PrivacyFlag } from '../../shared/privacy-api';
import type { Clock } from '../clock';
import type { Db } from '../database';
import type { Caller } from '../auth/caller';
import { callerOf, requireSession } from '../auth/session-guard';
import type { RelyingParty } from '../auth/relying-party';
import { mayReviewAuditFlags } from '../authorization/access-policy';
import { logRefusal } from '../authorization/access-refusal';
import { ApiError } from '../api-error';
import { recordDisclosures, type Disclosure } from '../audit/disclosure-ledger';
import { acknowledgeFlag, getFlag, listFlags, type FlagPageCursor } from './flags';

/** How a flag is named in the disclosure chain's entities. */
export const FLAG_ENTITY_PREFIX = 'urn:clinician-desktop:privacy-flag:';

/** The front door's fixed body for a route that does not exist (server/auth/front-door.ts): a clinician learns nothing of this route, and a missing flag answers the same. */
const notFound = () => new ApiError(404, 'NOT_FOUND', 'Not found.');

const cursorSchema = z.object({ at: z.string().max(40), id: z.string().max(64) });
const flagIdSchema = z.string().regex(/^[0-9a-f-]{36}$/);

function decodeCursor(text: string | undefined): FlagPageCursor | undefined {
  if (!text) return undefined;
  try {
    return cursorSchema.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
  } catch {
    throw new z.ZodError([{ code: 'custom', message: 'not a flag cursor', path: ['cursor'], input: text }]);
  }
}

const encodeCursor = (c: FlagPageCursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

/** One disclosure per patient the flags name, and one (no patient) for those that name none or for an empty answer. */
function disclosuresOf(flags: PrivacyFlag[], request: FastifyRequest, how: Pick<Disclosure, 'action' | 'subtype'>): Disclosure[] {
  const byPatient = new Map<string | null, string[]>();
  for (const f of flags) byPatient.set(f.patientId, [...(byPatient.get(f.patientId) ?? []), `${FLAG_ENTITY_PREFIX}${f.id}`]);
  if (!byPatient.has(null) && byPatient.size === 0) byPatient.set(null, []);
  // The route pattern, not the URL: a query string may carry a patient id into a no-patient entry.
  const query = `${request.method} ${request.routeOptions.url ?? ''}`;
  return [...byPatient].map(([patientId, entities]) => ({ ...how, patientId, entities, outcome: '0', query }));
}

export function registerFlagRoutes(app: FastifyInstance, { db, rp, clock }: { db: Db; rp: RelyingParty; clock: Clock }): void {
  const officer = async (request: FastifyRequest): Promise<Caller> => {
    const caller = callerOf(request);
    if (!(await mayReviewAuditFlags(db, caller))) {
      logRefusal(request, caller);
      throw notFound();
    }
    return caller;
  };

  app.get<{ Querystring: Record<string, string> }>(PRIVACY_FLAGS_PATH, { onRequest: requireSession(rp, 'full') }, async (request) => {
    const caller = await officer(request);
    const q = flagListQuerySchema.parse(request.query);
    const after = decodeCursor(q.cursor);
    return db.transaction().execute(async (trx) => {
      const page = await listFlags(trx, { status: q.status, rule: q.rule, clinicianId: q.clinicianId, patientId: q.patientId, limit: q.limit, after });
      await recordDisclosures(trx, caller, disclosuresOf(page.flags, request, { action: 'E', subtype: 'search-type' }), clock);
      return { flags: page.flags, next: page.next ? encodeCursor(page.next) : null };
    });
  });

  app.get<{ Params: { id: string } }>(`${PRIVACY_FLAGS_PATH}/:id`, { onRequest: requireSession(rp, 'full') }, async (request) => {
    const caller = await officer(request);
    const id = flagIdSchema.safeParse(request.params.id);
    if (!id.success) throw notFound();
    return db.transaction().execute(async (trx) => {
      const flag = await getFlag(trx, id.data);
      if (!flag) throw notFound();
      await recordDisclosures(trx, caller, disclosuresOf([flag], request, { action: 'R', subtype: 'read' }), clock);
      return { flag };
    });
  });

  app.post<{ Params: { id: string } }>(`${PRIVACY_FLAGS_PATH}/:id/acknowledge`, { onRequest: requireSession(rp, 'full') }, async (request) => {
    const caller = await officer(request);
    const id = flagIdSchema.safeParse(request.params.id);
    if (!id.success) throw notFound();
    const { note } = flagAckBodySchema.parse(request.body);
    return db.transaction().execute(async (trx) => {
      const flag = await acknowledgeFlag(trx, id.data, caller.clinicianId, note, clock);
      if (!flag) throw notFound();
      await recordDisclosures(trx, caller, disclosuresOf([flag], request, { action: 'E', subtype: 'search-type' }), clock);
      return { flag };
    });
  });
}
