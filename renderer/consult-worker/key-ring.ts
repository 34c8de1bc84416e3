/**
 * Every media key of one participant in one call, in one place inside the
 * media worker: the own sender key of the current epoch with its 64-bit frame
 * counter, and the keys received from the other participants, looked up by
 * SFrame KID (mediaKid(senderIndex, epoch)). A counter is allocated
 * synchronously and never handed out twice under a key; a new own epoch
 * always means a fresh random key and a counter back at 0. A received key that
 * a newer epoch of the same sender (or that sender's departure) supersedes is
 * kept for a short grace period for frames still in flight, then forgotten.
 * It also remembers which counters were already accepted under each key, so a
 * replayed frame is refused.
 *
 * It must never hand a key or base key to anything outside the worker, and
 * never install a key for a KID that already holds a different one.
 */
import { deriveSFrameKey, type SFrameKey } from '../../shared/sframe';
import { mediaKid } from '../../shared/consult/media-kid';

/** Media uses SFrame suite 4, AES_128_GCM_SHA256_128: 16-byte base keys. */
export const MEDIA_SUITE = 4 as const;
export const MEDIA_BASE_KEY_BYTES = 16;
const MAX_EPOCH = 0xffffff;
/**
 * Counter ranges. The whole frame is encrypted, so a receiving Chromium's
 * VP8 depacketizer reads the SFrame config byte |X|K|Y|C| where it expects
 * the VP8 frame tag, whose lowest bit says "key frame" (0) or "delta" (1).
 * That bit is the lowest bit of C = (counter byte length - 1). So key frames
 * take their counters from the 3-byte range (bit 0) and every other frame
 * from the 4-byte range (bit 1): the receiver's jitter buffer then sees key
 * frames as key frames (a late joiner, or a receiver after a new epoch or a
 * loss, can start decoding), and the SFrame header stays first in the payload
 * (what the media server records is header + ciphertext only). The ranges are
 * disjoint and each is used in increasing order, so no counter repeats under a
 * key. 16.7 million key frames and 4.2 billion other frames per epoch.
 */
export const KEY_FRAME_COUNTERS = { first: 0x1_0000n, last: 0xff_ffffn } as const;
export const OTHER_FRAME_COUNTERS = { first: 0x100_0000n, last: 0xffff_ffffn } as const;

export type FrameClass = 'key-frame' | 'other';
/** How far behind the newest accepted counter a frame may arrive (audio and video share a sender's counter). */
export const REPLAY_WINDOW = 4096n;

export interface KeyRingOptions {
  /** Monotonic milliseconds. */
  now(): number;
  /** How long a superseded receive key stays usable. */
  graceMs: number;
}

interface ReceivedKey {
  key: SFrameKey;
  participantId: string;
  senderIndex: number;
  epoch: number;
  fingerprint: string;
  /** Monotonic time after which the key is dropped; null while current. */
  retireAt: number | null;
  keyFrames: ReplayWindow;
  otherFrames: ReplayWindow;
}

interface ReplayWindow {
  highest: bigint | null;
  seen: Set<bigint>;
}

export type InstallResult = 'installed' | 'already-installed' | 'stale-epoch' | 'conflicting-key' | 'bad-key';
export type CounterCheck = 'fresh' | 'replayed';

