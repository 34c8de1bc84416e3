/**
 * The consultation surface of the backend: POST /consult/calls (start a
 * call bound to a stored Encounter of a patient the clinician may write),
 * POST /consult/calls/:callId/invitations (the call's host invites a link
 * guest, who gets a one-time link, or a clinician who may read the patient),
 * GET /consult/invited (live calls this clinician is invited to), the
 * signaling WebSocket at SIGNALING_PATH and the patient's join page. Every
 * HTTP route needs a passkey session; a refusal is the uniform 404 of the
 * access policy. The WebSocket takes a clinician's session from the
 * upgrade's Authorization header (refused before the upgrade when invalid)
 * or admits a link guest by its token in `hello`.
 * Never log a link, a token, a key or a patient id.
 */
import { once } from 'node:events';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CONSULT_CALLS_PATH, CONSULT_INVITED_PATH, INVITE_TTL_SECONDS_DEFAULT, inviteRequestSchema, startCallRequestSchema, type InvitedCall } from '../../shared/consult/consult-api';
import { buildJoinLink } from '../../shared/consult/join-link';
import { callIdSchema, SIGNALING_PATH } from '../../shared/consult/signaling-messages';
import { ApiError } from '../api-error';
import { callerOf, requireSession, sessionHooks } from '../auth/session-guard';
import type { RelyingParty } from '../auth/relying-party';
import { refuseAccess } from '../authorization/access-refusal';
import type { Clock } from '../clock';
import { engineOf, type Db } from '../database';
import { CallRelay } from './call-relay';
import { createInvitation, invitedCalls, startCall } from './call-store';
import { registerJoinPage } from './join-page';
import type { MediaServer } from './media-server';
import { RefusalLog, UnjoinedSockets } from './unjoined-sockets';
import { DEFAULT_SOCKET_LIMITS, handleSignalingSocket, type SignalingDeps, type SocketLimits } from './signaling-socket';
import type { TurnSettings } from './turn-credentials';

export interface ConsultOptions {
  /** The backend's public address as patients reach it (scheme://host[:port]); join links are built on it. None: links cannot be issued (503). */
  publicUrl?: string | undefined;
  /** The media server (Janus); none: publish and subscribe answer MEDIA_UNAVAILABLE, keys still flow. */
  mediaServer?: MediaServer | null | undefined;
  /** TURN with the shared secret; none: `welcome` carries no ICE servers. */
  turn?: TurnSettings | null | undefined;
  /** How long a join link is valid (at most INVITE_TTL_SECONDS_DEFAULT). */
  inviteTtlSeconds?: number | undefined;
  /** PostgreSQL: the connection string of the LISTEN connection of the relay. */
  databaseUrl?: string | undefined;
  /** Where the built renderer is (join.html and assets/); default dist/renderer. */
  rendererDir?: string | undefined;
  socketLimits?: Partial<SocketLimits> | undefined;
}

/** TURN credentials last this long by default (a long consultation keeps its relay allocation). */
export const TURN_TTL_SECONDS_DEFAULT = 4 * 3600;

const callParamsSchema = z.object({ callId: callIdSchema });

export function registerConsultRoutes(app: FastifyInstance, deps: { db: Db; rp: RelyingParty; clock: Clock; consult: ConsultOptions }): void {
  const { db, rp, clock, consult } = deps;
  const ttl = consult.inviteTtlSeconds ?? INVITE_TTL_SECONDS_DEFAULT;
  if (!Number.isInteger(ttl) || ttl < 30 || ttl > INVITE_TTL_SECONDS_DEFAULT) throw new Error(`the join link lifetime must be 30 to ${INVITE_TTL_SECONDS_DEFAULT} seconds`);
  const relay = new CallRelay(db, { engine: engineOf(db), databaseUrl: consult.databaseUrl });
  const limits: SocketLimits = { ...DEFAULT_SOCKET_LIMITS, ...consult.socketLimits };
  const signaling: SignalingDeps = {
    db,
    rp,
    clock,
    relay,
    media: consult.mediaServer ?? null,
    turn: consult.turn ?? null,
    limits,
    openRooms: new Map(),
    pending: new Set(),
    sockets: new Set(),
    unjoined: new UnjoinedSockets({ perAddress: limits.unjoinedPerAddress, total: limits.unjoinedTotal }),
    refusalLog: new RefusalLog(limits.refusalLogWindowMs),
  };
  app.addHook('onClose', async () => {
    // Sockets still open (or still closing) end now; their leaves finish before the database closes.
    await Promise.all(
      [...signaling.sockets].map((socket) => {
        const closed = once(socket, 'close');
        socket.terminate();
        return closed;
      }),
    );
    await Promise.allSettled([...signaling.pending]);
    await relay.close();
    signaling.refusalLog.close();
    await signaling.media?.close().catch(() => undefined);
  });

  app.post(CONSULT_CALLS_PATH, { ...sessionHooks(rp, 'full') }, async (request) => {
    const caller = callerOf(request);
    const { patientId, encounterId } = startCallRequestSchema.parse(request.body);
    const callId = await startCall(db, caller, patientId, encounterId, clock);
    if (!callId) throw refuseAccess(request, caller);
    return { callId };
  });

  app.post<{ Params: { callId: string } }>('/consult/calls/:callId/invitations', { ...sessionHooks(rp, 'full') }, async (request) => {
    const caller = callerOf(request);
    const params = callParamsSchema.safeParse(request.params);
    if (!params.success) throw refuseAccess(request, caller);
    const { invitee } = inviteRequestSchema.parse(request.body);
    if (invitee.kind !== 'clinician' && !consult.publicUrl) throw new ApiError(503, 'CONSULT_UNAVAILABLE', 'This server is not set up to issue join links (no public address).');
    const invitation = await createInvitation(db, caller, params.data.callId, invitee, ttl, clock);
    if (!invitation) throw refuseAccess(request, caller);
    return { link: invitation.token ? buildJoinLink(consult.publicUrl!, params.data.callId, invitation.token) : null, expiresAt: invitation.expiresAt };
  });

  app.get(CONSULT_INVITED_PATH, { onRequest: requireSession(rp, 'full') }, async (request): Promise<{ calls: InvitedCall[] }> => {
    return { calls: await invitedCalls(db, callerOf(request), clock) };
  });

  const clinicianSession = requireSession(rp, 'full');
  app.get(
    SIGNALING_PATH,
    {
      websocket: true,
      // A clinician's session is checked before the upgrade (refused: the HTTP 401/403 of every route); a link guest has no header.
      onRequest: async function (request, reply) {
        if (request.headers.authorization !== undefined) await (clinicianSession as unknown as (this: FastifyInstance, r: typeof request, p: typeof reply) => Promise<void>).call(this, request, reply);
      },
    },
    (socket, request) => {
      const caller = request.headers.authorization !== undefined ? callerOf(request) : null;
      handleSignalingSocket(socket, request, caller, signaling);
    },
  );

  registerJoinPage(app, { rendererDir: consult.rendererDir ?? resolve('dist', 'renderer') });
}
