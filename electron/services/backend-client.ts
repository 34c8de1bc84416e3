/**
 * Main's client for the backend. Every answer is size-limited, time-limited
 * and parsed with the shared zod schema, so a garbled, hostile or slow
 * server yields a typed error (BACKEND_UNREACHABLE: no answer or a busy
 * server; BACKEND_FAILED: a 5xx answer, or a 413 as TooLargeError; BACKEND_INVALID_RESPONSE,
 * SIGN_IN_REFUSED, DEVICE_REVOKED) and never state. The session token stays
 * in main; the renderer never sees it or the backend's address.
 *
 * Requests go through an injected fetch function: in the app that is
 * Electron's net.fetch (electron/net-glue.ts: Chromium's stack, so the OS
 * proxy, PAC and certificate store apply); in tests and CLIs, Node's fetch.
 * This module must never import electron, and must rely only on what both
 * fetches do the same way (see neverConnected for the one difference: their
 * errors).
 */
import type { z } from 'zod';
import { AppError } from '../../shared/app-error';
import { PRF_REQUIRED_MESSAGE } from './session/passkey-record';
import { api, backendErrorSchema } from '../../shared/backend-api';
import { PULL_PATH, PUSH_PATH, pullReplySchema, pushReplySchema, type Change, type OutgoingChange, type PullReply } from '../../shared/sync-api';
import { AUDIT_HEAD_PATH, AUDIT_RECEIPT_KEY_PATH, AUDIT_UPLOAD_PATH, auditReceiptKeyReplySchema, auditReceiptReplySchema, auditReceiptSchema, type AuditUpload } from '../../shared/audit-upload';
import { z as zod } from 'zod';
import { CONSULT_CALLS_PATH, CONSULT_INVITED_PATH, consultInvitationsPath, invitedCallsResponseSchema, inviteResponseSchema, startCallResponseSchema, type startCallRequestSchema } from '../../shared/consult/consult-api';
import type { Invitee } from '../../shared/consult/signaling-messages';
import {
  GLASS_GRANTS_PATH,
  GLASS_REASON_MESSAGE,
  GLASS_REFUSED_MESSAGE,
  GLASS_SEARCH_PATH,
  glassActiveReplySchema,
  glassGrantReplySchema,
  glassRecordsPath,
  glassRecordsReplySchema,
  glassSearchReplySchema,
  type glassGrantBodySchema,
} from '../../shared/glass-api';

export const REQUEST_TIMEOUT_MS = 10_000;
/** A 5xx answer: the server is there but failed this request; nothing local is lost. */
export const BACKEND_FAILED_MESSAGE = 'The hospital server had a problem; your changes are kept and will be sent again.';
export const TOO_LARGE_MESSAGE = 'The hospital server could not take so much at once; your changes are kept and will be sent again in smaller parts.';

/** The backend (or a proxy before it) answered 413: the request was too large; the sync worker sends less at a time. */
export class TooLargeError extends AppError {
  constructor() {
    super('BACKEND_FAILED', TOO_LARGE_MESSAGE);
  }
}
const MAX_REPLY_BYTES = 1024 * 1024;
const MAX_BUNDLE_REPLY_BYTES = 64 * 1024 * 1024;

const REFUSALS: Record<string, string> = {
  ENROLLMENT_CODE_INVALID: 'The enrollment code is not valid: it may be mistyped, used or expired. Ask IT for a new one.',
  CHALLENGE_INVALID: 'The sign-in request expired or was already used. Try again.',
  CREDENTIAL_UNKNOWN: 'This passkey is not registered (or was revoked).',
  COUNTER_REPLAY: 'The passkey\'s signature counter went backwards, so the sign-in was refused.',
  ASSERTION_INVALID: 'The passkey sign-in could not be verified.',
  REGISTRATION_INVALID: 'The passkey could not be registered.',
  CLINICIAN_UNKNOWN: 'This clinician is not known to the organisation.',
  NO_PASSKEY: 'This clinician has no active passkey. Ask IT for an enrollment code.',
  SESSION_INVALID: 'Your session ended. Sign in again.',
  DEVICE_UNKNOWN: 'This computer is not enrolled with the hospital server.',
  DEVICE_SIGNATURE_INVALID: 'This computer could not prove its identity to the hospital server.',
  SCOPE_INSUFFICIENT: 'Sign in with your passkey while online for this.',
  AUDIT_CHAIN_INVALID: 'The hospital server refused this computer\'s audit log: it does not continue the log it already holds.',
};

/**
 * The backend ended or does not know the session (idle or absolute expiry,
 * logout): 401 SESSION_INVALID. Not a revocation: nothing is wiped; the
 * token is dropped and a passkey sign-in is asked for when one is needed.
 */
