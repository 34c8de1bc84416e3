/**
 * One participant's signaling WebSocket. The first message must be `hello`
 * {callId, token?} (a desktop clinician is the session of the upgrade's
 * Authorization header, checked before the upgrade; a link guest sends its
 * one-time token), then `join` {callKey}: a clinician's call key must be
 * signed by the session's enrolled device key. After the `welcome`, the
 * participant's `key`, `sas-commit`, `sas-reveal`, `code-confirmed` (with the
 * confirmed code and round), `leave` and the host's `end` become
 * the call's ordered events (./call-store, ./call-relay); `publish`,
 * `subscribe` and `answer` go to the media server (./media-server), and a
 * publish without e2ee is refused. A garbled, oversized or schema-invalid
 * message is answered INVALID_MESSAGE and dropped (before the join the socket
 * is closed, after it the call goes on); too many of them, or too many
 * messages, end the connection with RATE_LIMITED. A closed socket is a leave.
 * Never log a message, a token, a key or a code; errors sent are the fixed
 * texts of ./signaling-refusal.
 */
import type { FastifyRequest } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import { clientMessageSchema, SIGNALING_MESSAGE_MAX_BYTES, SIGNALING_PATH, type ClientMessage, type ServerMessage, type SignalingErrorCode } from '../../shared/consult/signaling-messages';
import { fromBase64url } from '../../shared/consult/base64url';
import { verifyCallKeySignature } from '../../shared/consult/call-key-signature';
import type { Caller } from '../auth/caller';
import type { RelyingParty } from '../auth/relying-party';
import { bearer } from '../auth/bearer-token';
import type { Clock } from '../clock';
import type { Db } from '../database';
import { securityEvent } from '../monitoring/security-log';
import { MediaServerError, type MediaServer } from './media-server';
import { turnCredentials, type TurnSettings } from './turn-credentials';
import type { CallRelay, RelayMember } from './call-relay';
import {
  checkAdmission,
  confirmCode,
  deviceKeyOf,
  endCall,
  feedPublished,
  isPublishedFeed,
  joinCall,
  leaveCall,
  removeParticipant,
  relayFrom,
  tokenHashOf,
  type Admission,
  type StoredEvent,
} from './call-store';
import { refusal, SignalingRefusal } from './signaling-refusal';
import { mayStillTakePart } from './call-limits';
import type { RefusalLog, UnjoinedSockets } from './unjoined-sockets';

export interface SocketLimits {
  /** Messages per window a connection may send. */
  messagesPerWindow: number;
  windowMs: number;
  /** Invalid messages a joined connection may send before it is closed. */
  invalidPerConnection: number;
  /** hello and join must be done within this. */
  joinWithinMs: number;
  /** A ping every this often; no pong by the next one ends the connection. */
  pingEveryMs: number;
  /** A clinician's session is checked again this often (revoked or ended: the connection ends), and every participant's standing (lost: removed). */
  sessionCheckMs: number;
  /** Sockets not yet joined: at most this many per remote address, and overall (beyond: closed at once, 1013). */
  unjoinedPerAddress: number;
  unjoinedTotal: number;
  /** Refusals on the socket are logged at most once per address per this window (with a count). */
  refusalLogWindowMs: number;
}

export const DEFAULT_SOCKET_LIMITS: SocketLimits = {
  messagesPerWindow: 300,
  windowMs: 10_000,
  invalidPerConnection: 10,
  joinWithinMs: 30_000,
  pingEveryMs: 25_000,
  sessionCheckMs: 60_000,
  unjoinedPerAddress: 20,
  unjoinedTotal: 500,
  refusalLogWindowMs: 10_000,
};

export interface SignalingDeps {
  db: Db;
  rp: RelyingParty;
  clock: Clock;
  relay: CallRelay;
  media: MediaServer | null;
  turn: TurnSettings | null;
  limits: SocketLimits;
  /** Rooms this instance has opened at the media server. */
  openRooms: Map<string, Promise<void>>;
  /** Leaves and media releases still running (awaited at shutdown, before the database closes). */
  pending: Set<Promise<unknown>>;
  /** Every open socket of this instance (ended at shutdown). */
  sockets: Set<WebSocket>;
  /** The cap on not-yet-joined sockets (./unjoined-sockets). */
  unjoined: UnjoinedSockets;
  /** The aggregated security log of refusals (./unjoined-sockets). */
  refusalLog: RefusalLog;
}

