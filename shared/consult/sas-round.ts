/**
 * One participant's commit-then-reveal round for the short authentication
 * string: on every roster change (a new round) it draws a fresh nonce and
 * publishes only its commitment; it reveals the nonce only once it holds a
 * commitment from every current participant; it accepts a reveal only when it
 * matches that participant's commitment and only after every commitment is
 * held; and it yields the code once every nonce is revealed. Any violation is
 * a SasError (the caller fails closed: no code is shown). Also the one rule
 * for a relayed "codes match": it counts only for this round and this code.
 * Never reveals its nonce early, never shows a code from an incomplete round.
 */
import { fromBase64url, toBase64url } from './base64url';
import { newSasNonce, sasCommitment, shortAuthString, SAS_NONCE_BYTES, type SasParticipant } from './short-auth-string';

export type SasErrorCode = 'REVEAL_BEFORE_COMMITMENTS' | 'REVEAL_MISMATCH' | 'COMMITMENT_CONFLICT' | 'NOT_IN_ROUND' | 'MALFORMED';

export class SasError extends Error {
  constructor(readonly code: SasErrorCode) {
    super(`security code check failed: ${code}`);
    this.name = 'SasError';
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function decode(text: string, length: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64url(text);
  } catch {
    throw new SasError('MALFORMED');
  }
  if (bytes.length !== length) throw new SasError('MALFORMED');
  return bytes;
}

export interface SasRoundOptions {
  callId: string;
  round: number;
  selfId: string;
  participants: readonly SasParticipant[];
  /** Tests only: a given nonce instead of a fresh random one. */
  nonce?: Uint8Array;
}

export class SasRound {
  readonly round: number;
  /** Own commitment (base64url), to send as `sas-commit` right away. */
  readonly commitment: string;
  private readonly commitments = new Map<string, Uint8Array>();
  private readonly nonces = new Map<string, Uint8Array>();
  private code: string | null = null;

  private constructor(
    private readonly options: SasRoundOptions,
    private readonly nonce: Uint8Array,
    ownCommitment: Uint8Array,
  ) {
    this.round = options.round;
    this.commitment = toBase64url(ownCommitment);
    this.commitments.set(options.selfId, ownCommitment);
    this.nonces.set(options.selfId, nonce);
  }

  static async start(options: SasRoundOptions): Promise<SasRound> {
    if (!options.participants.some((p) => p.participantId === options.selfId)) throw new SasError('NOT_IN_ROUND');
    const nonce = options.nonce ?? newSasNonce();
    return new SasRound(options, nonce, await sasCommitment(options.callId, options.round, options.selfId, nonce));
  }

  private member(id: string): void {
    if (id === this.options.selfId || !this.options.participants.some((p) => p.participantId === id)) throw new SasError('NOT_IN_ROUND');
  }

  /** Every current participant's commitment is held: now (and only now) may this side reveal. */
  get allCommitted(): boolean {
    return this.options.participants.every((p) => this.commitments.has(p.participantId));
  }

  /** The code once every nonce is revealed and checked; null until then. */
  get result(): string | null {
    return this.code;
  }

  /** Records a commitment; true when this one completed the set (time to send own reveal). */
  commit(from: string, commitment: string): boolean {
    this.member(from);
    const bytes = decode(commitment, 32);
    const held = this.commitments.get(from);
    if (held) {
      if (!equalBytes(held, bytes)) throw new SasError('COMMITMENT_CONFLICT');
      return false;
    }
    this.commitments.set(from, bytes);
    return this.allCommitted;
  }

  /** Own nonce (base64url) for `sas-reveal`; refused until every commitment is held. */
  reveal(): string {
    if (!this.allCommitted) throw new SasError('REVEAL_BEFORE_COMMITMENTS');
    return toBase64url(this.nonce);
  }

  /** Checks a revealed nonce against its commitment; returns the code when this was the last one. */
  async accept(from: string, nonce: string): Promise<string | null> {
    this.member(from);
    // An honest participant reveals only after every commitment (ours included) is out; before that, someone is cheating.
    if (!this.allCommitted) throw new SasError('REVEAL_BEFORE_COMMITMENTS');
    const bytes = decode(nonce, SAS_NONCE_BYTES);
    const expected = await sasCommitment(this.options.callId, this.round, from, bytes);
    if (!equalBytes(expected, this.commitments.get(from)!)) throw new SasError('REVEAL_MISMATCH');
    const held = this.nonces.get(from);
    if (held) return null;
    this.nonces.set(from, bytes);
    if (this.nonces.size < this.options.participants.length) return null;
    this.code = await shortAuthString({
      callId: this.options.callId,
      round: this.round,
      participants: this.options.participants,
      nonces: [...this.nonces.values()],
    });
    return this.code;
  }
}

/**
 * A relayed "codes match" from someone else: 'match' only for this round and
 * exactly this side's code; 'differs' when it is for this round but another
 * code (or this side has no code for the round: someone is out of step);
 * 'stale' for another round (ignored). Never turns this side to "checked".
 */
export function judgeConfirmation(local: { round: number | null; code: string | null }, remote: { round: number; code: string }): 'match' | 'differs' | 'stale' {
  if (local.round === null || remote.round !== local.round) return 'stale';
  return local.code !== null && remote.code === local.code ? 'match' : 'differs';
}
