/**
 * The desktop's side of a video consultation, in main: starting a call
 * bound to an Encounter of a patient (backend HTTP), inviting to it, and the
 * one active call's signaling socket (./signaling-client.ts) with the
 * session's token, joined with the media worker's call key signed by the
 * enrolled device key (./call-key-signing.ts). Messages received wait in a
 * bounded queue for the renderer's long polls (./receive-queue.ts). While a
 * call is active, camera and microphone may be granted to the app's page
 * (./media-permission.ts). The start, each join of this clinician, the
 * confirmed code and the end are audited in the cache's chain, naming the
 * patient. Every call needs the unlocked session; a lock or sign-out ends
 * the call at once (socket closed, permission withdrawn, end audited) and
 * drops what this service knew of calls (patient ids are PHI).
 * Never hand the renderer a token or a key, never let a socket or the media
 * grant outlive a lock, and never put a token, key, code or patient id into
 * an error message or a log line.
 */
import { AppError } from '../../../shared/app-error';
import { consultCallEntity, type AuditAction, type AuditOutcome, type AuditSubtype } from '../../../shared/audit-entry';
import type { InvitedCall } from '../../../shared/consult/consult-api';
import { SIGNALING_PATH, type ClientMessage, type Invitee, type ServerMessage, type SignalingErrorCode } from '../../../shared/consult/signaling-messages';
import { isSessionEnded, type BackendClient } from '../backend-client';
import type { CacheSession } from '../cache-session';
import { signCallKey } from './call-key-signing';
import { MediaPermission } from './media-permission';
import { DEFAULT_QUEUE_LIMITS, ReceiveQueue, type QueueLimits, type Taken } from './receive-queue';
import { SignalingClient, SignalingSessionEnded, signalingUrl, unreachable, type CloseReason } from './signaling-client';

/** A receive waits this long for the first message (the renderer polls again). */
export const RECEIVE_WAIT_MS = 20_000;
/** connect waits this long for the backend's welcome (or refusal) after hello and join. */
export const WELCOME_TIMEOUT_MS = 15_000;

/** What the service needs from the one session owner (session/desktop-session.ts). */
export interface ConsultSessionSource {
  /** The open cache, only while unlocked. */
  openCache(): CacheSession | null;
  /** The backend token, only while unlocked. */
  currentToken(): string | null;
  /** Called synchronously when the session ends (lock, sign-out, wipe), before the cache closes. */
  onEnd(listener: () => void): () => void;
  /** The backend said this token's session ended. */
  sessionEnded(token: string): void;
}

export interface ConsultServiceOptions {
  backend: BackendClient;
  session: ConsultSessionSource;
  media?: MediaPermission;
  receiveWaitMs?: number;
  welcomeTimeoutMs?: number;
  queueLimits?: QueueLimits;
  heartbeatMs?: number;
}

/** What this desktop knows of a call: whose it is (PHI, forgotten at lock) and whether it started it. */
interface KnownCall {
  patientId: string;
  encounterId: string;
}

interface ActiveCall {
  callId: string;
  known: KnownCall;
  /** The cache the join was audited in: the end is audited there too (also during a lock, before it closes). */
  cache: CacheSession;
  socket: SignalingClient;
  queue: ReceiveQueue<ServerMessage>;
  /** Holds the media grant (unique per connection). */
  holder: string;
  /** The backend's role for this participant ('host' ends the call for everyone when it locks). */
  host: boolean;
  ended: boolean;
}

const SIGNALING_REFUSALS: Partial<Record<SignalingErrorCode, string>> = {
  NOT_ALLOWED: 'You cannot join this consultation: it may have ended, or you are not invited.',
  CALL_FULL: 'This consultation already has the most participants it can have.',
  CALL_ENDED: 'This consultation has ended.',
  E2EE_REQUIRED: 'This consultation needs end-to-end encryption, which could not be set up.',
  INVALID_MESSAGE: 'The hospital server refused to connect this consultation.',
};

function lockedError(): AppError {
  return new AppError('LOCKED', 'The app is locked. Sign in with your passkey to continue.');
}

function notFound(): AppError {
  return new AppError('NOT_FOUND', 'This consultation is not open on this computer.');
}

export class ConsultService {
  readonly media: MediaPermission;
  private readonly known = new Map<string, KnownCall>();
  private active: ActiveCall | null = null;
  /** Sockets opened by a connect still waiting for its welcome: a lock closes them too. */
  private readonly connecting = new Set<AbortController>();
  /** Counts session ends: an await that finds it changed was overtaken by a lock. */
  private generation = 0;
  private lastNumber = 0;
  private connections = 0;