/** Policy violation: the close code of every refusal that ends the connection. */
const CLOSE_REFUSED = 1008;
const CLOSE_NORMAL = 1000;

type Phase = 'hello' | 'admitted' | 'joining' | 'joined' | 'gone';

export function handleSignalingSocket(socket: WebSocket, request: FastifyRequest, caller: Caller | null, deps: SignalingDeps): void {
  const { db, clock, relay, media, limits } = deps;
  // Not joined yet: one of a capped number of places (per address, overall), given back at the join or the close.
  const address = request.ip;
  if (!deps.unjoined.take(address)) {
    deps.refusalLog.note('rate-limited', { route: SIGNALING_PATH, code: 'RATE_LIMITED', ip: address });
    socket.close(1013, 'RATE_LIMITED');
    return;
  }
  let holdsPlace = true;
  const givePlaceBack = () => {
    if (holdsPlace) deps.unjoined.release(address);
    holdsPlace = false;
  };
  deps.sockets.add(socket);
  let phase: Phase = 'hello';
  let callId = '';
  let admission: Admission | null = null;
  let member: (RelayMember & { left: boolean }) | null = null;
  let invalid = 0;
  let windowStart = Date.now();
  let inWindow = 0;
  let alive = true;
  let chain: Promise<void> = Promise.resolve();

  const send = (message: ServerMessage | string) => {
    if (socket.readyState === socket.OPEN) socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  };
  const error = (code: SignalingErrorCode, message?: string) => send({ type: 'error', code, message: message ?? refusal(code).message });
  const close = (code: number, reason: string) => {
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason);
  };
  const refuseAndClose = (err: SignalingRefusal) => {
    error(err.code, err.message);
    if (err.code === 'NOT_ALLOWED' || err.code === 'RATE_LIMITED') {
      deps.refusalLog.note(err.code === 'RATE_LIMITED' ? 'rate-limited' : 'access-refused', { route: SIGNALING_PATH, code: err.code, ip: request.ip, ...(caller ? { clinicianId: caller.clinicianId, deviceId: caller.deviceId } : {}) });
    }
    phase = 'gone';
    givePlaceBack();
    close(CLOSE_REFUSED, err.code);
  };
  const track = <T>(p: Promise<T>): Promise<T> => {
    deps.pending.add(p);
    void p.finally(() => deps.pending.delete(p)).catch(() => undefined);
    return p;
  };

  const joinTimer = setTimeout(() => {
    if (phase !== 'joined' && phase !== 'gone') refuseAndClose(refusal('NOT_ALLOWED'));
  }, limits.joinWithinMs);
  const pinger = setInterval(() => {
    if (!alive) return socket.terminate();
    alive = false;
    socket.ping();
  }, limits.pingEveryMs);
  socket.on('pong', () => (alive = true));
  const token = bearer(request);
  const sessionCheck = caller
    ? setInterval(() => {
        deps.rp.session(token, 'full').catch(() => {
          if (phase !== 'gone') refuseAndClose(refusal('NOT_ALLOWED', 'Your session has ended. Sign in again to rejoin.'));
        });
      }, limits.sessionCheckMs)
    : null;
  // Access to the patient is checked again as often: lost (the clinician's, or for a link guest the issuing clinician's), the participant is removed.
  const standingCheck = setInterval(() => {
    chain = chain
      .then(async () => {
        if (phase !== 'joined' || !member || member.left || !admission) return;
        const who = admission.kind === 'clinician' ? { clinicianId: admission.caller.clinicianId } : { tokenHash: admission.tokenHash };
        if (await mayStillTakePart(db, callId, who)) return;
        const { participantId } = member;
        await removeParticipant(db, callId, participantId, clock);
        relay.wake(callId);
        if (media) await media.leave(callId, participantId).catch(() => undefined);
      })
      .catch((err: unknown) => {
        process.stderr.write(`[backend] signaling standing check failed: ${(err as Error)?.name ?? 'error'}\n`);
      });
  }, limits.sessionCheckMs);

  const deliver = (event: StoredEvent) => {
    send(event.payload);
    const message = JSON.parse(event.payload) as ServerMessage;
    if (message.type === 'ended' || (message.type === 'left' && message.participantId === member?.participantId)) {
      if (member) member.left = true;
      phase = 'gone';
      relay.detach(member!);
      close(CLOSE_NORMAL, message.type);
    }
  };

  async function handle(message: ClientMessage): Promise<void> {
    if (phase === 'gone') return;
    if (message.type === 'hello') {
      if (phase !== 'hello') throw refusal('INVALID_MESSAGE');
      if (caller && message.token) throw refusal('INVALID_MESSAGE');
      if (!caller && !message.token) throw refusal('NOT_ALLOWED');
      admission = caller ? { kind: 'clinician', caller } : { kind: 'guest', tokenHash: tokenHashOf(message.token!) };
      callId = message.callId;
      // A stale call is ended here as expired: wake the relay so anyone still attached hears it.
      await checkAdmission(db, admission, callId, clock).catch((err: unknown) => {
        relay.wake(callId);
        throw err;
      });
      phase = 'admitted';
      return;
    }
    if (message.type === 'join') {
      if (phase !== 'admitted') throw refusal(phase === 'hello' ? 'NOT_ALLOWED' : 'INVALID_MESSAGE');
      phase = 'joining';
      let publicKey: Uint8Array;
      try {
        publicKey = fromBase64url(message.callKey.publicKey);
      } catch {
        throw refusal('INVALID_MESSAGE');
      }
      if (publicKey.length !== 32) throw refusal('INVALID_MESSAGE');
      let deviceKey: string | null = null;
      if (caller) {
        deviceKey = await deviceKeyOf(db, caller);
        let signature: Uint8Array | null = null;
        try {
          signature = message.callKey.signature ? fromBase64url(message.callKey.signature) : null;
        } catch {
          signature = null;
        }
        if (!deviceKey || !signature || !(await verifyCallKeySignature(fromBase64url(deviceKey), callId, publicKey, signature))) {
          securityEvent('access-refused', { route: SIGNALING_PATH, code: 'CALL_KEY_SIGNATURE_INVALID', clinicianId: caller.clinicianId, deviceId: caller.deviceId, ip: request.ip });
          throw refusal('NOT_ALLOWED', 'The call key is not signed by this device.');
        }
      }
      const callKey = caller ? message.callKey : { publicKey: message.callKey.publicKey };
      const joined = await joinCall(db, admission!, callId, callKey, deviceKey, clock);
      const participantId = joined.participant.participantId;
      member = { callId, participantId, cursor: joined.joinSeq, deliver, left: false };
      phase = 'joined';
      givePlaceBack();
      clearTimeout(joinTimer);
      const iceServers = deps.turn ? [turnCredentials(deps.turn, participantId, clock())] : [];
      send({ type: 'welcome', seq: joined.joinSeq, callId, participantId, roster: joined.roster, iceServers, feeds: joined.feeds });
      relay.attach(member);
      return;
    }
    if (phase !== 'joined' || !member) throw refusal(phase === 'hello' ? 'NOT_ALLOWED' : 'INVALID_MESSAGE');
    const me = member.participantId;
    switch (message.type) {
      case 'key': {
        if (message.to === me) throw refusal('INVALID_MESSAGE');
        const { type: _type, to, ...sealed } = message;
        await relayFrom(db, callId, me, to, { type: 'key', from: me, ...sealed }, clock);
        relay.wake(callId);
        return;
      }
      case 'code-confirmed':
        await confirmCode(db, callId, me, { round: message.round, code: message.code }, clock);
        relay.wake(callId);
        return;
      case 'sas-commit':
        // Opaque to the backend: relayed to everyone in the call, in seq order, like any event.
        await relayFrom(db, callId, me, null, { type: 'sas-commit', from: me, round: message.round, commitment: message.commitment }, clock);
        relay.wake(callId);
        return;
      case 'sas-reveal':
        await relayFrom(db, callId, me, null, { type: 'sas-reveal', from: me, round: message.round, nonce: message.nonce }, clock);
        relay.wake(callId);
        return;
      case 'publish': {
        if (message.jsep.type !== 'offer') throw refusal('INVALID_MESSAGE');
        if (message.jsep.e2ee !== true) throw refusal('E2EE_REQUIRED');
        if (!media) throw refusal('MEDIA_UNAVAILABLE');
        await openRoom(callId);
        const answer = await media.publish(callId, me, message.jsep);
        send({ type: 'published', jsep: answer });
        await feedPublished(db, callId, me, clock);
        relay.wake(callId);
        return;
      }
      case 'subscribe': {
        if (!media) throw refusal('MEDIA_UNAVAILABLE');
        if (message.feed === me || !(await isPublishedFeed(db, callId, message.feed))) throw refusal('NOT_ALLOWED', 'That participant has no media to receive.');
        const offer = await media.subscribe(callId, me, message.feed);
        send({ type: 'offer', feed: message.feed, jsep: offer });
        return;
      }
      case 'answer': {
        if (message.jsep.type !== 'answer') throw refusal('INVALID_MESSAGE');
        if (!media) throw refusal('MEDIA_UNAVAILABLE');
        await media.answer(callId, me, message.feed, message.jsep);
        return;
      }
      case 'leave':
        await departed();
        phase = 'gone';
        close(CLOSE_NORMAL, 'left');
        return;
      case 'end':
        await endCall(db, callId, me, clock);
        relay.wake(callId);
        if (media) {
          deps.openRooms.delete(callId);
          await media.closeRoom(callId).catch(() => undefined);
        }
        return;
    }
  }

  function openRoom(id: string): Promise<void> {
    let opened = deps.openRooms.get(id);
    if (!opened) {
      opened = media!.openRoom(id);
      deps.openRooms.set(id, opened);
      opened.catch(() => deps.openRooms.delete(id));
    }
    return opened;
  }

  /** Leaves the call once: `left` for the others, the media released. */
  async function departed(): Promise<void> {
    if (!member || member.left) return;
    member.left = true;
    relay.detach(member);
    const { participantId } = member;
    await leaveCall(db, callId, participantId, clock);
    relay.wake(callId);
    if (media) await media.leave(callId, participantId).catch(() => undefined);
  }

  function parse(data: RawData, isBinary: boolean): ClientMessage | null {
    const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data instanceof ArrayBuffer ? data.byteLength : data.length;
    if (isBinary || bytes > SIGNALING_MESSAGE_MAX_BYTES) return null;
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as Buffer).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return null;
    }
    const parsed = clientMessageSchema.safeParse(json);
    return parsed.success ? parsed.data : null;
  }

  socket.on('message', (data, isBinary) => {
    if (phase === 'gone') return;
    const now = Date.now();
    if (now - windowStart >= limits.windowMs) {
      windowStart = now;
      inWindow = 0;
    }
    if (++inWindow > limits.messagesPerWindow) return refuseAndClose(refusal('RATE_LIMITED'));
    const message = parse(data, isBinary);
    if (!message) {
      // Before the join there is no call to keep going: answer and close. After it, drop the message, up to a limit.
      if (phase !== 'joined') return refuseAndClose(refusal('INVALID_MESSAGE'));
      if (++invalid > limits.invalidPerConnection) return refuseAndClose(refusal('RATE_LIMITED'));
      return error('INVALID_MESSAGE');
    }
    chain = chain
      .then(() => handle(message))
      .catch((err: unknown) => {
        if (err instanceof MediaServerError) return error(err.code, err.message);
        const known = err instanceof SignalingRefusal ? err : null;
        if (!known) process.stderr.write(`[backend] signaling failed: ${(err as Error)?.name ?? 'error'}\n`);
        const r = known ?? refusal('MEDIA_UNAVAILABLE', 'The call service failed; try again.');
        // Refused before the join, or the call is over: the connection ends. Otherwise only this message was refused.
        if (phase !== 'joined' || r.code === 'CALL_ENDED') return refuseAndClose(r);
        return error(r.code, r.message);
      });
  });

  socket.on('close', () => {
    deps.sockets.delete(socket);
    givePlaceBack();
    clearInterval(standingCheck);
    phase = 'gone';
    clearTimeout(joinTimer);
    clearInterval(pinger);
    if (sessionCheck) clearInterval(sessionCheck);
    void track(chain.then(() => departed()).catch((err: unknown) => process.stderr.write(`[backend] signaling leave failed: ${(err as Error)?.name ?? 'error'}\n`)));
  });
  socket.on('error', () => socket.terminate());
}
