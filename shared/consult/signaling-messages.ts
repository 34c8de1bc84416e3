/**
 * The consultation signaling protocol: every message a participant may send
 * to the backend's signaling WebSocket and every message the backend may send
 * back, as strict zod schemas with bounded sizes. The desktop (through main)
 * and the patient's join page speak exactly this. The backend relays key
 * messages as opaque ciphertext: nothing here may ever carry a media key, a
 * bearer token or PHI beyond a participant's display name.
 */
import { z } from 'zod';

/** Calls have at most this many participants (clinician, patient, interpreter, family). */
export const CONSULT_MAX_PARTICIPANTS = 4;
/** Largest signaling message accepted, in bytes of JSON (an SDP with candidates fits easily). */
export const SIGNALING_MESSAGE_MAX_BYTES = 96 * 1024;
/** The WebSocket path on the backend. */
export const SIGNALING_PATH = '/consult/ws';
/** The patient's join page on the backend; the one-time token travels in the URL fragment, never in a request line. */
export const JOIN_PAGE_PATH = '/join';

const base64url = (max: number) => z.string().max(max).regex(/^[A-Za-z0-9_-]*$/, 'must be base64url');
/** Exactly 32 bytes, base64url without padding (SAS commitments and nonces). */
const base64url32 = z.string().regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/, 'must be base64url of 32 bytes');
/** The roster round of the short authentication string: the seq of the latest roster change (welcome/joined/left). */
export const sasRoundSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const callIdSchema = z.uuid();
export const participantIdSchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);
/** One-time invitation token (base64url of 32 random bytes). */
export const inviteTokenSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/);

export const jsepSchema = z.strictObject({
  type: z.enum(['offer', 'answer']),
  sdp: z.string().min(1).max(64_000),
  /** Janus's VideoRoom flag for end-to-end encrypted media; a room with require_e2ee refuses a publish without it. */
  e2ee: z.boolean().optional(),
});
export type Jsep = z.infer<typeof jsepSchema>;

/**
 * A participant's ephemeral call key: the raw X25519 public key (32 bytes,
 * base64url) its media worker made for this call, and for a desktop
 * clinician the Ed25519 signature by the enrolled device key over
 * callKeySignedBytes(callId, publicKey) (shared/consult/call-key-signature.ts).
 */
export const callKeySchema = z.strictObject({
  publicKey: base64url(64),
  signature: base64url(128).optional(),
});
export type CallKey = z.infer<typeof callKeySchema>;

export const PARTICIPANT_ROLES = ['host', 'clinician', 'patient', 'guest'] as const;
export type ParticipantRole = (typeof PARTICIPANT_ROLES)[number];

export const participantSchema = z.object({
  participantId: participantIdSchema,
  role: z.enum(PARTICIPANT_ROLES),
  /** Clinician display name from the backend's directory; "Patient", "Interpreter" or "Family member" for link guests. */
  displayName: z.string().max(200),
  callKey: callKeySchema,
  /** The clinician's enrolled device public key (SPKI DER, base64url) from the backend's directory; null for link guests. */
  devicePublicKey: base64url(200).nullable(),
  /** Sender index within the call (0-255), unique per participant; part of every SFrame KID it sends. */
  index: z.number().int().min(0).max(255),
});
export type Participant = z.infer<typeof participantSchema>;

export const iceServerSchema = z.object({
  urls: z.array(z.string().max(300)).min(1).max(4),
  username: z.string().max(200).optional(),
  credential: z.string().max(200).optional(),
});
export type IceServer = z.infer<typeof iceServerSchema>;

/** HPKE-sealed SFrame base key of one sender for one recipient and one epoch. */
const sealedKeyFields = {
  epoch: z.number().int().min(0).max(0xffffff),
  /** HPKE encapsulated key. */
  enc: base64url(64),
  /** HPKE ciphertext of the sender's base key for this epoch. */
  ciphertext: base64url(200),
};

