/**
 * The consultation's media path in the page, shared by the desktop page and
 * the patient's join page: checks that this browser can encrypt end to end
 * (else the call fails, encryption 'unavailable', before any device is opened
 * or any message sent), starts the media worker (which alone holds the call's
 * private key and every media key), joins through a SignalingTransport,
 * relays opaque sealed keys between worker and signaling, publishes own
 * camera+microphone and subscribes to every other participant through the
 * media server with an RTCRtpScriptTransform on every sender and receiver,
 * and reports everything as CallState. On every roster change it runs the
 * spoken code's commit-then-reveal round (shared/consult/sas-round.ts; the
 * code appears only once every nonce is revealed and checked, and a bad
 * reveal ends the call), shows a relayed "codes match" only when it names
 * this page's own code (another code ends the call), and checks clinicians'
 * device signatures. Only the local user's own click marks the code checked. It must never see or hold a media key, never send a track
 * without a transform, and never fall back to plain media.
 */
import type { Participant, ServerMessage } from '../../shared/consult/signaling-messages';
import type { MediaWorkerStats } from '../../shared/consult/media-worker-protocol';
import { fromBase64url } from '../../shared/consult/base64url';
import { judgeConfirmation, SasError, SasRound } from '../../shared/consult/sas-round';
import { verifyCallKeySignature } from '../../shared/consult/call-key-signature';
import { callError, initialCallState, type CallError, type CallErrorCode, type CallState, type ParticipantState } from './call-state';
import { pageSupportsEncodedTransform } from './e2ee-support';
import { openCallMedia, stopTracks, type DeviceChoice } from './media-devices';
import { createMediaWorker, mediaWorkerClient, type MediaWorkerClient, type MediaWorkerFailure } from './media-worker-client';
import { createPublisher, createSubscriber, rtcConfiguration, type Publisher, type Subscriber } from './peer-connections';
import { TransportError, type SignalingTransport } from './signaling-transport';

export interface StartCallOptions {
  callId: string;
  transport: SignalingTransport;
  devices: DeviceChoice;
  onState(state: CallState): void;
  /** How often the worker's counters are read to tell who cannot be decrypted (ms). */
  decryptCheckIntervalMs?: number;
}

export interface InboundMediaStats {
  participantId: string;
  /** Video frames decoded by the browser (only frames the worker decrypted reach the decoder). */
  framesDecoded: number;
  /** Audio samples decoded from received packets (received minus concealed). */
  audioSamplesDecoded: number;
  audioPacketsReceived: number;
  videoPacketsReceived: number;
}

export interface CallStats {
  worker: MediaWorkerStats | null;
  inbound: InboundMediaStats[];
  outbound: { videoFramesEncoded: number; audioPacketsSent: number; videoPacketsSent: number };
}

export interface CallHandle {
  setMuted(on: boolean): void;
  setCameraOff(on: boolean): void;
  /** "Codes match": tells the others (audited by the backend) and marks the call verified for this code. */
  confirmCode(): Promise<void>;
  /** Leave, or end the call for everyone (host). Stops the devices, closes the connections, ends the worker. */
  hangUp(options?: { end?: boolean }): Promise<void>;
  /** The same as hangUp({ end }). */
  leave(end: boolean): Promise<void>;
  /** Another camera or microphone mid-call: the new tracks go into the same senders (and the same encrypting transforms). */
  switchDevices(devices: DeviceChoice): Promise<void>;
  stats(): Promise<CallStats>;
  /** The latest state (also delivered through onState). */
  readonly state: CallState;
}

interface RosterEntry {
  participant: Participant;
  verifiedDevice: boolean;
  decrypting: boolean;
  codeConfirmed: boolean;
  confirmedCode: string | null;
  /** Consecutive checks with frames from this sender but none decrypted and no key at all. */
  noKeyChecks: number;
  last: { decrypted: number; droppedAuth: number; droppedNoKey: number };
}

