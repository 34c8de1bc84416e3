/**
 * The short authentication string (SAS) of a call: 6 decimal digits that every
 * participant computes and that people read aloud to each other. It is the
 * SHA-256 of the call id, the roster round, every participant's
 * (participantId, sender index, role, display name, call public key) and every
 * participant's fresh random nonce of that round. The nonces are committed
 * (sasCommitment) before any is revealed (see sas-round.ts), so a relay that
 * swaps public keys must fix its substitutes and its own nonces before it sees
 * the last honest nonce: it cannot search for keys that make both sides' codes
 * match (success about 1 in 10^6 per round). Order-independent (tuples and
 * nonces are sorted) and unambiguous (length-prefixed). Never derive it from
 * anything the backend could choose after the nonces are revealed.
 */
import { lengthPrefixed } from './length-prefixed';

const SAS_LABEL = 'clinician-desktop consult short-auth-string v2';
const COMMIT_LABEL = 'clinician-desktop consult sas-commit v1';
/** Each participant's per-round nonce. */
export const SAS_NONCE_BYTES = 32;

export interface SasParticipant {
  participantId: string;
  /** Sender index (0-255). */
  index: number;
  role: string;
  displayName: string;
  /** Raw 32-byte X25519 call public key. */
  publicKey: Uint8Array;
}

export interface SasInput {
  callId: string;
  /** The roster round (the seq of the latest roster change every participant saw). */
  round: number;
  participants: readonly SasParticipant[];
  /** Every participant's revealed nonce for this round (own included). */
  nonces: readonly Uint8Array[];
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

function roundBytes(round: number): Uint8Array {
  if (!Number.isSafeInteger(round) || round < 0) throw new RangeError('round must be a non-negative integer');
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(round));
  return out;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

/** A fresh random nonce for one round. */
export function newSasNonce(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SAS_NONCE_BYTES));
}

/** SHA-256(label || callId || round || participantId || nonce): what `sas-commit` carries. */
export async function sasCommitment(callId: string, round: number, participantId: string, nonce: Uint8Array): Promise<Uint8Array> {
  if (nonce.length !== SAS_NONCE_BYTES) throw new RangeError('nonce must be 32 bytes');
  return sha256(lengthPrefixed(COMMIT_LABEL, callId, roundBytes(round), participantId, nonce));
}

export async function shortAuthString(input: SasInput): Promise<string> {
  const { callId, round, participants, nonces } = input;
  if (typeof callId !== 'string' || callId.length === 0) throw new RangeError('call id required');
  if (participants.length === 0) throw new RangeError('at least one participant required');
  if (nonces.length !== participants.length) throw new RangeError('one nonce per participant required');
  if (nonces.some((n) => n.length !== SAS_NONCE_BYTES)) throw new RangeError('nonces must be 32 bytes');
  const tuples = participants
    .map((p) => {
      if (!Number.isInteger(p.index) || p.index < 0 || p.index > 255) throw new RangeError('sender index out of range');
      return lengthPrefixed(p.participantId, u32(p.index), p.role, p.displayName, p.publicKey);
    })
    .sort(compareBytes);
  const sortedNonces = [...nonces].sort(compareBytes);
  const digest = await sha256(
    lengthPrefixed(SAS_LABEL, callId, roundBytes(round), u32(tuples.length), ...tuples, u32(sortedNonces.length), ...sortedNonces),
  );
  // 64 bits reduced mod 10^6: the bias is below 2^-44, far under anything a listener could notice.
  const value = new DataView(digest.buffer, digest.byteOffset).getBigUint64(0) % 1_000_000n;
  return value.toString().padStart(6, '0');
}