/** What a participant sends. The first message on a socket is `hello`, then `join`. */
export const clientMessageSchema = z.discriminatedUnion('type', [
  /** Link guests authenticate with their one-time token; clinicians with the Authorization header of the upgrade request (token field absent). */
  z.strictObject({ type: z.literal('hello'), callId: callIdSchema, token: inviteTokenSchema.optional() }),
  z.strictObject({ type: z.literal('join'), callKey: callKeySchema }),
  z.strictObject({ type: z.literal('key'), to: participantIdSchema, ...sealedKeyFields }),
  /** Publish own audio+video: the offer goes to the media server, the answer comes back as `published`. */
  z.strictObject({ type: z.literal('publish'), jsep: jsepSchema }),
  /** Ask for a participant's media; the media server's offer comes back as `offer`. */
  z.strictObject({ type: z.literal('subscribe'), feed: participantIdSchema }),
  /** The answer to a subscription offer. */
  z.strictObject({ type: z.literal('answer'), feed: participantIdSchema, jsep: jsepSchema }),
  /** "Codes match" for this round's code; relayed with the code so every page compares it with its own. */
  z.strictObject({ type: z.literal('code-confirmed'), round: sasRoundSchema, code: z.string().regex(/^\d{6}$/) }),
  /** Short authentication string, step 1: SHA-256 commitment to this round's fresh nonce. */
  z.strictObject({ type: z.literal('sas-commit'), round: sasRoundSchema, commitment: base64url32 }),
  /** Step 2, only once every participant's commitment for the round is held: the nonce itself. */
  z.strictObject({ type: z.literal('sas-reveal'), round: sasRoundSchema, nonce: base64url32 }),
  z.strictObject({ type: z.literal('leave') }),
  /** The host ends the call for everyone. */
  z.strictObject({ type: z.literal('end') }),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

export const SIGNALING_ERROR_CODES = [
  'INVALID_MESSAGE',
  /** Uniform refusal: no such call, not invited, link expired or already used. Discloses nothing more. */
  'NOT_ALLOWED',
  'CALL_FULL',
  'CALL_ENDED',
  /** A participant cannot do end-to-end encryption; never fall back to plain media. */
  'E2EE_REQUIRED',
  'MEDIA_UNAVAILABLE',
  'RATE_LIMITED',
] as const;
export type SignalingErrorCode = (typeof SIGNALING_ERROR_CODES)[number];

/** What the backend sends. `seq` orders the room's relayed events; direct replies carry none. */
export const serverMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('welcome'),
    seq: z.number().int().nonnegative(),
    callId: callIdSchema,
    participantId: participantIdSchema,
    /** Everyone in the call, this participant included. */
    roster: z.array(participantSchema).max(CONSULT_MAX_PARTICIPANTS),
    /** TURN with short-lived credentials issued for this call (shared-secret TURN REST scheme). */
    iceServers: z.array(iceServerSchema).max(4),
    /** Feeds already published, ready to subscribe. */
    feeds: z.array(participantIdSchema).max(CONSULT_MAX_PARTICIPANTS),
  }),
  z.strictObject({ type: z.literal('joined'), seq: z.number().int(), participant: participantSchema }),
  z.strictObject({ type: z.literal('left'), seq: z.number().int(), participantId: participantIdSchema }),
  z.strictObject({ type: z.literal('key'), seq: z.number().int(), from: participantIdSchema, ...sealedKeyFields }),
  z.strictObject({ type: z.literal('feed'), seq: z.number().int(), participantId: participantIdSchema }),
  z.strictObject({ type: z.literal('published'), jsep: jsepSchema }),
  z.strictObject({ type: z.literal('offer'), feed: participantIdSchema, jsep: jsepSchema }),
  /** A participant's "codes match", with the code and round it confirmed: a page shows it as checked only if it equals its own. */
  z.strictObject({ type: z.literal('code-confirmed'), seq: z.number().int(), participantId: participantIdSchema, round: sasRoundSchema, code: z.string().regex(/^\d{6}$/) }),
  z.strictObject({ type: z.literal('sas-commit'), seq: z.number().int(), from: participantIdSchema, round: sasRoundSchema, commitment: base64url32 }),
  z.strictObject({ type: z.literal('sas-reveal'), seq: z.number().int(), from: participantIdSchema, round: sasRoundSchema, nonce: base64url32 }),
  z.strictObject({ type: z.literal('error'), code: z.enum(SIGNALING_ERROR_CODES), message: z.string().max(300) }),
  z.strictObject({ type: z.literal('ended'), seq: z.number().int(), reason: z.enum(['host-ended', 'expired', 'removed']) }),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;

export const INVITEE_KINDS = ['patient', 'interpreter', 'family', 'clinician'] as const;
export const inviteeSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('patient') }),
  z.strictObject({ kind: z.literal('interpreter') }),
  z.strictObject({ kind: z.literal('family') }),
  z.strictObject({ kind: z.literal('clinician'), clinicianId: z.string().min(1).max(128) }),
]);
export type Invitee = z.infer<typeof inviteeSchema>;