export class SessionEndedError extends AppError {
  constructor() {
    super('SIGN_IN_REFUSED', REFUSALS.SESSION_INVALID!);
  }
}

export function isSessionEnded(err: unknown): err is SessionEndedError {
  return err instanceof SessionEndedError;
}

/** No usable answer from the backend (unreachable, busy, or failing with a 5xx): sign-in may unlock offline. */
export function isBackendDown(err: unknown): err is AppError {
  return err instanceof AppError && (err.code === 'BACKEND_UNREACHABLE' || err.code === 'BACKEND_FAILED');
}

/**
 * The fetch the client sends through: Node's global fetch or Electron's
 * net.fetch. Called with a URL string (net.fetch takes no URL object) and a
 * plain init; must reject on a network failure and resolve with a standard
 * Response otherwise.
 */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/** Node's own fetch, looked up at call time (tests may wrap it). */
const nodeFetch: FetchFunction = (input, init) => globalThis.fetch(input, init);

/** Node (undici) failures that happen before a connection exists: no byte of the request can have reached the backend. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * The same for Chromium's stack (Electron's net.fetch rejects with
 * `new Error('net::ERR_…')`, the Chromium net error name as its message, no
 * cause): refused, no such host, no route, offline, the connect itself timing
 * out, or the configured proxy refusing the connection (then nothing reached
 * the backend either). Not ERR_CONNECTION_RESET/CLOSED, ERR_EMPTY_RESPONSE or
 * ERR_TIMED_OUT: those can happen after the request was sent.
 */
const CHROMIUM_NOT_CONNECTED = new Set([
  'ERR_CONNECTION_REFUSED',
  'ERR_NAME_NOT_RESOLVED',
  'ERR_NAME_RESOLUTION_FAILED',
  'ERR_ADDRESS_UNREACHABLE',
  'ERR_ADDRESS_INVALID',
  'ERR_INTERNET_DISCONNECTED',
  'ERR_CONNECTION_TIMED_OUT',
  'ERR_PROXY_CONNECTION_FAILED',
]);

/** Whether a fetch rejection (Node's or Electron's) certainly happened before any byte of the request left. */
export function neverConnected(err: unknown): boolean {
  if (err instanceof Error) {
    const net = /^net::(ERR_[A-Z_]+)$/.exec(err.message);
    if (net) return CHROMIUM_NOT_CONNECTED.has(net[1]!);
  }
  const cause = (err as { cause?: { code?: unknown; errors?: unknown } } | null)?.cause;
  if (!cause) return false;
  // Several addresses tried (IPv6 then IPv4): not reached only if none was.
  if (Array.isArray(cause.errors) && cause.errors.length > 0) return cause.errors.every((e) => NOT_CONNECTED.has((e as { code?: string })?.code ?? ''));
  return typeof cause.code === 'string' && NOT_CONNECTED.has(cause.code);
}

/**
 * Unreachable, and certainly so before anything was sent: the connection was
 * never made (refused, no such host, no route). A push that fails so did not
 * reach the backend (the sync worker gives that attempt back, so the change
 * stays undoable). A timeout, a cut connection or a busy answer is not this.
 */
export class NotReachedError extends AppError {
  constructor() {
    super('BACKEND_UNREACHABLE', 'The hospital server cannot be reached. You can keep working offline.');
  }
}

interface RequestOptions {
  /** Sent as JSON.stringify(body). */
  body?: unknown;
  /** Sent as it is: a body already encoded as JSON (a push, see outgoingChangeJson). */
  json?: string;
  token?: string;
  maxBytes?: number;
  signal?: AbortSignal;
}

/**
 * One change of a push as JSON text. An outgoing change's resource goes in as
 * the cache stored it (one JSON object, written by JSON.stringify), its other
 * fields encoded here; a change with its resource as an object (another
 * client, a test) is encoded whole. The sync worker measures a push's size
 * with it.
 */
export function outgoingChangeJson(c: Change | OutgoingChange): string {
  if (!('resourceJson' in c)) return JSON.stringify(c);
  const field = JSON.stringify;
  return `{"idempotencyKey":${field(c.idempotencyKey)},"resourceType":${field(c.resourceType)},"id":${field(c.id)},"baseVersion":${field(c.baseVersion)},"resource":${c.resourceJson}}`;
}

