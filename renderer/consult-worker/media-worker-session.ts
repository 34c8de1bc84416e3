/**
 * The media worker's state machine for one call: answers the page's
 * messages (init, roster, key, stats), makes the call key pair, starts a new
 * own epoch on every roster change and seals its key to each CURRENT
 * participant only, opens and installs (or refuses) the keys others send, and
 * encrypts/decrypts frame payloads for the transforms with the key ring.
 * Page messages are handled one at a time, in order; a message that fails
 * validation is ignored and counted, never thrown. Every roster is answered
 * with a new epoch (`sealed-keys`), nothing when it is identical to the
 * current one, or `failed` (ROSTER_REFUSED) when it cannot be used (two
 * participants on one sender index, an unusable public key, a changed own
 * identity); after a refusal the worker sends nothing (frames dropped and
 * counted) until a valid roster starts a new epoch, since the old key may be
 * held by someone who left.
 *
 * Group keys (RFC 9605 section 9.5): a frame that authenticates under a
 * sender's key was made by SOME member holding that key, not necessarily
 * that sender; see key-ring.ts for the counter bounds that keep one forged
 * frame from silencing a sender.
 *
 * It must never post a key, a base key or a private key to the page, never
 * pass a frame on that it could not encrypt or authenticate, and never log.
 */
import { sframeDecrypt, sframeEncrypt, SFrameError } from '../../shared/sframe';
import { senderOfKid } from '../../shared/consult/media-kid';
import { fromBase64url, toBase64url } from '../../shared/consult/base64url';
import { generateCallKeyPair, openSenderKey, sealSenderKey, type CallKeyPair } from '../../shared/consult/call-keys';
import {
  pageToWorkerSchema,
  type KeyRefusalReason,
  type MediaWorkerStats,
  type PageToWorker,
  type SenderStats,
  type WorkerToPage,
} from '../../shared/consult/media-worker-protocol';
import { KeyRing, MEDIA_BASE_KEY_BYTES, type FrameClass } from './key-ring';

/** How long a superseded receive key keeps decrypting frames already in flight. */
export const DEFAULT_KEY_GRACE_MS = 2000;

export interface MediaWorkerSessionOptions {
  post(message: WorkerToPage): void;
  /** Monotonic milliseconds (performance.now in the worker, an injected clock in tests). */
  now(): number;
  graceMs?: number;
  /** Schedules the dropping of superseded keys once their grace is over. */
  schedule?(run: () => void, delayMs: number): void;
  /** False where the encoded-transform API is missing: init then answers `failed`. */
  canTransform?: boolean;
}

interface Member {
  participantId: string;
  index: number;
  publicKey: Uint8Array;
  publicKeyText: string;
}

type SenderCounters = Omit<SenderStats, 'participantId' | 'index'>;

const EMPTY = new Uint8Array(0);

export class MediaWorkerSession {
  private readonly options: MediaWorkerSessionOptions;
  private readonly ring: KeyRing;
  private readonly graceMs: number;
  private callId: string | null = null;
  private keyPair: CallKeyPair | null = null;
  private self: { participantId: string; index: number } | null = null;
  private members = new Map<string, Member>();
  private rosterSignature: string | null = null;
  /** Set by a refused roster: nothing is sent until a valid roster starts a new epoch. */
  private sendingStopped = false;
  private queue: Promise<void> = Promise.resolve();
  private readonly counters = {
    sentFrames: 0,
    decryptedFrames: 0,
    droppedAuth: 0,
    droppedNoKey: 0,
    droppedMalformed: 0,
    droppedReplay: 0,
    droppedCounter: 0,
    unsentNoKey: 0,
    unsentStopped: 0,
    rejectedMessages: 0,
  };
  private readonly perSender = new Map<string, SenderCounters>();

  constructor(options: MediaWorkerSessionOptions) {
    this.options = options;
    this.graceMs = options.graceMs ?? DEFAULT_KEY_GRACE_MS;
    this.ring = new KeyRing({ now: options.now, graceMs: this.graceMs });
  }

  /** Takes one raw page message; handled after every earlier one. */
  receive(raw: unknown): Promise<void> {
    const parsed = pageToWorkerSchema.safeParse(raw);
    if (!parsed.success) {
      this.counters.rejectedMessages += 1;
      return this.queue;
    }
    this.queue = this.queue.then(() => this.handle(parsed.data)).catch(() => {
      this.counters.rejectedMessages += 1;
    });
    return this.queue;
  }

  private async handle(message: PageToWorker): Promise<void> {
    switch (message.type) {
      case 'init':
        return this.init(message.callId);
      case 'roster':
        return this.roster(message);
      case 'key':
        return this.key(message);
      case 'stats':
        this.options.post({ type: 'stats', stats: this.stats() });
        return;
    }
  }

