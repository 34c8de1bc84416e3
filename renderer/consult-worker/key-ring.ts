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
 * replayed frame is refused, refuses counters outside the ranges senders use,
 * and bounds how far one accepted frame may move the window ahead (see
 * acceptCounter).
 *
 * Security limit (RFC 9605 section 9.5): these are group keys. Every member
 * who holds a sender's key can make frames that authenticate as that sender;
 * a frame's KID says "some member of the call", not who. The bounds here keep
 * one forged frame from silencing the real sender; a member forging a run of
 * frames can still inject or disrupt that sender's media. Only per-sender
 * signatures would stop that, and there are none.
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
export const REPLAY_WINDOW = 8192n;
/**
 * How far ahead of the newest accepted counter (or of its range's start,
 * before any) one frame may move the window, plus MAX_FRAMES_PER_SECOND for
 * every second since the window last moved (a stalled subscription resumes).
 * A sender at 30 fps video + 50 pps audio takes ~25 s to use 2048 counters.
 * Smaller than REPLAY_WINDOW, so after one forged jump the genuine sender's
 * frames are still inside the window and keep playing. Frames beyond are
 * dropped (and counted), never accepted.
 */
export const MAX_COUNTER_ADVANCE = 2048n;
export const MAX_FRAMES_PER_SECOND = 400;

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
  /** Counters of this class start here: the reference before any frame was accepted. */
  first: bigint;
  highest: bigint | null;
  /** Monotonic time the window last moved (or the key was installed). */
  movedAt: number;
  seen: Set<bigint>;
}

export type InstallResult = 'installed' | 'already-installed' | 'stale-epoch' | 'conflicting-key' | 'bad-key';
/** 'out-of-range': not a counter any sender uses; 'too-far-ahead': beyond the bound one frame may move the window. */
export type CounterCheck = 'fresh' | 'replayed' | 'out-of-range' | 'too-far-ahead';

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
    const installedAt = this.options.now();
    const window = (first: bigint): ReplayWindow => ({ first, highest: null, movedAt: installedAt, seen: new Set() });
    // A KID still held for a participant who left (its sender index reused) is replaced: that participant is gone.
    this.received.set(kid, { key, participantId, senderIndex, epoch, fingerprint, retireAt: null, keyFrames: window(KEY_FRAME_COUNTERS.first), otherFrames: window(OTHER_FRAME_COUNTERS.first) });
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
   * Records an authenticated frame's counter under its KID. 'replayed' for a
   * counter already accepted or too far behind the newest; 'out-of-range' for
   * a counter outside KEY_FRAME_COUNTERS / OTHER_FRAME_COUNTERS;
   * 'too-far-ahead' when it would move the window further than
   * MAX_COUNTER_ADVANCE (+ MAX_FRAMES_PER_SECOND per second since it last
   * moved). Only 'fresh' frames may be played; the window moves only for them.
   */
  acceptCounter(kid: bigint, ctr: bigint): CounterCheck {
    const entry = this.received.get(kid);
    if (!entry) return 'replayed';
    // Key frames and other frames count in separate ranges: each range has its own window.
    let window: ReplayWindow;
    if (ctr >= KEY_FRAME_COUNTERS.first && ctr <= KEY_FRAME_COUNTERS.last) window = entry.keyFrames;
    else if (ctr >= OTHER_FRAME_COUNTERS.first && ctr <= OTHER_FRAME_COUNTERS.last) window = entry.otherFrames;
    else return 'out-of-range';
    const highest = window.highest;
    if (highest !== null && (ctr + REPLAY_WINDOW <= highest || window.seen.has(ctr))) return 'replayed';
    const now = this.options.now();
    const reference = highest ?? window.first;
    const elapsedSeconds = Math.max(0, Math.floor((now - window.movedAt) / 1000));
    if (ctr > reference + MAX_COUNTER_ADVANCE + BigInt(elapsedSeconds) * BigInt(MAX_FRAMES_PER_SECOND)) return 'too-far-ahead';
    window.seen.add(ctr);
    if (highest === null || ctr > highest) {
      window.highest = ctr;
      window.movedAt = now;
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

