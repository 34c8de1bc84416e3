/**
 * The privacy console's routes (issue 13 item 5): its page and assets, the
 * officer's passkey sign-in and enrollment through the backend's relying
 * party (its own instance accepting the console's origin only, so the
 * desktop's sign-in never accepts a ceremony made on this page), sign-out,
 * and the console's reads: open flags with their evidence and their
 * acknowledgement (paged by cursor), a patient's accounting of disclosures
 * (paged by cursor; FHIR Bundle of AuditEvents and CSV streamed whole), a
 * clinician's access history. Every read is authorized by the access policy
 * from the stored session and roles, and recorded in the backend's
 * disclosure chain (purpose HOPERAT) in the same transaction as the read
 * (an export: recorded in its own transaction just before it streams). A caller who is not a signed-in privacy officer gets the fixed
 * 404 of a missing page. The page never evaluates the passkey's PRF (its
 * output unwraps a desktop's cache key), so no PRF is asked here.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { ApiError, badRequest } from '../api-error';
import type { Caller } from '../auth/caller';
import { rateLimited, type RateLimits } from '../auth/front-door';
import type { RelyingParty } from '../auth/relying-party';
import { mayAccessPatient, mayReviewAuditFlags } from '../authorization/access-policy';
import { hasRole } from '../authorization/roles';
import { recordDisclosures, type Disclosure } from '../audit/disclosure-ledger';
import type { Clock } from '../clock';
import type { Db } from '../database';
import { securityEvent } from '../monitoring/security-log';
import { readPolicy } from '../organisation/organisation';
import { acknowledgeFlag, listFlags } from '../privacy/flags';
import { exportFacts } from '../../shared/audit-entry';
import { FLAG_PAGE_MAX } from '../../shared/privacy-api';
import {
  CONSOLE_API,
  acknowledgeBody,
  clinicianIdParam,
  consoleEnrollOptionsBody,
  consoleEnrollVerifyBody,
  consolePaths,
  consoleSignInOptionsBody,
  consoleSignInVerifyBody,
  patientIdParam,
  type AccountingPage,
  type ClinicianHistory,
  type FlagsPage,
  type ConsoleMe,
} from '../../shared/privacy-console-api';
import { accountingBundleChunks, accountingCsvChunks, accountingPage } from './disclosure-accounting';
import { clinicianHistory } from './clinician-access-history';
import { consoleDeviceId, ensureConsoleDevice } from './console-device';
import { consoleOrigins } from './console-origin';
import { registerConsolePage } from './console-page';
import { checkConsoleRequest, clearSessionCookie, consoleCookie, notAvailable, officerOf, requireOfficer, sessionToken, setSessionCookie } from './console-session';

export interface ConsoleDeps {
  db: Db;
  rp: RelyingParty;
  clock: Clock;
  rateLimits: RateLimits;
  /** The backend's public address (the console's origin); none: the console cannot sign anyone in. */
  publicUrl: string | undefined;
  tls: boolean;
  rendererDir?: string | undefined;
}

/** What a console export is recorded as: the reason is always the officer's accounting. */
const EXPORT_REASON = 'privacy-accounting';
/** The purpose of every console view, export and acknowledgement (HL7 v3 PurposeOfUse HOPERAT: healthcare operations, here compliance oversight), so the patient's accounting can tell the privacy office's reviews from care. */
const office = { purpose: 'HOPERAT' };
const signInUnavailable = () => new ApiError(503, 'CONSOLE_UNAVAILABLE', 'The privacy console is not set up on this server (no public address).');

const flagCursorSchema = z.strictObject({ at: z.string().max(40), id: z.string().max(64) });
/** The flags page's cursor (base64url JSON of the last flag's time and id); anything else is a malformed request. */
function decodeFlagCursor(text: string) {
  try {
    return flagCursorSchema.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
  } catch {
    throw badRequest('INVALID_REQUEST', 'The request was malformed.');
  }
}

/** The WebAuthn options without any PRF request: the console never evaluates a passkey's PRF. */
function withoutPrf<T extends object>(options: T): T {
  const { extensions: _dropped, ...rest } = options as T & { extensions?: unknown };
  return rest as T;
}

