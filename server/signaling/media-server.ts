/**
 * The media server (SFU) seam of the consultation signaling: a room per call,
 * one published feed per participant, one subscription per (subscriber,
 * feed). janusMediaServer drives Janus's VideoRoom over its HTTP API on
 * loopback; every room requires end-to-end encrypted media (require_e2ee), so
 * the media server only ever forwards SFrame ciphertext.
 * Must never forward Janus's own error text (it carries room and handle ids)
 * to a client: every failure becomes a MediaServerError with a fixed message.
 * Must never log SDPs, call ids or participant ids.
 */
import { randomUUID } from 'node:crypto';
import type { Jsep } from '../../shared/consult/signaling-messages.ts';
import { JanusError, JanusSession, type JanusJsep } from './janus-client.ts';

export interface MediaServer {
  /** Creates the call's room (idempotent: another backend instance may have made it). */
  openRoom(callId: string): Promise<void>;
  /** Publishes the participant's feed (feed id = participantId); `offer` must carry e2ee: true. Returns the server's answer. */
  publish(callId: string, participantId: string, offer: Jsep): Promise<Jsep>;
  /** Subscribes `subscriberId` to `feed`; returns the media server's offer. */
  subscribe(callId: string, subscriberId: string, feed: string): Promise<Jsep>;
  /** The subscriber's answer to subscribe()'s offer; media starts flowing. */
  answer(callId: string, subscriberId: string, feed: string, answer: Jsep): Promise<void>;
  /** Unpublishes and drops every subscription of the participant. */
  leave(callId: string, participantId: string): Promise<void>;
  /** Destroys the room (kicks everyone left). */
  closeRoom(callId: string): Promise<void>;
  /** Releases every Janus session this instance holds. */
  close(): Promise<void>;
}

/** A subset of SIGNALING_ERROR_CODES, so the signaling can forward code and message as they are. */
export type MediaServerErrorCode = 'E2EE_REQUIRED' | 'MEDIA_UNAVAILABLE' | 'CALL_FULL' | 'NOT_ALLOWED';

const SAFE_MESSAGES: Record<MediaServerErrorCode, string> = {
  E2EE_REQUIRED: 'This call needs end-to-end encrypted media; the media was refused.',
  MEDIA_UNAVAILABLE: 'The media server is not available.',
  CALL_FULL: 'The call is full.',
  NOT_ALLOWED: 'This media request is not allowed.',
};

export class MediaServerError extends Error {
  readonly code: MediaServerErrorCode;
  constructor(code: MediaServerErrorCode) {
    super(SAFE_MESSAGES[code]);
    this.name = 'MediaServerError';
    this.code = code;
  }
}

export interface JanusMediaServerOptions {
  /** Janus HTTP API base, e.g. http://127.0.0.1:8088/janus (from configuration). */
  url: string;
  /** Janus API secret (janus.jcfg general.api_secret), if set. */
  apiSecret?: string;
  /** When set, Janus records every room (its own .mjr recordings) into this folder. */
  recordDir?: string;
  /** How long subscribe() waits for a publisher that is still connecting (default 10 s). */
  feedWaitMs?: number;
}


const VIDEOROOM = 'janus.plugin.videoroom';
/** Janus VideoRoom error codes we tell apart (janus_videoroom.c). */
const ROOM_EXISTS = 427;
const NO_SUCH_ROOM = 426;
const NO_SUCH_FEED = 428;
const PUBLISHERS_FULL = 432;
const UNAUTHORIZED = 433;
const ID_EXISTS = 436;