  constructor(private readonly options: ConsultServiceOptions) {
    this.media = options.media ?? new MediaPermission();
    options.session.onEnd(() => this.sessionEnded());
  }

  /** Whether a call is active here (its socket open). */
  get callActive(): boolean {
    return this.active !== null && this.active.socket.open;
  }

  // ---- HTTP: start, invite, invited ----

  async start(input: { patientId: string; encounterId: string }): Promise<{ callId: string }> {
    const { cache, token, generation } = this.unlocked();
    let callId: string;
    try {
      ({ callId } = await this.options.backend.startCall(token, input));
    } catch (err) {
      const mapped = this.backendError(err, token);
      // A refused start is recorded like a refused access: it names the patient asked for, outcome 4.
      if (mapped.code === 'CONSULT_REFUSED') await this.auditQuietly(cache, generation, 'consult-start', 'C', input.patientId, [`Encounter/${input.encounterId}`], '4');
      throw mapped;
    }
    this.stillUnlocked(cache, generation);
    await this.append(cache, 'consult-start', 'C', input.patientId, [`Encounter/${input.encounterId}`, consultCallEntity(callId)]);
    this.known.set(callId, { patientId: input.patientId, encounterId: input.encounterId });
    return { callId };
  }

  async invite(input: { callId: string; invitee: Invitee }) {
    const { token } = this.unlocked();
    try {
      return await this.options.backend.inviteToCall(token, input.callId, input.invitee);
    } catch (err) {
      throw this.backendError(err, token);
    }
  }

  async invited(): Promise<{ calls: InvitedCall[] }> {
    const { cache, token, generation } = this.unlocked();
    return this.fetchInvited(token, cache, generation);
  }

  // ---- The call's socket ----