export class BackendClient {
  /** The Date of the backend's most recent answer (ms), for the offline-days rule (session/latest-time-seen.ts). */
  private lastServerDate: number | null = null;

  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs: number = REQUEST_TIMEOUT_MS,
    private readonly fetchImpl: FetchFunction = nodeFetch,
  ) {}

  /** The backend's own time as of its most recent answer (its Date header), or null before any. */
  serverTime(): number | null {
    return this.lastServerDate;
  }

  private async request<T extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    reply: T,
    options: RequestOptions = {},
  ): Promise<z.output<T>> {
    return (await this.answer(method, path, reply, options))();
  }

  /**
   * The request made and its answer read as text (the status's transport
   * errors already thrown); the returned function decodes it (JSON, the
   * backend's error codes, the schema) and throws what `request` would.
   */
  private async answer<T extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    reply: T,
    options: RequestOptions,
  ): Promise<() => z.output<T>> {
    let response: Response;
    const body = options.json ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined);
    try {
      response = await this.fetchImpl(new URL(path.replace(/^\//, ''), this.baseUrl).href, {
        method,
        headers: {
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
        ...(body !== undefined ? { body } : {}),
        signal: options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(this.timeoutMs)]) : AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
        // Under net.fetch: no cookie jar of the Electron session (the token is the only credential) and no disk cache of answers (PHI).
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (err) {
      if (neverConnected(err)) throw new NotReachedError();
      throw new AppError('BACKEND_UNREACHABLE', 'The hospital server cannot be reached. You can keep working offline.');
    }
    const date = Date.parse(response.headers.get('date') ?? '');
    if (Number.isFinite(date)) this.lastServerDate = date;
    if (response.status === 413) {
      await response.body?.cancel().catch(() => undefined);
      throw new TooLargeError();
    }
    if (response.status >= 500) {
      // The server (or its gateway) answered but failed: not "offline". Sign-in still falls back to offline unlock.
      await response.body?.cancel().catch(() => undefined);
      throw new AppError('BACKEND_FAILED', BACKEND_FAILED_MESSAGE);
    }
    if (response.status === 429) {
      // A throttled request (the backend's rate limit) is a busy server, not a refusal: sign-in falls back to offline unlock.
      await response.body?.cancel().catch(() => undefined);
      throw new AppError('BACKEND_UNREACHABLE', 'The hospital server is busy. You can keep working offline.');
    }
    const text = await readLimited(response, options.maxBytes ?? MAX_REPLY_BYTES);
    return () => this.decode(response, text, reply);
  }

  private decode<T extends z.ZodType>(response: Response, text: string, reply: T): z.output<T> {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new AppError('BACKEND_INVALID_RESPONSE', 'The hospital server sent an answer the app cannot read.');
    }
    if (!response.ok) {
      const err = backendErrorSchema.safeParse(json);
      const code = err.success ? err.data.error.code : 'UNKNOWN';
      if (code === 'DEVICE_REVOKED' || code === 'CLINICIAN_REVOKED') {
        throw new AppError('DEVICE_REVOKED', code === 'DEVICE_REVOKED' ? 'IT has revoked this device.' : 'IT has revoked your access.');
      }
      if (code === 'SESSION_INVALID' && response.status === 401) throw new SessionEndedError();
      // Break the glass refused: our own fixed words (400: the reason; else never which handle or grant problem).
      if (code === 'GLASS_REFUSED') throw new AppError('GLASS_REFUSED', response.status === 400 ? GLASS_REASON_MESSAGE : GLASS_REFUSED_MESSAGE);
      if (code === 'PRF_REQUIRED') {
        throw new AppError('PRF_REQUIRED', PRF_REQUIRED_MESSAGE);
      }
      throw new AppError('SIGN_IN_REFUSED', REFUSALS[code] ?? 'The hospital server refused the request.');
    }
    const parsed = reply.safeParse(json);
    if (!parsed.success) throw new AppError('BACKEND_INVALID_RESPONSE', 'The hospital server sent an answer the app cannot read.');
    return parsed.data;
  }

  enrollOptions(body: z.input<typeof api.enrollOptions.body>) {
    return this.request('POST', api.enrollOptions.path, api.enrollOptions.reply, { body });
  }
  enrollVerify(body: z.input<typeof api.enrollVerify.body>) {
    return this.request('POST', api.enrollVerify.path, api.enrollVerify.reply, { body });
  }
  authOptions(body: z.input<typeof api.authOptions.body>) {
    return this.request('POST', api.authOptions.path, api.authOptions.reply, { body });
  }
  authVerify(body: z.input<typeof api.authVerify.body>) {
    return this.request('POST', api.authVerify.path, api.authVerify.reply, { body });
  }
  deviceOptions(body: z.input<typeof api.deviceOptions.body>) {
    return this.request('POST', api.deviceOptions.path, api.deviceOptions.reply, { body });
  }
  deviceVerify(body: z.input<typeof api.deviceVerify.body>) {
    return this.request('POST', api.deviceVerify.path, api.deviceVerify.reply, { body });
  }
  me(token: string) {
    return this.request('GET', api.me.path, api.me.reply, { token });
  }
  revokeDevice(token: string, deviceId: string) {
    return this.request('POST', api.revokeDevice.path.replace(':id', encodeURIComponent(deviceId)), api.revokeDevice.reply, { token, body: {} });
  }
  /**
   * Ends the session at the backend. Best effort: never throws (a lock or
   * quit must not wait on, or fail because of, the network); resolves to
   * whether the backend said it ended a session.
   */
  async logout(token: string): Promise<boolean> {
    try {
      const reply = await this.request('POST', api.logout.path, api.logout.reply, { token, body: {} });
      return reply.ended;
    } catch {
      return false;
    }
  }
  push(token: string, changes: ReadonlyArray<Change | OutgoingChange>) {
    return this.request('POST', PUSH_PATH, pushReplySchema, { token, json: `{"changes":[${changes.map(outgoingChangeJson).join(',')}]}` });
  }
  uploadAudit(token: string, upload: AuditUpload) {
    return this.request('POST', AUDIT_UPLOAD_PATH, zod.object({ receipt: auditReceiptSchema, receiptKey: zod.string().max(256) }), { token, body: upload });
  }
  /** The backend's last accepted audit entry of this device (or the one at `seq`), as a signed receipt. */
  auditHead(token: string, seq?: number) {
    return this.request('GET', seq === undefined ? AUDIT_HEAD_PATH : `${AUDIT_HEAD_PATH}?seq=${seq}`, auditReceiptReplySchema, { token });
  }
  /** The backend's current receipt key; answered to a passkey (full) session only. */
  auditReceiptKey(token: string) {
    return this.request('GET', AUDIT_RECEIPT_KEY_PATH, auditReceiptKeyReplySchema, { token });
  }
  /** Resolves when the backend says it and its database are up (GET /healthz); throws BACKEND_FAILED or BACKEND_UNREACHABLE when not. */
  async healthy(): Promise<void> {
    await this.request('GET', '/healthz', zod.object({ ok: zod.literal(true) }));
  }
  /** Consultations (issue 11): start a call bound to an Encounter of a patient, invite to it, list the calls this clinician is invited to. */
  startCall(token: string, body: z.input<typeof startCallRequestSchema>) {
    return this.request('POST', CONSULT_CALLS_PATH, startCallResponseSchema, { token, body });
  }
  inviteToCall(token: string, callId: string, invitee: Invitee) {
    return this.request('POST', consultInvitationsPath(callId), inviteResponseSchema, { token, body: { invitee } });
  }
  invitedCalls(token: string) {
    return this.request('GET', CONSULT_INVITED_PATH, invitedCallsResponseSchema, { token });
  }
  /** Break the glass (issue 13): restricted matches (handle and label only), a grant, this clinician's active grants, a granted patient's records. */
  glassSearch(token: string, query: string) {
    return this.request('POST', GLASS_SEARCH_PATH, glassSearchReplySchema, { token, body: { query } });
  }
  glassGrant(token: string, body: z.input<typeof glassGrantBodySchema>) {
    return this.request('POST', GLASS_GRANTS_PATH, glassGrantReplySchema, { token, body });
  }
  glassGrants(token: string) {
    return this.request('GET', GLASS_GRANTS_PATH, glassActiveReplySchema, { token });
  }
  glassRecords(token: string, patientId: string, cursor: string | null) {
    const path = glassRecordsPath(patientId) + (cursor === null ? '' : `?cursor=${encodeURIComponent(cursor)}`);
    return this.request('GET', path, glassRecordsReplySchema, { token, maxBytes: MAX_BUNDLE_REPLY_BYTES });
  }
  /**
   * One page of changes after `cursor`, its answer read but not yet decoded:
   * the returned function parses and checks it (throwing the typed errors
   * every call does), so a page asked for ahead waits as text, not as
   * objects, until its turn. `estimate` asks the server for `remaining` (a
   * run's first page only: it costs a count); `signal` stops a request no
   * longer wanted.
   */
  pullAnswer(token: string, cursor: string | null, options: { estimate?: boolean; signal?: AbortSignal } = {}): Promise<() => PullReply> {
    const query = new URLSearchParams();
    if (cursor !== null) query.set('cursor', cursor);
    if (options.estimate) query.set('estimate', '1');
    const search = query.toString();
    const path = search === '' ? PULL_PATH : `${PULL_PATH}?${search}`;
    return this.answer('GET', path, pullReplySchema, { token, maxBytes: MAX_BUNDLE_REPLY_BYTES, ...(options.signal ? { signal: options.signal } : {}) });
  }
}

async function readLimited(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > maxBytes) throw new AppError('BACKEND_INVALID_RESPONSE', 'The hospital server sent an answer that is too large.');
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel();
        throw new AppError('BACKEND_INVALID_RESPONSE', 'The hospital server sent an answer that is too large.');
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('BACKEND_UNREACHABLE', 'The connection to the hospital server broke off.');
  }
  return Buffer.concat(chunks).toString('utf8');
}