  private async init(callId: string): Promise<void> {
    if (this.options.canTransform === false) {
      this.options.post({ type: 'failed', code: 'E2EE_UNSUPPORTED', message: 'This browser cannot encrypt media end to end.' });
      return;
    }
    if (this.callId !== null) {
      // One worker, one call: a second init is junk.
      this.counters.rejectedMessages += 1;
      if (this.callId === callId && this.keyPair) this.options.post({ type: 'ready', publicKey: toBase64url(this.keyPair.publicKey) });
      return;
    }
    let keyPair: CallKeyPair;
    try {
      keyPair = await generateCallKeyPair();
    } catch {
      this.options.post({ type: 'failed', code: 'E2EE_UNSUPPORTED', message: 'This browser cannot make call keys (X25519).' });
      return;
    }
    this.callId = callId;
    this.keyPair = keyPair;
    this.options.post({ type: 'ready', publicKey: toBase64url(keyPair.publicKey) });
  }

  private async roster(message: Extract<PageToWorker, { type: 'roster' }>): Promise<void> {
    const callId = this.callId;
    const keyPair = this.keyPair;
    if (callId === null || keyPair === null) {
      this.counters.rejectedMessages += 1;
      this.options.post({ type: 'failed', code: 'NOT_INITIALISED', message: 'The media worker was given participants before its call.' });
      return;
    }
    const refuse = () => {
      // The old key may be held by someone this roster says has left: stop sending until a usable roster.
      this.counters.rejectedMessages += 1;
      this.sendingStopped = true;
      this.rosterSignature = null;
      this.options.post({ type: 'failed', code: 'ROSTER_REFUSED', message: 'The media worker was given a participant list it cannot use; it stopped sending.' });
    };
    if (this.self !== null && (this.self.participantId !== message.selfId || this.self.index !== message.selfIndex)) {
      // Own identity and sender index are fixed for the call.
      return refuse();
    }
    const members = new Map<string, Member>();
    const indexes = new Set<number>([message.selfIndex]);
    for (const entry of message.participants) {
      if (entry.participantId === message.selfId) continue;
      let publicKey: Uint8Array;
      try {
        publicKey = fromBase64url(entry.publicKey);
      } catch {
        publicKey = EMPTY;
      }
      if (publicKey.length !== 32 || members.has(entry.participantId) || indexes.has(entry.index)) return refuse();
      indexes.add(entry.index);
      members.set(entry.participantId, { participantId: entry.participantId, index: entry.index, publicKey, publicKeyText: entry.publicKey });
    }
    const signature = [...members.values()]
      .map((m) => `${m.participantId}/${m.index}/${m.publicKeyText}`)
      .sort()
      .join(',');
    if (this.self !== null && signature === this.rosterSignature) return;

    for (const [id, before] of this.members) {
      const now = members.get(id);
      if (!now || now.publicKeyText !== before.publicKeyText || now.index !== before.index) {
        this.ring.retireParticipant(id);
        this.options.schedule?.(() => this.ring.prune(), this.graceMs + 1);
      }
    }
    this.self = { participantId: message.selfId, index: message.selfIndex };
    this.members = members;
    this.rosterSignature = signature;
    for (const id of [...this.perSender.keys()]) if (!members.has(id)) this.perSender.delete(id);

    const { epoch, baseKey } = await this.ring.startOwnEpoch(message.selfIndex);
    this.sendingStopped = false;
    try {
      const keys = await Promise.all(
        [...members.values()].map(async (m) => {
          const sealed = await sealSenderKey({ callId, from: message.selfId, to: m.participantId, epoch, sender: keyPair, recipientPublicKey: m.publicKey, baseKey });
          return { to: m.participantId, enc: toBase64url(sealed.enc), ciphertext: toBase64url(sealed.ciphertext) };
        }),
      );
      this.options.post({ type: 'sealed-keys', epoch, keys });
    } finally {
      baseKey.fill(0);
    }
  }