function toMediaError(error: unknown, context: 'publish' | 'other'): MediaServerError {
  if (error instanceof MediaServerError) return error;
  if (error instanceof JanusError) {
    if (context === 'publish' && error.janusCode === UNAUTHORIZED) return new MediaServerError('E2EE_REQUIRED');
    if (error.janusCode === PUBLISHERS_FULL) return new MediaServerError('CALL_FULL');
    if (error.janusCode === NO_SUCH_ROOM || error.janusCode === NO_SUCH_FEED || error.janusCode === ID_EXISTS || error.janusCode === UNAUTHORIZED) {
      return new MediaServerError('NOT_ALLOWED');
    }
  }
  return new MediaServerError('MEDIA_UNAVAILABLE');
}

/** Only the fields of our Jsep, plus non-trickle (clients send complete SDPs with their candidates). */
function toJanusJsep(jsep: Jsep): JanusJsep {
  return { type: jsep.type, sdp: jsep.sdp, ...(jsep.e2ee !== undefined ? { e2ee: jsep.e2ee } : {}), trickle: false };
}

function fromJanusJsep(jsep: JanusJsep | undefined, type: Jsep['type']): Jsep {
  if (!jsep || jsep.type !== type || typeof jsep.sdp !== 'string') throw new MediaServerError('MEDIA_UNAVAILABLE');
  return { type: jsep.type, sdp: jsep.sdp, ...(jsep.e2ee !== undefined ? { e2ee: jsep.e2ee } : {}) };
}

/** How long subscribe() waits for a feed whose publisher is still connecting to Janus. */
const FEED_WAIT_MS = 10_000;

/**
 * Janus lets a subscriber join a feed only once the publisher's
 * PeerConnection is up, which may be on another backend instance. A watcher
 * joins the room as a silent participant (it never publishes, so it does not
 * count against the publisher limit) and learns from Janus's own events which
 * feeds are active.
 */
interface RoomWatch {
  handle: number;
  active: Set<string>;
  waiters: Map<string, Set<() => void>>;
  off: () => void;
}

interface ParticipantMedia {
  session: JanusSession;
  publisher?: number;
  /** feed -> subscriber handle */
  subscribers: Map<string, number>;
}