/** Errors that end the call once joined (before `welcome` every error does); the others are shown and the call goes on. */
const FATAL_SIGNALING_ERRORS: ReadonlySet<CallErrorCode> = new Set(['CALL_ENDED', 'E2EE_REQUIRED']);
/** Janus refuses a subscription for a moment after a publisher starts: a refused subscription is asked again, this many times. */
const SUBSCRIBE_ATTEMPTS = 4;
const SUBSCRIBE_RETRY_BASE_MS = 250;

export async function startCall(options: StartCallOptions): Promise<CallHandle> {
  const { callId, transport, devices, onState } = options;
  let state: CallState = initialCallState();
  const emit = (patch: Partial<CallState>) => {
    state = { ...state, ...patch };
    onState(state);
  };

  let worker: MediaWorkerClient | null = null;
  let localStream: MediaStream | null = null;
  let publisher: Publisher | null = null;
  /** The media server answered our publish; a MEDIA_UNAVAILABLE before that means this call has no media path at all. */
  let published = false;
  const subscribers = new Map<string, Subscriber>();
  const roster = new Map<string, RosterEntry>();
  let selfId: string | null = null;
  /** The roster round: the seq of the latest welcome/joined/left, the same number on every page. */
  let rosterRound = 0;
  /** This round's commit-then-reveal (null with fewer than two participants). */
  let sas: SasRound | null = null;
  let ownPublicKey = '';
  let iceConfig: RTCConfiguration = rtcConfiguration([]);
  let finished = false;
  let decryptTimer: ReturnType<typeof setInterval> | null = null;
  /** Subscriptions asked for and not yet offered: feed -> attempts so far. */
  const pendingSubscriptions = new Map<string, number>();
  const retryTimers = new Set<ReturnType<typeof setTimeout>>();
  /** Signaling events are applied strictly one after another, in arrival order. */
  let queue: Promise<void> = Promise.resolve();

  function participantsState(): ParticipantState[] {
    return [...roster.values()]
      .sort((a, b) => a.participant.index - b.participant.index)
      .map((entry) => ({
        participantId: entry.participant.participantId,
        role: entry.participant.role,
        displayName: entry.participant.displayName,
        self: entry.participant.participantId === selfId,
        verifiedDevice: entry.verifiedDevice,
        stream: subscribers.get(entry.participant.participantId)?.stream ?? null,
        decrypting: entry.decrypting,
        codeConfirmed: entry.codeConfirmed,
        confirmedCode: entry.confirmedCode,
      }));
  }

  function teardown(): void {
    finished = true;
    if (decryptTimer) clearInterval(decryptTimer);
    decryptTimer = null;
    for (const timer of retryTimers) clearTimeout(timer);
    retryTimers.clear();
    pendingSubscriptions.clear();
    stopTracks(localStream);
    publisher?.close();
    publisher = null;
    for (const subscriber of subscribers.values()) subscriber.close();
    subscribers.clear();
    worker?.terminate();
    worker = null;
  }

  function fail(error: CallError, encryption: CallState['encryption'] = state.encryption): void {
    if (finished) return;
    teardown();
    emit({ phase: 'failed', error, encryption, participants: participantsState(), localStream: null });
  }

  const handle: CallHandle = {
    get state() {
      return state;
    },
    setMuted(on) {
      // The track stays in the encrypted pipeline: a muted track sends silence, still encrypted.
      for (const track of localStream?.getAudioTracks() ?? []) track.enabled = !on;
      emit({ muted: on });
    },
    setCameraOff(on) {
      for (const track of localStream?.getVideoTracks() ?? []) track.enabled = !on;
      emit({ cameraOff: on });
    },
    async confirmCode() {
      if (finished || !state.code || !sas || sas.result !== state.code || state.phase !== 'in-call') return;
      const code = state.code;
      const round = sas.round;
      await transport.send({ type: 'code-confirmed', round, code });
      // The roster (and with it the round and code) may have changed while the message was on its way.
      if (state.code === code && sas?.round === round) emit({ encryption: 'e2ee-verified' });
    },
    async hangUp(hangUpOptions) {
      if (finished) return;
      teardown();
      emit({ phase: 'ended', endedReason: 'left', localStream: null, participants: participantsState() });
      try {
        await transport.leave(hangUpOptions?.end === true);
      } catch {
        // Already gone: the media and keys are gone either way.
      }
    },
    leave(end) {
      return handle.hangUp({ end });
    },
    async switchDevices(choice) {
      if (finished || !localStream) return;
      let next: MediaStream;
      try {
        next = await openCallMedia(choice);
      } catch {
        emit({ error: callError('DEVICE_UNAVAILABLE') });
        return;
      }
      if (finished) {
        stopTracks(next);
        return;
      }
      for (const track of next.getAudioTracks()) track.enabled = !state.muted;
      for (const track of next.getVideoTracks()) track.enabled = !state.cameraOff;
      for (const sender of publisher?.pc.getSenders() ?? []) {
        const kind = sender.track?.kind;
        const replacement = kind === 'audio' ? next.getAudioTracks()[0] : kind === 'video' ? next.getVideoTracks()[0] : undefined;
        // replaceTrack keeps the sender and its transform: the new camera is encrypted exactly as the old one.
        if (replacement) await sender.replaceTrack(replacement);
      }
      stopTracks(localStream);
      localStream = next;
      emit({ localStream: next, error: null });
    },
    async stats() {
      return collectStats();
    },
  };

  // 1. End-to-end encryption or no call at all: nothing is opened or sent before this.
  if (!pageSupportsEncodedTransform()) {
    finished = true;
    emit({ phase: 'failed', encryption: 'unavailable', error: callError('E2EE_UNAVAILABLE') });
    return handle;
  }

  // 2. The media worker makes the call key pair; its failure (no X25519, no encoded transform in workers) is the same refusal.
  let workerFailure: MediaWorkerFailure | null = null;
  try {
    worker = mediaWorkerClient(createMediaWorker(), {
      sealedKeys(message) {
        for (const key of message.keys) {
          void transport
            .send({ type: 'key', to: key.to, epoch: message.epoch, enc: key.enc, ciphertext: key.ciphertext })
            .catch(() => undefined);
        }
      },
      keyInstalled(from) {
        const entry = roster.get(from);
        if (entry && !entry.decrypting) {
          entry.decrypting = true;
          entry.noKeyChecks = 0;
          emit({ participants: participantsState() });
        }
      },
      keyRefused(from) {
        const entry = roster.get(from);
        if (entry && entry.decrypting) {
          entry.decrypting = false;
          emit({ participants: participantsState() });
        }
      },
      failed(code) {
        workerFailure = code;
        if (code === 'E2EE_UNSUPPORTED') fail(callError('E2EE_UNAVAILABLE'), 'unavailable');
        else fail(callError(code === 'ROSTER_REFUSED' ? 'KEY_ROTATION_FAILED' : 'WORKER_FAILED'));
      },
    });
    ownPublicKey = await worker.init(callId);
  } catch {
    if (!finished) {
      if (workerFailure === 'E2EE_UNSUPPORTED' || workerFailure === null) fail(callError('E2EE_UNAVAILABLE'), 'unavailable');
      else fail(callError('WORKER_FAILED'));
    }
    return handle;
  }

  // 3. Own camera and microphone.
  try {
    localStream = await openCallMedia(devices);
  } catch {
    fail(callError('DEVICE_UNAVAILABLE'));
    return handle;
  }
  if (finished) {
    stopTracks(localStream);
    return handle;
  }
  emit({ phase: 'connecting', localStream });

  /** A new roster round: a fresh nonce, its commitment sent; the code is unknown ("Checking…") until every nonce is revealed. */
  async function recomputeCode(): Promise<void> {
    // A new round is a new code: any earlier "codes match", local or relayed, no longer holds.
    for (const entry of roster.values()) {
      entry.codeConfirmed = false;
      entry.confirmedCode = null;
    }
    sas = null;
    if (roster.size < 2 || !selfId) {
      emit({ code: null, codeChecking: false, encryption: 'pending', participants: participantsState() });
      return;
    }
    const round = await SasRound.start({
      callId,
      round: rosterRound,
      selfId,
      participants: [...roster.values()].map(({ participant }) => ({
        participantId: participant.participantId,
        index: participant.index,
        role: participant.role,
        displayName: participant.displayName,
        publicKey: fromBase64url(participant.callKey.publicKey),
      })),
    });
    if (finished) return;
    sas = round;
    emit({ code: null, codeChecking: true, encryption: 'e2ee-unverified', participants: participantsState() });
    await transport.send({ type: 'sas-commit', round: round.round, commitment: round.commitment });
  }

  /** A commitment or reveal that breaks the protocol: no code is ever shown for this call; it ends. */
  function sasFailed(error: unknown): void {
    if (error instanceof SasError) fail(callError('CODE_CHECK_FAILED'));
    else throw error;
  }

  async function verifiedDevice(participant: Participant): Promise<boolean> {
    if (participant.role !== 'host' && participant.role !== 'clinician') return false;
    const { devicePublicKey } = participant;
    const { signature, publicKey } = participant.callKey;
    if (!devicePublicKey || !signature) return false;
    try {
      return await verifyCallKeySignature(fromBase64url(devicePublicKey), callId, fromBase64url(publicKey), fromBase64url(signature));
    } catch {
      return false;
    }
  }

  async function addParticipant(participant: Participant): Promise<void> {
    roster.set(participant.participantId, {
      participant,
      verifiedDevice: await verifiedDevice(participant),
      decrypting: true,
      codeConfirmed: false,
      confirmedCode: null,
      noKeyChecks: 0,
      last: { decrypted: 0, droppedAuth: 0, droppedNoKey: 0 },
    });
  }

  function rosterToWorker(): void {
    const self = selfId ? roster.get(selfId) : undefined;
    if (!self || !worker) return;
    worker.roster(
      self.participant.participantId,
      self.participant.index,
      [...roster.values()].map(({ participant }) => ({
        participantId: participant.participantId,
        index: participant.index,
        publicKey: participant.callKey.publicKey,
      })),
    );
  }

  async function subscribe(feed: string, attempt = 0): Promise<void> {
    if (!worker || feed === selfId || !roster.has(feed)) return;
    subscribers.get(feed)?.close();
    const subscriber = createSubscriber(iceConfig, feed, worker.worker, () => emit({ participants: participantsState() }));
    subscribers.set(feed, subscriber);
    pendingSubscriptions.set(feed, attempt + 1);
    await transport.send({ type: 'subscribe', feed });
  }

  /**
   * A refusal while subscriptions are pending is taken as theirs (the protocol's errors name no request):
   * each is asked again after a growing pause, a bounded number of times. True when the refusal was handled so.
   */
  function retrySubscriptions(): boolean {
    const retriable = [...pendingSubscriptions].filter(([, attempts]) => attempts < SUBSCRIBE_ATTEMPTS);
    if (retriable.length === 0) return false;
    for (const [feed, attempts] of retriable) {
      pendingSubscriptions.delete(feed);
      const timer = setTimeout(() => {
        retryTimers.delete(timer);
        queue = queue.then(() => (finished ? undefined : subscribe(feed, attempts))).catch(() => undefined);
      }, SUBSCRIBE_RETRY_BASE_MS * 2 ** (attempts - 1));
      retryTimers.add(timer);
    }
    return true;
  }

  async function publish(): Promise<void> {
    if (!worker || !localStream) return;
    publisher = createPublisher(iceConfig, localStream, worker.worker);
    const offer = await publisher.offer();
    if (finished) return;
    await transport.send({ type: 'publish', jsep: offer });
  }

  function checkDecryption(stats: MediaWorkerStats): void {
    let changed = false;
    for (const sender of stats.perSender) {
      const entry = roster.get(sender.participantId);
      if (!entry || sender.participantId === selfId) continue;
      const decrypted = sender.decryptedFrames - entry.last.decrypted;
      const auth = sender.droppedAuth - entry.last.droppedAuth;
      const noKey = sender.droppedNoKey - entry.last.droppedNoKey;
      entry.last = { decrypted: sender.decryptedFrames, droppedAuth: sender.droppedAuth, droppedNoKey: sender.droppedNoKey };
      let decrypting = entry.decrypting;
      if (decrypted > 0) {
        decrypting = true;
        entry.noKeyChecks = 0;
      } else if (auth > 0) {
        decrypting = false;
      } else if (noKey > 0) {
        // Frames before the sender's key arrives are normal for a moment; frames that never find a key are not.
        entry.noKeyChecks += 1;
        if (entry.noKeyChecks >= 3) decrypting = false;
      }
      if (decrypting !== entry.decrypting) {
        entry.decrypting = decrypting;
        changed = true;
      }
    }
    if (changed) emit({ participants: participantsState() });
  }

  async function collectStats(): Promise<CallStats> {
    const workerStats = worker ? await worker.stats().catch(() => null) : null;
    const inbound: InboundMediaStats[] = [];
    for (const [participantId, subscriber] of subscribers) {
      const entry: InboundMediaStats = { participantId, framesDecoded: 0, audioSamplesDecoded: 0, audioPacketsReceived: 0, videoPacketsReceived: 0 };
      const report = await subscriber.pc.getStats();
      report.forEach((s: Record<string, unknown>) => {
        if (s.type !== 'inbound-rtp') return;
        const num = (k: string) => (typeof s[k] === 'number' ? (s[k] as number) : 0);
        if (s.kind === 'video') {
          entry.framesDecoded += num('framesDecoded');
          entry.videoPacketsReceived += num('packetsReceived');
        } else if (s.kind === 'audio') {
          entry.audioSamplesDecoded += Math.max(0, num('totalSamplesReceived') - num('concealedSamples'));
          entry.audioPacketsReceived += num('packetsReceived');
        }
      });
      inbound.push(entry);
    }
    const outbound = { videoFramesEncoded: 0, audioPacketsSent: 0, videoPacketsSent: 0 };
    if (publisher) {
      const report = await publisher.pc.getStats();
      report.forEach((s: Record<string, unknown>) => {
        if (s.type !== 'outbound-rtp') return;
        const num = (k: string) => (typeof s[k] === 'number' ? (s[k] as number) : 0);
        if (s.kind === 'video') {
          outbound.videoFramesEncoded += num('framesEncoded');
          outbound.videoPacketsSent += num('packetsSent');
        } else if (s.kind === 'audio') {
          outbound.audioPacketsSent += num('packetsSent');
        }
      });
    }
    return { worker: workerStats, inbound, outbound };
  }

  async function onWelcome(message: Extract<ServerMessage, { type: 'welcome' }>): Promise<void> {
    if (selfId) return; // one welcome per call
    const own = message.roster.find((p) => p.participantId === message.participantId);
    // The server must hand everyone the key this worker made; anything else is a key swapped in the middle.
    if (!own || own.callKey.publicKey !== ownPublicKey) {
      fail(callError('KEY_MISMATCH'));
      return;
    }
    selfId = message.participantId;
    rosterRound = message.seq;
    iceConfig = rtcConfiguration(message.iceServers);
    for (const participant of message.roster) await addParticipant(participant);
    rosterToWorker();
    await recomputeCode();
    emit({ phase: 'in-call', participants: participantsState() });
    await publish();
    for (const feed of message.feeds) await subscribe(feed);
    decryptTimer = setInterval(() => {
      void worker
        ?.stats()
        .then(checkDecryption)
        .catch(() => undefined);
    }, options.decryptCheckIntervalMs ?? 1000);
  }

  async function onMessage(message: ServerMessage): Promise<void> {
    if (finished) return;
    switch (message.type) {
      case 'welcome':
        await onWelcome(message);
        return;
      case 'error': {
        const error = callError(message.code);
        if (!selfId || FATAL_SIGNALING_ERRORS.has(message.code)) fail(error);
        else if (message.code === 'MEDIA_UNAVAILABLE' && publisher && !published) fail(error);
        else if ((message.code === 'NOT_ALLOWED' || message.code === 'MEDIA_UNAVAILABLE') && retrySubscriptions()) return;
        else emit({ error });
        return;
      }
      case 'ended':
        teardown();
        emit({ phase: 'ended', endedReason: message.reason, localStream: null, participants: participantsState() });
        return;
    }
    if (!selfId) return; // nothing else means anything before welcome
    switch (message.type) {
      case 'joined': {
        if (message.participant.participantId === selfId) return;
        await addParticipant(message.participant);
        rosterRound = message.seq;
        rosterToWorker();
        await recomputeCode();
        return;
      }
      case 'left': {
        if (!roster.delete(message.participantId)) return;
        subscribers.get(message.participantId)?.close();
        subscribers.delete(message.participantId);
        pendingSubscriptions.delete(message.participantId);
        rosterRound = message.seq;
        // A new own epoch that the one who left never receives.
        rosterToWorker();
        await recomputeCode();
        return;
      }
      case 'key':
        worker?.key(message.from, message.epoch, message.enc, message.ciphertext);
        return;
      case 'feed':
        await subscribe(message.participantId);
        return;
      case 'published':
        published = true;
        await publisher?.accept(message.jsep);
        return;
      case 'offer': {
        const subscriber = subscribers.get(message.feed);
        if (!subscriber) return;
        pendingSubscriptions.delete(message.feed);
        const answer = await subscriber.answer(message.jsep);
        if (finished) return;
        await transport.send({ type: 'answer', feed: message.feed, jsep: answer });
        return;
      }
      case 'sas-commit': {
        // Own messages come back from the relay; other rounds are stale (or a relay out of step) and mean nothing.
        if (message.from === selfId || !sas || message.round !== sas.round) return;
        const round = sas;
        try {
          if (!round.commit(message.from, message.commitment)) return;
        } catch (error) {
          sasFailed(error);
          return;
        }
        // Every commitment is held: only now does this page reveal its nonce.
        await transport.send({ type: 'sas-reveal', round: round.round, nonce: round.reveal() });
        return;
      }
      case 'sas-reveal': {
        if (message.from === selfId || !sas || message.round !== sas.round) return;
        const round = sas;
        let code: string | null;
        try {
          code = await round.accept(message.from, message.nonce);
        } catch (error) {
          sasFailed(error);
          return;
        }
        if (code && sas === round && !finished) emit({ code, codeChecking: false, participants: participantsState() });
        return;
      }
      case 'code-confirmed': {
        const entry = roster.get(message.participantId);
        if (!entry || message.participantId === selfId) return;
        const verdict = judgeConfirmation({ round: sas?.round ?? null, code: sas?.result ?? null }, message);
        if (verdict === 'stale') return;
        // Shown as that person's confirmation only; this page's own "code checked" comes only from its own user.
        entry.confirmedCode = message.code;
        entry.codeConfirmed = verdict === 'match';
        if (verdict === 'differs') fail(callError('CODE_DIFFERS'));
        else emit({ participants: participantsState() });
        return;
      }
    }
  }

  // 4. Join through signaling with the worker's public key.
  try {
    await transport.connect(ownPublicKey, {
      message(message) {
        queue = queue
          .then(() => onMessage(message))
          .catch(() => {
            // A media step failed (bad SDP, closed connection): the call cannot carry media safely any more.
            fail(callError('MEDIA_UNAVAILABLE'));
          });
      },
      closed(error) {
        queue = queue.then(() => {
          if (!finished) fail(error ?? callError('CONNECTION_LOST'));
        });
      },
    });
  } catch (error) {
    fail(error instanceof TransportError ? error.error : callError('CONNECTION_LOST'));
  }
  return handle;
}