  /**
   * Opens the call's signaling socket with the session token, sends hello
   * then join (the call key signed with the device key), and resolves once
   * the backend welcomed this desktop (its welcome is the first message the
   * renderer receives). Then the media grant is given and the join audited.
   */
  async connect(input: { callId: string; publicKey: string }): Promise<Record<string, never>> {
    const { cache, token, generation } = this.unlocked();
    const current = this.active;
    if (this.connecting.size > 0) throw new AppError('CONSULT_REFUSED', 'A consultation is already connecting on this computer.');
    if (current && current.socket.open) {
      throw new AppError('CONSULT_REFUSED', current.callId === input.callId ? 'This consultation is already connected.' : 'Another consultation is open on this computer. Leave it first.');
    }
    // Signed before anything goes out: an invalid call key is refused without a socket.
    const callKey = signCallKey(input.callId, input.publicKey, cache.keys.signingKey);
    const known = this.known.get(input.callId) ?? (await this.lookUpInvited(input.callId, token, cache, generation));
    if (!known) throw notFound();
    if (current) this.forget(current);

    const queue = new ReceiveQueue<ServerMessage>(() => ++this.lastNumber, this.options.queueLimits ?? DEFAULT_QUEUE_LIMITS);
    const holder = `${input.callId}#${++this.connections}`;
    let call: ActiveCall | null = null;
    let welcomed!: (m: ServerMessage) => void;
    let closedEarly!: (reason: CloseReason) => void;
    const first = new Promise<ServerMessage>((resolve) => (welcomed = resolve));
    const closedBefore = new Promise<CloseReason>((resolve) => (closedEarly = resolve));
    let firstSeen = false;
    let opened: SignalingClient | null = null;
    const abort = new AbortController();
    this.connecting.add(abort);
    let socket: SignalingClient;
    try {
      socket = await SignalingClient.open(
        {
          url: signalingUrl(this.options.backend.baseUrl, SIGNALING_PATH),
          token,
          ...(this.options.heartbeatMs !== undefined ? { heartbeatMs: this.options.heartbeatMs } : {}),
        },
        {
          message: (message, bytes) => {
            if (!firstSeen) {
              firstSeen = true;
              welcomed(message);
            }
            if (!queue.push(message, bytes)) {
              // The renderer fell too far behind: the call cannot go on with messages missing.
              opened?.close('overflow');
            }
          },
          closed: (reason) => {
            queue.close();
            closedEarly(reason);
            if (call) this.callClosed(call);
          },
        },
        abort.signal,
      );
      opened = socket;
    } catch (err) {
      this.connecting.delete(abort);
      if (err instanceof SignalingSessionEnded) this.options.session.sessionEnded(token);
      if (err instanceof AppError && err.code === 'LOCKED') throw lockedError();
      throw err;
    }

    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      socket.send({ type: 'hello', callId: input.callId });
      socket.send({ type: 'join', callKey });
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.options.welcomeTimeoutMs ?? WELCOME_TIMEOUT_MS)));
      const aborted = new Promise<'aborted'>((resolve) => abort.signal.addEventListener('abort', () => resolve('aborted'), { once: true }));
      const outcome = await Promise.race([first, closedBefore.then(() => 'closed' as const), timeout, aborted]);
      if (outcome === 'aborted' || this.generation !== generation) throw lockedError();
      if (outcome === 'closed' || outcome === 'timeout') throw unreachable();
      if (outcome.type === 'error') {
        throw new AppError(
          SIGNALING_REFUSALS[outcome.code] ? 'CONSULT_REFUSED' : 'CONSULT_UNAVAILABLE',
          SIGNALING_REFUSALS[outcome.code] ?? 'The consultation service is not available just now. Try again in a moment.',
        );
      }
      if (outcome.type !== 'welcome' || outcome.callId !== input.callId) throw new AppError('CONSULT_UNAVAILABLE', 'The consultation service answered in a way the app cannot use.');
      this.stillUnlocked(cache, generation);
      const me = outcome.roster.find((p) => p.participantId === outcome.participantId);
      // The join is recorded before the camera and microphone may be granted (and an end only follows a recorded join).
      // Its entry is sent first; the call is active from then on, so an end (a lock, the socket closing) while the join
      // is being committed is sent after it, and the store answers in order.
      const joined = this.append(cache, 'consult-join', 'E', known.patientId, [`Encounter/${known.encounterId}`, consultCallEntity(input.callId)]);
      const active: ActiveCall = { callId: input.callId, known, cache, socket, queue, holder, host: me?.role === 'host', ended: false };
      call = active;
      this.active = active;
      try {
        await joined;
      } catch (err) {
        // Not recorded: no end follows it, and no media grant.
        active.ended = true;
        this.forget(active);
        throw err;
      }
      this.stillUnlocked(cache, generation);
      if (!active.ended) this.media.activate(holder);
      if (!socket.open) this.callClosed(active);
      return {};
    } catch (err) {
      socket.close('local');
      throw err;
    } finally {
      clearTimeout(timer);
      this.connecting.delete(abort);
    }
  }

  /** One client message on the active call's socket; hello and join are main's own. A confirmed code is audited first. */
  async send(input: { callId: string; message: ClientMessage }): Promise<Record<string, never>> {
    this.unlocked();
    if (input.message.type === 'hello' || input.message.type === 'join') {
      throw new AppError('INVALID_INPUT', 'That consultation message is sent by the app itself.', [{ field: 'message', message: 'That consultation message is sent by the app itself.' }]);
    }
    const call = this.callFor(input.callId);
    if (!call.socket.open) throw new AppError('CONSULT_UNAVAILABLE', 'The consultation\'s connection is closed. Connect again to continue.');
    if (input.message.type === 'code-confirmed') {
      // Audited before it is said: never a confirmation the chain does not hold. The code itself is not recorded.
      await this.append(call.cache, 'consult-code-confirmed', 'E', call.known.patientId, [`Encounter/${call.known.encounterId}`, consultCallEntity(call.callId)]);
      if (!call.socket.open) throw new AppError('CONSULT_UNAVAILABLE', 'The consultation\'s connection is closed. Connect again to continue.');
    }
    call.socket.send(input.message);
    return {};
  }

  /** Messages after `after`, waiting up to ~20 s for the first; a lock or the socket's close ends the wait. */
  receive(input: { callId: string; after: number }): Promise<Taken<ServerMessage>> {
    this.unlocked();
    return this.callFor(input.callId).queue.take(input.after, this.options.receiveWaitMs ?? RECEIVE_WAIT_MS);
  }

  /** Leaves the call (or ends it for everyone, as host), closes the socket, withdraws the media grant, audits the end. */
  leave(input: { callId: string; end: boolean }): Record<string, never> {
    this.unlocked();
    const call = this.callFor(input.callId);
    this.finish(call, input.end ? 'end' : 'leave');
    this.forget(call);
    return {};
  }

  // ---- Ends ----

  /** Lock, sign-out or wipe: runs synchronously before the cache closes. */
  private sessionEnded(): void {
    this.generation++;
    for (const abort of this.connecting) abort.abort();
    this.connecting.clear();
    const call = this.active;
    if (call) {
      // The clinician walked away: as host, the call ends for everyone rather than leaving the patient waiting alone.
      this.finish(call, call.host ? 'end' : 'leave');
      this.forget(call);
    }
    this.known.clear();
  }

  /** Says goodbye if the socket is still open, closes it, withdraws the grant and audits the end (once). */
  private finish(call: ActiveCall, goodbye: 'leave' | 'end'): void {
    if (call.socket.open) {
      try {
        call.socket.send({ type: goodbye });
      } catch {
        // closing anyway
      }
    }
    call.socket.close('local');
    this.callClosed(call);
  }

  /** The socket closed (any side): no more media grant; the end audited once, in the cache the join was. */
  private callClosed(call: ActiveCall): void {
    call.queue.close();
    this.media.withdraw(call.holder);
    if (call.ended) return;
    call.ended = true;
    // Sent now, before this returns: a lock closes the store after it, and the store answers in order.
    this.append(call.cache, 'consult-end', 'E', call.known.patientId, [`Encounter/${call.known.encounterId}`, consultCallEntity(call.callId)]).catch(() => {
      // The cache already closed, or the disk is full: the backend's own audit still holds the end; a lock must never fail.
    });
  }

  private forget(call: ActiveCall): void {
    if (this.active === call) this.active = null;
  }

  // ---- Helpers ----

  private unlocked(): { cache: CacheSession; token: string; generation: number } {
    const cache = this.options.session.openCache();
    if (!cache) throw lockedError();
    const token = this.options.session.currentToken();
    if (!token) {
      throw new AppError('CONSULT_UNAVAILABLE', 'Consultations need a connection to the hospital server. Sign in online with your passkey to start or join one.');
    }
    return { cache, token, generation: this.generation };
  }

  private stillUnlocked(cache: CacheSession, generation: number): void {
    if (this.generation !== generation || this.options.session.openCache() !== cache) throw lockedError();
  }

  /** The call the renderer connected (open or closed with messages left); anything else is not found. */
  private callFor(callId: string): ActiveCall {
    const call = this.active;
    if (!call || call.callId !== callId) throw notFound();
    return call;
  }

  private async lookUpInvited(callId: string, token: string, cache: CacheSession, generation: number): Promise<KnownCall | undefined> {
    await this.fetchInvited(token, cache, generation);
    return this.known.get(callId);
  }

  /** The calls this clinician is invited to, remembered with their patient (a later connect needs it for the audit entry). */
  private async fetchInvited(token: string, cache: CacheSession, generation: number): Promise<{ calls: InvitedCall[] }> {
    let reply: { calls: InvitedCall[] };
    try {
      reply = await this.options.backend.invitedCalls(token);
    } catch (err) {
      throw this.backendError(err, token);
    }
    this.stillUnlocked(cache, generation);
    for (const c of reply.calls) this.known.set(c.callId, { patientId: c.patientId, encounterId: c.encounterId });
    return reply;
  }

  /**
   * One entry, sent to the store before this returns (no await ahead of the call) and committed when the promise
   * resolves. Callers rely on both: a confirmation is said only after its entry committed (awaited); an end is sent
   * before a lock closes the store, which answers in order, so it commits before the close.
   */
  private async append(cache: CacheSession, subtype: AuditSubtype, action: AuditAction, patientId: string, entities: string[], outcome: AuditOutcome = '0'): Promise<void> {
    await cache.store.call('appendAudit', { records: [{ action, subtype, patientId, entities, query: null, outcome }] });
  }

  private async auditQuietly(cache: CacheSession, generation: number, subtype: AuditSubtype, action: AuditAction, patientId: string, entities: string[], outcome: AuditOutcome): Promise<void> {
    if (this.generation !== generation || this.options.session.openCache() !== cache) return;
    try {
      await this.append(cache, subtype, action, patientId, entities, outcome);
    } catch {
      // the refusal itself is what the clinician is told
    }
  }

  /** The backend's answers as consultation errors: unreachable or failing -> CONSULT_UNAVAILABLE; a refusal -> CONSULT_REFUSED. */
  private backendError(err: unknown, token: string): AppError {
    if (isSessionEnded(err)) {
      this.options.session.sessionEnded(token);
      return new AppError('CONSULT_UNAVAILABLE', 'Your session with the hospital server ended. Sign in again to start or join a consultation.');
    }
    const code = err instanceof AppError ? err.code : null;
    if (code === 'DEVICE_REVOKED') return err as AppError;
    if (code === 'SIGN_IN_REFUSED' || code === 'PRF_REQUIRED') return new AppError('CONSULT_REFUSED', 'The hospital server refused this consultation.');
    return unreachable();
  }
}