/** The MediaServer backed by Janus's VideoRoom over its HTTP API. */
export function janusMediaServer(options: JanusMediaServerOptions): MediaServer {
  const url = options.url.replace(/\/+$/, '');
  const participants = new Map<string, Promise<ParticipantMedia>>();
  let control: Promise<{ session: JanusSession; handle: number }> | undefined;
  const watches = new Map<string, Promise<RoomWatch>>();

  async function watchRoom(callId: string): Promise<RoomWatch> {
    const existing = watches.get(callId);
    if (existing) return existing;
    const made = (async () => {
      const { session } = await controlHandle();
      const handle = await session.attach(VIDEOROOM);
      const watch: RoomWatch = { handle, active: new Set(), waiters: new Map(), off: () => undefined };
      const note = (data: Record<string, unknown>) => {
        const publishers = data['publishers'];
        if (Array.isArray(publishers)) {
          for (const publisher of publishers as { id?: unknown }[]) {
            if (typeof publisher.id !== 'string') continue;
            watch.active.add(publisher.id);
            for (const wake of watch.waiters.get(publisher.id) ?? []) wake();
          }
        }
        for (const gone of [data['unpublished'], data['leaving']]) if (typeof gone === 'string') watch.active.delete(gone);
      };
      watch.off = session.onEvent(handle, note);
      const reply = await session.message(handle, { request: 'join', ptype: 'publisher', room: callId, id: `watch-${randomUUID()}` });
      note(reply.data);
      return watch;
    })();
    watches.set(callId, made);
    made.catch(() => watches.delete(callId));
    return made;
  }

  /** Resolves true once Janus reports `feed` active in the room, false after FEED_WAIT_MS. */
  async function feedActive(callId: string, feed: string): Promise<boolean> {
    const watch = await watchRoom(callId);
    if (watch.active.has(feed)) return true;
    return new Promise<boolean>((resolve) => {
      let set = watch.waiters.get(feed);
      if (!set) watch.waiters.set(feed, (set = new Set()));
      const finish = (active: boolean) => {
        clearTimeout(timer);
        set.delete(wake);
        resolve(active);
      };
      const wake = () => finish(true);
      const timer = setTimeout(() => finish(false), options.feedWaitMs ?? FEED_WAIT_MS);
      set.add(wake);
    });
  }

  async function unwatchRoom(callId: string): Promise<void> {
    const watch = await watches.get(callId)?.catch(() => undefined);
    watches.delete(callId);
    if (!watch) return;
    watch.off();
    const current = await control?.catch(() => undefined);
    await current?.session.detach(watch.handle);
  }

  const keyOf = (callId: string, participantId: string) => `${callId}\n${participantId}`;

  /**
   * Runs `work` once every earlier call queued under `key` has settled: two
   * publishes of one participant (or two subscriptions of one subscriber to
   * one feed) never interleave, so the later one replaces the earlier's
   * handle instead of both joining and one handle being left holding the id.
   */
  const turns = new Map<string, Promise<void>>();
  const publisherTurn = (callId: string, participantId: string) => `publish\n${keyOf(callId, participantId)}`;
  function inTurn<T>(key: string, work: () => Promise<T>): Promise<T> {
    const run = (turns.get(key) ?? Promise.resolve()).then(work);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    turns.set(key, settled);
    void settled.then(() => {
      if (turns.get(key) === settled) turns.delete(key);
    });
    return run;
  }

  async function controlHandle(): Promise<{ session: JanusSession; handle: number }> {
    if (control) {
      const current = await control.catch(() => undefined);
      if (current && !current.session.isClosed) return current;
    }
    control = (async () => {
      const session = await JanusSession.create(url, options.apiSecret);
      return { session, handle: await session.attach(VIDEOROOM) };
    })();
    return control;
  }

  async function participant(callId: string, participantId: string): Promise<ParticipantMedia> {
    const key = keyOf(callId, participantId);
    const existing = participants.get(key);
    if (existing) {
      const media = await existing.catch(() => undefined);
      if (media && !media.session.isClosed) return media;
      participants.delete(key);
    }
    const made = JanusSession.create(url, options.apiSecret).then((session) => ({ session, subscribers: new Map<string, number>() }));
    participants.set(key, made);
    made.catch(() => participants.delete(key));
    return made;
  }

  async function dropParticipant(key: string): Promise<void> {
    const entry = participants.get(key);
    participants.delete(key);
    const media = await entry?.catch(() => undefined);
    if (!media) return;
    // Janus frees a destroyed session's handles later, on their media loops; `leave` takes the publisher out of the room before its answer.
    if (media.publisher !== undefined) await media.session.message(media.publisher, { request: 'leave' }).catch(() => undefined);
    await media.session.destroy();
  }

  async function publishNow(callId: string, participantId: string, offer: Jsep): Promise<Jsep> {
    try {
      const media = await participant(callId, participantId);
      if (media.publisher !== undefined) {
        const old = media.publisher;
        media.publisher = undefined;
        // Janus detaches a handle on its media loop, later; `leave` frees the id in the room before its answer,
        // so the join below cannot meet the old participant (ID_EXISTS). Seen once under CI load.
        await media.session.message(old, { request: 'leave' }).catch(() => undefined);
        await media.session.detach(old);
      }
      const handle = await media.session.attach(VIDEOROOM);
      media.publisher = handle;
      await media.session.message(handle, { request: 'join', ptype: 'publisher', room: callId, id: participantId });
      const reply = await media.session.message(handle, { request: 'publish', audio: true, video: true }, toJanusJsep(offer));
      return fromJanusJsep(reply.jsep, 'answer');
    } catch (error) {
      throw toMediaError(error, 'publish');
    }
  }

  async function subscribeNow(callId: string, subscriberId: string, feed: string): Promise<Jsep> {
    try {
      const media = await participant(callId, subscriberId);
      const old = media.subscribers.get(feed);
      if (old !== undefined) {
        media.subscribers.delete(feed);
        await media.session.detach(old);
      }
      const join = async () => {
        const handle = await media.session.attach(VIDEOROOM);
        media.subscribers.set(feed, handle);
        try {
          return await media.session.message(handle, { request: 'join', ptype: 'subscriber', room: callId, streams: [{ feed }] });
        } catch (error) {
          media.subscribers.delete(feed);
          await media.session.detach(handle);
          throw error;
        }
      };
      let reply;
      try {
        reply = await join();
      } catch (error) {
        // The publisher may still be connecting: wait for Janus to say its feed is up, then once more.
        if (!(error instanceof JanusError && error.janusCode === NO_SUCH_FEED) || !(await feedActive(callId, feed))) throw error;
        reply = await join();
      }
      return fromJanusJsep(reply.jsep, 'offer');
    } catch (error) {
      throw toMediaError(error, 'other');
    }
  }

  async function leaveNow(callId: string, participantId: string): Promise<void> {
    await dropParticipant(keyOf(callId, participantId));
    // Others' subscriptions to the feed that left are dead: let Janus free them now.
    for (const [key, entry] of participants) {
      if (!key.startsWith(`${callId}\n`)) continue;
      const media = await entry.catch(() => undefined);
      const handle = media?.subscribers.get(participantId);
      if (media && handle !== undefined) {
        media.subscribers.delete(participantId);
        await media.session.detach(handle);
      }
    }
  }

  return {
    async openRoom(callId) {
      try {
        const { session, handle } = await controlHandle();
        await session.message(handle, {
          request: 'create',
          room: callId,
          permanent: false,
          is_private: true,
          publishers: 4,
          require_e2ee: true,
          audiocodec: 'opus',
          videocodec: 'vp8',
          ...(options.recordDir ? { record: true, rec_dir: options.recordDir } : {}),
        });
      } catch (error) {
        if (error instanceof JanusError && error.janusCode === ROOM_EXISTS) return;
        throw toMediaError(error, 'other');
      }
    },

    publish(callId, participantId, offer) {
      return inTurn(publisherTurn(callId, participantId), () => publishNow(callId, participantId, offer));
    },

    subscribe(callId, subscriberId, feed) {
      return inTurn(`subscribe\n${keyOf(callId, subscriberId)}\n${feed}`, () => subscribeNow(callId, subscriberId, feed));
    },

    async answer(callId, subscriberId, feed, answer) {
      try {
        const media = await participants.get(keyOf(callId, subscriberId))?.catch(() => undefined);
        const handle = media?.subscribers.get(feed);
        if (!media || handle === undefined) throw new MediaServerError('NOT_ALLOWED');
        await media.session.message(handle, { request: 'start' }, toJanusJsep(answer));
      } catch (error) {
        throw toMediaError(error, 'other');
      }
    },

    // In the publishes' turn: a publish still queued when the participant leaves runs before the leave, never after it (it would join again).
    leave(callId, participantId) {
      return inTurn(publisherTurn(callId, participantId), () => leaveNow(callId, participantId));
    },

    async closeRoom(callId) {
      await unwatchRoom(callId);
      for (const key of [...participants.keys()]) {
        if (key.startsWith(`${callId}\n`)) await dropParticipant(key);
      }
      try {
        const { session, handle } = await controlHandle();
        await session.message(handle, { request: 'destroy', room: callId });
      } catch (error) {
        if (error instanceof JanusError && error.janusCode === NO_SUCH_ROOM) return;
        throw toMediaError(error, 'other');
      }
    },

    async close() {
      for (const callId of [...watches.keys()]) await unwatchRoom(callId);
      for (const key of [...participants.keys()]) await dropParticipant(key);
      const current = await control?.catch(() => undefined);
      control = undefined;
      await current?.session.destroy();
    },
  };
}