  private async key(message: Extract<PageToWorker, { type: 'key' }>): Promise<void> {
    const refuse = (reason: KeyRefusalReason) => this.options.post({ type: 'key-refused', from: message.from, reason });
    const member = this.members.get(message.from);
    if (this.callId === null || this.keyPair === null || this.self === null || !member) return refuse('unknown-sender');
    let baseKey: Uint8Array;
    try {
      baseKey = await openSenderKey({
        callId: this.callId,
        from: message.from,
        to: this.self.participantId,
        epoch: message.epoch,
        recipient: this.keyPair,
        senderPublicKey: member.publicKey,
        enc: fromBase64url(message.enc),
        ciphertext: fromBase64url(message.ciphertext),
      });
    } catch {
      return refuse('open-failed');
    }
    try {
      if (baseKey.length !== MEDIA_BASE_KEY_BYTES) return refuse('bad-key');
      const result = await this.ring.install(member.participantId, member.index, message.epoch, baseKey);
      if (result === 'installed' || result === 'already-installed') {
        this.options.schedule?.(() => this.ring.prune(), this.graceMs + 1);
        this.options.post({ type: 'key-installed', from: message.from, epoch: message.epoch });
      } else {
        refuse(result);
      }
    } finally {
      baseKey.fill(0);
    }
  }

  /**
   * Encrypts one outgoing frame payload under the own current key (whole
   * frame, empty metadata; a video key frame takes a key-frame counter, see
   * key-ring.ts); undefined when there is no own key yet: the frame must then
   * be dropped, never sent in the clear. Also undefined after a refused
   * roster, until a valid one started a new epoch.
   */
  async encryptFrame(payload: Uint8Array, frameClass: FrameClass = 'other'): Promise<Uint8Array | undefined> {
    if (this.sendingStopped) {
      this.counters.unsentStopped += 1;
      return undefined;
    }
    const next = this.ring.nextSend(frameClass);
    if (!next) {
      this.counters.unsentNoKey += 1;
      return undefined;
    }
    const frame = await sframeEncrypt(next.key, next.ctr, EMPTY, payload);
    this.counters.sentFrames += 1;
    return frame;
  }

  /**
   * Decrypts one incoming frame payload; undefined (and counted) when it has
   * no valid header, no key, fails authentication, is replayed, or (with
   * `feed`) was sent by someone other than the participant whose stream it
   * arrived on. Such a frame must be dropped.
   */
  async decryptFrame(payload: Uint8Array, feed?: string): Promise<Uint8Array | undefined> {
    let kid: bigint | undefined;
    try {
      const opened = await sframeDecrypt((k) => {
        kid = k;
        return this.ring.keyFor(k);
      }, EMPTY, payload);
      const owner = this.ring.ownerOf(opened.kid);
      if (feed !== undefined && owner !== feed) {
        this.dropped('droppedAuth', owner);
        return undefined;
      }
      const counter = this.ring.acceptCounter(opened.kid, opened.ctr);
      if (counter !== 'fresh') {
        this.dropped(counter === 'replayed' ? 'droppedReplay' : 'droppedCounter', owner);
        return undefined;
      }
      this.counters.decryptedFrames += 1;
      if (owner !== undefined) this.senderCounters(owner).decryptedFrames += 1;
      return opened.plaintext;
    } catch (error) {
      const code = error instanceof SFrameError ? error.code : 'AUTH_FAILED';
      const claimed = kid === undefined ? feed : (this.ring.ownerOf(kid) ?? this.memberAt(senderOfKid(kid).senderIndex) ?? feed);
      if (code === 'MALFORMED_HEADER') this.dropped('droppedMalformed', undefined);
      else if (code === 'UNKNOWN_KEY') this.dropped('droppedNoKey', claimed);
      else this.dropped('droppedAuth', claimed);
      return undefined;
    }
  }

  /** A transform whose options failed validation counts as a rejected message. */
  countRejected(): void {
    this.counters.rejectedMessages += 1;
  }

  stats(): MediaWorkerStats {
    return {
      ...this.counters,
      epoch: this.ring.ownEpoch,
      perSender: [...this.members.values()].map((m) => ({ participantId: m.participantId, index: m.index, ...this.senderCounters(m.participantId) })),
    };
  }

  private dropped(kind: 'droppedAuth' | 'droppedNoKey' | 'droppedMalformed' | 'droppedReplay' | 'droppedCounter', participantId: string | undefined): void {
    this.counters[kind] += 1;
    if (participantId === undefined || kind === 'droppedMalformed' || !this.members.has(participantId)) return;
    // Per sender, a replayed or refused-counter frame counts as one that failed authentication.
    this.senderCounters(participantId)[kind === 'droppedReplay' || kind === 'droppedCounter' ? 'droppedAuth' : kind] += 1;
  }

  private memberAt(index: number): string | undefined {
    for (const m of this.members.values()) if (m.index === index) return m.participantId;
    return undefined;
  }

  private senderCounters(participantId: string): SenderCounters {
    let c = this.perSender.get(participantId);
    if (!c) {
      c = { decryptedFrames: 0, droppedAuth: 0, droppedNoKey: 0 };
      this.perSender.set(participantId, c);
    }
    return c;
  }
}