async function fingerprintOf(baseKey: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(baseKey)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class KeyRing {
  private readonly options: KeyRingOptions;
  private own: { key: SFrameKey; epoch: number; senderIndex: number; next: Record<FrameClass, bigint> } | null = null;
  private readonly received = new Map<bigint, ReceivedKey>();

  constructor(options: KeyRingOptions) {
    this.options = options;
  }

  /** The own current epoch, null before the first. */
  get ownEpoch(): number | null {
    return this.own?.epoch ?? null;
  }

  /**
   * Starts the next own epoch: a fresh random base key, its SFrame key under
   * mediaKid(senderIndex, epoch), counters at the start of their ranges. Returns the base key ONLY so the
   * caller can seal it to the current participants; the caller must not keep it.
   */
  async startOwnEpoch(senderIndex: number): Promise<{ epoch: number; baseKey: Uint8Array }> {
    const epoch = this.own === null ? 0 : this.own.epoch + 1;
    if (epoch > MAX_EPOCH) throw new RangeError('epoch space exhausted');
    const baseKey = crypto.getRandomValues(new Uint8Array(MEDIA_BASE_KEY_BYTES));
    const key = await deriveSFrameKey(MEDIA_SUITE, mediaKid(senderIndex, epoch), baseKey);
    this.own = { key, epoch, senderIndex, next: { 'key-frame': KEY_FRAME_COUNTERS.first, other: OTHER_FRAME_COUNTERS.first } };
    return { epoch, baseKey };
  }

  /** The own key and a counter never used under it, or undefined before the first epoch (or if the frame class's range ran out). */
  nextSend(frameClass: FrameClass = 'other'): { key: SFrameKey; ctr: bigint } | undefined {
    const own = this.own;
    const range = frameClass === 'key-frame' ? KEY_FRAME_COUNTERS : OTHER_FRAME_COUNTERS;
    if (!own || own.next[frameClass] > range.last) return undefined;
    const ctr = own.next[frameClass];
    own.next[frameClass] = ctr + 1n;
    return { key: own.key, ctr };
  }

  /** Installs a key received (and opened) from `participantId` for its `epoch`; older epochs of that sender start their grace period. */
  async install(participantId: string, senderIndex: number, epoch: number, baseKey: Uint8Array): Promise<InstallResult> {
    if (!(baseKey instanceof Uint8Array) || baseKey.length !== MEDIA_BASE_KEY_BYTES) return 'bad-key';
    this.prune();
    const kid = mediaKid(senderIndex, epoch);
    const fingerprint = await fingerprintOf(baseKey);
    const existing = this.received.get(kid);
    if (existing && existing.participantId === participantId) {
      return existing.fingerprint === fingerprint ? 'already-installed' : 'conflicting-key';
    }
    const newest = this.newestEpochOf(participantId);
    if (newest !== null && epoch < newest) return 'stale-epoch';
    const key = await deriveSFrameKey(MEDIA_SUITE, kid, baseKey);
    // A KID still held for a participant who left (its sender index reused) is replaced: that participant is gone.
    this.received.set(kid, { key, participantId, senderIndex, epoch, fingerprint, retireAt: null, keyFrames: { highest: null, seen: new Set() }, otherFrames: { highest: null, seen: new Set() } });
    const retireAt = this.options.now() + this.options.graceMs;
    for (const entry of this.received.values()) {
      if (entry.participantId === participantId && entry.epoch < epoch && entry.retireAt === null) entry.retireAt = retireAt;
    }
    return 'installed';
  }

  /** A participant left (or changed its call key): its keys stay only for the grace period. */
  retireParticipant(participantId: string): void {
    const retireAt = this.options.now() + this.options.graceMs;
    for (const entry of this.received.values()) {
      if (entry.participantId === participantId && (entry.retireAt === null || entry.retireAt > retireAt)) entry.retireAt = retireAt;
    }
  }

  /** The receive key for a KID, if held and not past its grace period. */
  keyFor(kid: bigint): SFrameKey | undefined {
    const entry = this.received.get(kid);
    if (!entry) return undefined;
    if (entry.retireAt !== null && entry.retireAt <= this.options.now()) {
      this.received.delete(kid);
      return undefined;
    }
    return entry.key;
  }

  /** Who holds a KID (for the per-sender counters). */
  ownerOf(kid: bigint): string | undefined {
    return this.received.get(kid)?.participantId;
  }

  /**
   * Records an authenticated frame's counter under its KID; 'replayed' for a
   * counter already accepted or too far behind the newest (then the frame must
   * be dropped).
   */
  acceptCounter(kid: bigint, ctr: bigint): CounterCheck {
    const entry = this.received.get(kid);
    if (!entry) return 'replayed';
    // Key frames and other frames count in separate ranges: each range has its own window.
    const window = ctr < OTHER_FRAME_COUNTERS.first ? entry.keyFrames : entry.otherFrames;
    const highest = window.highest;
    if (highest !== null && (ctr + REPLAY_WINDOW <= highest || window.seen.has(ctr))) return 'replayed';
    window.seen.add(ctr);
    if (highest === null || ctr > highest) {
      window.highest = ctr;
      if (window.seen.size > Number(REPLAY_WINDOW) * 2) {
        for (const seen of window.seen) if (seen + REPLAY_WINDOW <= ctr) window.seen.delete(seen);
      }
    }
    return 'fresh';
  }

  /** Forgets every key past its grace period. */
  prune(): void {
    const now = this.options.now();
    for (const [kid, entry] of this.received) if (entry.retireAt !== null && entry.retireAt <= now) this.received.delete(kid);
  }

  /** KIDs currently held (for tests and stats; never the keys). */
  heldKids(): bigint[] {
    this.prune();
    return [...this.received.keys()];
  }

  private newestEpochOf(participantId: string): number | null {
    let newest: number | null = null;
    for (const entry of this.received.values()) if (entry.participantId === participantId && (newest === null || entry.epoch > newest)) newest = entry.epoch;
    return newest;
  }
}

