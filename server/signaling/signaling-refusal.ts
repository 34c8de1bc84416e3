/**
 * The typed refusals of the signaling WebSocket: a SIGNALING_ERROR_CODES code
 * and one fixed, clinician-readable message per code. NOT_ALLOWED has ONE text
 * for every reason (no such call, not invited, link expired, used or for
 * another call), so a refusal tells a guesser nothing. Never put an id, a
 * token, a key or PHI into a message.
 */
import type { SignalingErrorCode } from '../../shared/consult/signaling-messages';

export const REFUSAL_MESSAGES: Record<SignalingErrorCode, string> = {
  INVALID_MESSAGE: 'The message was not understood and was ignored.',
  NOT_ALLOWED: 'This call cannot be joined with this invitation. Ask for a new one.',
  CALL_FULL: 'The call is full.',
  CALL_ENDED: 'The call has ended.',
  E2EE_REQUIRED: 'This call needs end-to-end encrypted media; the media was refused.',
  MEDIA_UNAVAILABLE: 'The media server is not available.',
  RATE_LIMITED: 'Too many messages; the connection was closed.',
};

export class SignalingRefusal extends Error {
  constructor(
    readonly code: SignalingErrorCode,
    message: string = REFUSAL_MESSAGES[code],
  ) {
    super(message);
    this.name = 'SignalingRefusal';
  }
}

export const refusal = (code: SignalingErrorCode, message?: string) => new SignalingRefusal(code, message);
