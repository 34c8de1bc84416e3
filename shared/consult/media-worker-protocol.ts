/**
 * Messages between a consultation page (desktop or join page) and its
 * dedicated media worker (renderer/consult-worker), which alone holds the
 * call's private key and every media key. The page relays only public keys and
 * opaque sealed keys (base64url) between the worker and signaling; nothing in
 * these messages is ever a usable media key. The worker validates every
 * message with these schemas and ignores (and counts) anything else.
 */
import { z } from 'zod';
import { participantIdSchema } from './signaling-messages';

const base64url = (max: number) => z.string().max(max).regex(/^[A-Za-z0-9_-]*$/);
const epochSchema = z.number().int().min(0).max(0xffffff);

export const workerRosterEntrySchema = z.strictObject({
  participantId: participantIdSchema,
  /** Sender index within the call (0-255), as in the signaling roster. */
  index: z.number().int().min(0).max(255),
  /** Raw X25519 call public key, base64url. */
  publicKey: base64url(64),
});
export type WorkerRosterEntry = z.infer<typeof workerRosterEntrySchema>;

/** Page -> worker. */
export const pageToWorkerSchema = z.discriminatedUnion('type', [
  /** First message: make this call's key pair; the worker answers `ready`. */
  z.strictObject({ type: z.literal('init'), callId: z.uuid() }),
  /**
   * The current participants (self may be included). Any change of the set
   * (or of someone's public key) starts a new own epoch: a new sender key,
   * sealed to each current participant and answered as `sealed-keys`; an
   * unusable roster (duplicate sender index or participant, bad public key,
   * changed own id or index) is answered `failed` ROSTER_REFUSED.
   */
  z.strictObject({
    type: z.literal('roster'),
    selfId: participantIdSchema,
    selfIndex: z.number().int().min(0).max(255),
    participants: z.array(workerRosterEntrySchema).max(16),
  }),
  /** A sealed sender key received from signaling; answered `key-installed` or `key-refused`. */
  z.strictObject({ type: z.literal('key'), from: participantIdSchema, epoch: epochSchema, enc: base64url(64), ciphertext: base64url(200) }),
  /** Ask for the counters; answered `stats`. */
  z.strictObject({ type: z.literal('stats') }),
]);
export type PageToWorker = z.infer<typeof pageToWorkerSchema>;

export const KEY_REFUSAL_REASONS = [
  /** No roster yet, or the sender is not a current participant. */
  'unknown-sender',
  /** HPKE open failed: tampered, not for us, not from that sender, or bound to another call/epoch. */
  'open-failed',
  /** The opened key is not an SFrame suite-4 base key. */
  'bad-key',
  /** Older than a key already installed from that sender. */
  'stale-epoch',
  /** A different key for a (sender, epoch) already installed. */
  'conflicting-key',
] as const;
export type KeyRefusalReason = (typeof KEY_REFUSAL_REASONS)[number];

export const senderStatsSchema = z.strictObject({
  participantId: participantIdSchema,
  index: z.number().int(),
  decryptedFrames: z.number().int(),
  droppedAuth: z.number().int(),
  droppedNoKey: z.number().int(),
});
export type SenderStats = z.infer<typeof senderStatsSchema>;

export const mediaWorkerStatsSchema = z.strictObject({
  /** Frames encrypted and handed on by the send transforms. */
  sentFrames: z.number().int(),
  decryptedFrames: z.number().int(),
  /** Frames whose authentication failed (tampered, or a wrong key under a known KID): dropped, never played. */
  droppedAuth: z.number().int(),
  /** Frames under a KID we hold no key for: dropped. */
  droppedNoKey: z.number().int(),
  /** Authentic frames whose counter was already accepted (or is far too old): a replay, dropped. */
  droppedReplay: z.number().int(),
  /**
   * Authentic frames whose counter no sender uses (outside the key-frame and
   * other-frame ranges) or that would move the replay window too far ahead at
   * once: dropped. With group keys such a frame may be forged by another member.
   */
  droppedCounter: z.number().int(),
  /** Frames without a valid SFrame header: dropped. */
  droppedMalformed: z.number().int(),
  /** Outgoing frames dropped because no own key exists yet (before the first roster). */
  unsentNoKey: z.number().int(),
  /** Outgoing frames dropped because the last roster was refused (sending stopped until a valid one). */
  unsentStopped: z.number().int(),
  /** Page messages that failed validation and were ignored. */
  rejectedMessages: z.number().int(),
  /** Own current epoch, null before the first roster. */
  epoch: epochSchema.nullable(),
  perSender: z.array(senderStatsSchema),
});
export type MediaWorkerStats = z.infer<typeof mediaWorkerStatsSchema>;

/** Why the worker cannot go on; every one ends the call. */
export const WORKER_FAILURE_CODES = ['E2EE_UNSUPPORTED', 'NOT_INITIALISED', 'ROSTER_REFUSED'] as const;
export type WorkerFailureCode = (typeof WORKER_FAILURE_CODES)[number];

/** Worker -> page. */
export const workerToPageSchema = z.discriminatedUnion('type', [
  /** The call key pair exists; publish this public key (base64url) with `join`. */
  z.strictObject({ type: z.literal('ready'), publicKey: base64url(64) }),
  /** The own sender key of a new epoch, sealed to each current participant: send each as a signaling `key` message. */
  z.strictObject({
    type: z.literal('sealed-keys'),
    epoch: epochSchema,
    keys: z.array(z.strictObject({ to: participantIdSchema, enc: base64url(64), ciphertext: base64url(200) })),
  }),
  z.strictObject({ type: z.literal('key-installed'), from: participantIdSchema, epoch: epochSchema }),
  z.strictObject({ type: z.literal('key-refused'), from: z.string().max(64), reason: z.enum(KEY_REFUSAL_REASONS) }),
  z.strictObject({ type: z.literal('stats'), stats: mediaWorkerStatsSchema }),
  /**
   * The worker could not do what the call needs (no X25519, no init, or a
   * roster it refused: it then stops sending, and the call must end): never
   * fall back to plain media.
   */
  z.strictObject({ type: z.literal('failed'), code: z.enum(WORKER_FAILURE_CODES), message: z.string().max(200) }),
]);
export type WorkerToPage = z.infer<typeof workerToPageSchema>;

/** The options object of `new RTCRtpScriptTransform(worker, options)`; `feed` names the remote participant for a receiver. */
export const transformOptionsSchema = z.strictObject({
  direction: z.enum(['send', 'recv']),
  kind: z.enum(['audio', 'video']),
  feed: participantIdSchema.optional(),
});
export type MediaTransformOptions = z.infer<typeof transformOptionsSchema>;