export function registerConsoleRoutes(app: FastifyInstance, deps: ConsoleDeps): void {
  const { db, clock } = deps;
  const origins = consoleOrigins(deps.publicUrl);
  const consoleRp = origins.length > 0 ? deps.rp.forOrigins(origins) : null;
  const cookie = consoleCookie(deps.tls);
  const officer = { onRequest: requireOfficer({ db, rp: deps.rp, cookie, origins }) };
  const signIn = rateLimited(app, deps.rateLimits, 'sign-in');
  const enroll = rateLimited(app, deps.rateLimits, 'enroll');
  const ceremony = (hooks: typeof signIn) => ({
    bodyLimit: 256 * 1024,
    onRequest: [async (request: FastifyRequest) => checkConsoleRequest(request, origins), hooks.onRequest],
    preHandler: hooks.preHandler,
  });
  const rp = () => {
    if (!consoleRp) throw signInUnavailable();
    return consoleRp;
  };
  const logged = async <T>(request: FastifyRequest, event: 'sign-in-failed' | 'enrollment-failed', clinicianId: string, attempt: () => Promise<T>): Promise<T> => {
    try {
      return await attempt();
    } catch (err) {
      if (err instanceof ApiError) securityEvent(event, { clinicianId, route: request.routeOptions.url ?? '-', code: err.code, ip: request.ip });
      throw err;
    }
  };
  /** The signed-in officer as the page shows them, or the neutral refusal (ending the session) if the policy says no. */
  const admitted = async (caller: Caller, token: string): Promise<ConsoleMe> => {
    if (caller.deviceId !== consoleDeviceId(caller.clinicianId) || !(await mayReviewAuditFlags(db, caller))) {
      await deps.rp.logout(token).catch(() => false);
      throw notAvailable();
    }
    const row = await db.selectFrom('clinicians').select(['display_name']).where('id', '=', caller.clinicianId).executeTakeFirstOrThrow();
    return { officer: { id: caller.clinicianId, displayName: row.display_name }, idleMinutes: (await readPolicy(db)).sessionIdleMinutes };
  };

  registerConsolePage(app, { rendererDir: deps.rendererDir ?? resolve('dist', 'renderer') });

  app.post(consolePaths.signInOptions, ceremony(signIn), async (request) => {
    const { clinicianId } = consoleSignInOptionsBody.parse(request.body);
    return { options: withoutPrf(await rp().authenticationOptions(clinicianId)) };
  });

  app.post(consolePaths.signInVerify, ceremony(signIn), async (request, reply) => {
    const body = consoleSignInVerifyBody.parse(request.body);
    return logged(request, 'sign-in-failed', body.clinicianId, async () => {
      // Only an officer has a console device; anyone else fails after the passkey proof (DEVICE_UNKNOWN), answered as a missing page.
      if (await hasRole(db, body.clinicianId, 'privacy-officer')) await ensureConsoleDevice(db, body.clinicianId, clock);
      let signedIn;
      try {
        signedIn = await rp().authenticationVerify({ clinicianId: body.clinicianId, deviceId: consoleDeviceId(body.clinicianId), response: body.response });
      } catch (err) {
        if (err instanceof ApiError && (err.code === 'DEVICE_UNKNOWN' || err.code === 'DEVICE_REVOKED' || err.code === 'CLINICIAN_REVOKED')) throw notAvailable();
        throw err;
      }
      const me = await admitted({ clinicianId: body.clinicianId, deviceId: consoleDeviceId(body.clinicianId), scope: 'full' }, signedIn.token);
      setSessionCookie(reply, cookie, signedIn.token);
      return me;
    });
  });

  app.post(consolePaths.enrollOptions, ceremony(enroll), async (request) => {
    const { clinicianId, code } = consoleEnrollOptionsBody.parse(request.body);
    return logged(request, 'enrollment-failed', clinicianId, async () => {
      // The code is checked first (one answer for every wrong code); only its holder learns the console is not for them.
      const options = await rp().registrationOptions(clinicianId, code);
      if (!(await hasRole(db, clinicianId, 'privacy-officer'))) throw notAvailable();
      // PRF only to learn that the passkey supports it (the organisation may require it); never evaluated here.
      return { options: { ...withoutPrf(options), extensions: { prf: {} } } };
    });
  });

  app.post(consolePaths.enrollVerify, ceremony(enroll), async (request, reply) => {
    const body = consoleEnrollVerifyBody.parse(request.body);
    return logged(request, 'enrollment-failed', body.clinicianId, async () => {
      // Not an officer: the same answer as a wrong code (options already refused them; the code stays unused).
      if (!(await hasRole(db, body.clinicianId, 'privacy-officer'))) throw new ApiError(400, 'ENROLLMENT_CODE_INVALID', 'The enrollment code is not valid: it may be mistyped, used or expired. Ask IT for a new one.');
      const device = await ensureConsoleDevice(db, body.clinicianId, clock);
      const enrolled = await rp().registrationVerify({ clinicianId: body.clinicianId, code: body.code, response: body.response, device });
      const me = await admitted({ clinicianId: body.clinicianId, deviceId: device.id, scope: 'full' }, enrolled.token);
      setSessionCookie(reply, cookie, enrolled.token);
      return me;
    });
  });

  app.post(consolePaths.signOut, { bodyLimit: 1024, onRequest: async (request) => checkConsoleRequest(request, origins) }, async (request, reply) => {
    const token = sessionToken(request, cookie);
    const ended = token ? await deps.rp.logout(token).catch(() => false) : false;
    clearSessionCookie(reply, cookie);
    return { ended };
  });

  app.get(consolePaths.me, officer, async (request) => {
    const caller = officerOf(request);
    const row = await db.selectFrom('clinicians').select(['display_name']).where('id', '=', caller.clinicianId).executeTakeFirstOrThrow();
    return { officer: { id: caller.clinicianId, displayName: row.display_name }, idleMinutes: (await readPolicy(db)).sessionIdleMinutes } satisfies ConsoleMe;
  });

  /** One disclosure per patient named (BALP), or one naming none; always inside the reading transaction. */
  const viewed = (patients: Array<string | null>, query: string): Disclosure[] => {
    const distinct = [...new Set(patients.filter((p): p is string => p !== null))];
    return (distinct.length > 0 ? distinct : [null]).map((patientId) => ({ action: 'E', subtype: 'search-type', patientId, entities: [], outcome: '0', query }));
  };

  /** Open flags a page at a time, newest first, behind a cursor (so new flags cannot push older ones out of view). */
  app.get<{ Querystring: { cursor?: string } }>(consolePaths.flags, officer, async (request) => {
    const caller = officerOf(request);
    const after = request.query.cursor === undefined ? undefined : decodeFlagCursor(request.query.cursor);
    return db.transaction().execute(async (trx) => {
      const { flags, next } = await listFlags(trx, { status: 'open', limit: FLAG_PAGE_MAX, after });
      await recordDisclosures(trx, caller, viewed(flags.map((f) => f.patientId), request.url), clock, office);
      const page: FlagsPage<(typeof flags)[number]> = { flags, more: next !== null, next: next ? Buffer.from(JSON.stringify(next)).toString('base64url') : null };
      return page;
    });
  });

  app.post<{ Params: { id: string } }>(`${consolePaths.flags}/:id/acknowledge`, { ...officer, bodyLimit: 8 * 1024 }, async (request) => {
    const caller = officerOf(request);
    const id = request.params.id;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw notAvailable();
    const { note } = acknowledgeBody.parse(request.body);
    return db.transaction().execute(async (trx) => {
      const flag = await acknowledgeFlag(trx, id, caller.clinicianId, note, clock);
      if (!flag) throw notAvailable();
      await recordDisclosures(trx, caller, viewed([flag.patientId], request.url), clock, office);
      return { flag };
    });
  });

  /** The patient of a console accounting route, once the access policy allows the officer the full trail. */
  const accountingPatient = async (request: FastifyRequest<{ Params: { id: string } }>, caller: Caller): Promise<string> => {
    const parsed = patientIdParam.safeParse(request.params.id);
    if (!parsed.success || !(await mayAccessPatient(db, caller, 'trail-full', parsed.data, clock))) {
      securityEvent('access-refused', { clinicianId: caller.clinicianId, deviceId: caller.deviceId, route: request.routeOptions.url ?? '-', method: request.method, code: 'NOT_FOUND' });
      throw notAvailable();
    }
    return parsed.data;
  };

  app.get<{ Params: { id: string }; Querystring: { cursor?: string } }>(`${CONSOLE_API}/patients/:id/accounting`, officer, async (request) => {
    const caller = officerOf(request);
    const patientId = await accountingPatient(request, caller);
    const cursor = typeof request.query.cursor === 'string' ? request.query.cursor : undefined;
    return db.transaction().execute(async (trx) => {
      const { rows, next } = await accountingPage(trx, patientId, cursor);
      await recordDisclosures(trx, caller, viewed([patientId], request.url), clock, office);
      return { patientId, rows, more: next !== null, next } satisfies AccountingPage;
    });
  });

  const exported = (patientId: string, format: string): Disclosure => ({
    action: 'R',
    subtype: 'export',
    patientId,
    entities: exportFacts({ format, reason: EXPORT_REASON }),
    outcome: '0',
    query: null,
  });

  // The exports: the export is recorded first (its own transaction), then the whole trail is streamed page by page, never cut short.
  app.get<{ Params: { id: string } }>(`${CONSOLE_API}/patients/:id/accounting.fhir.json`, officer, async (request, reply) => {
    const caller = officerOf(request);
    const patientId = await accountingPatient(request, caller);
    await db.transaction().execute((trx) => recordDisclosures(trx, caller, [exported(patientId, 'fhir-json')], clock, office));
    return reply
      .type('application/fhir+json; charset=utf-8')
      .header('content-disposition', `attachment; filename="accounting-${patientId}.fhir.json"`)
      .send(Readable.from(accountingBundleChunks(db, patientId, clock())));
  });

  app.get<{ Params: { id: string } }>(`${CONSOLE_API}/patients/:id/accounting.csv`, officer, async (request, reply) => {
    const caller = officerOf(request);
    const patientId = await accountingPatient(request, caller);
    await db.transaction().execute((trx) => recordDisclosures(trx, caller, [exported(patientId, 'csv')], clock, office));
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="accounting-${patientId}.csv"`)
      .send(Readable.from(accountingCsvChunks(db, patientId)));
  });

  app.get<{ Params: { id: string } }>(`${CONSOLE_API}/clinicians/:id/history`, officer, async (request) => {
    const caller = officerOf(request);
    const parsed = clinicianIdParam.safeParse(request.params.id);
    if (!parsed.success) throw notAvailable();
    return db.transaction().execute(async (trx) => {
      const { rows, more } = await clinicianHistory(trx, parsed.data);
      await recordDisclosures(trx, caller, viewed(rows.map((r) => r.patientId), request.url), clock, office);
      return { clinicianId: parsed.data, rows, more } satisfies ClinicianHistory;
    });
  });
}
