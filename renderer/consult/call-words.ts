/**
 * The words the consultation screens use for what the call engine reports:
 * roles, the encryption state, why a call failed, the code read aloud. One
 * place, so the desktop panel and the patient's join page say the same
 * thing. Never includes a key, a token or anything beyond a display name.
 */
import type { ParticipantRole } from '../../shared/consult/signaling-messages';
import type { CallErrorCode, CallState } from './call-state';

export const ROLE_WORDS: Record<ParticipantRole, string> = {
  host: 'Clinician (started the call)',
  clinician: 'Clinician',
  patient: 'Patient',
  guest: 'Guest',
};

/** The short reason after "This call cannot be end-to-end encrypted: ". */
const FAILURE_REASONS: Record<CallErrorCode, string> = {
  E2EE_UNAVAILABLE: 'this browser cannot encrypt media end to end',
  E2EE_REQUIRED: 'a participant cannot encrypt media end to end',
  MEDIA_UNAVAILABLE: 'the media server is not available',
  DEVICE_UNAVAILABLE: 'the camera or microphone could not be opened',
  CONNECTION_LOST: 'the connection to the consultation service was lost',
  WORKER_FAILED: 'the encryption component stopped',
  KEY_ROTATION_FAILED: "the call's encryption could not be updated",
  KEY_MISMATCH: "the consultation service did not pass on this device's key unchanged",
  CODE_CHECK_FAILED: 'the security code could not be checked (someone may be intercepting the call)',
  CODE_DIFFERS: 'someone confirmed a different security code (someone may be listening in the middle)',
  INVALID_MESSAGE: 'the consultation service did not understand this device',
  NOT_ALLOWED: 'you cannot join this consultation',
  CALL_FULL: 'the consultation already has the most participants allowed',
  CALL_ENDED: 'the consultation has ended',
  RATE_LIMITED: 'too many attempts; wait a moment and try again',
};

export function failureReason(code: CallErrorCode | undefined): string {
  return (code && FAILURE_REASONS[code]) ?? 'the call could not be set up';
}

export type EncryptionWords = { tone: 'ok' | 'warn' | 'bad' | 'info'; text: string };

/**
 * The encryption badge: always one of these, never silent. `reachedCall`:
 * the call got as far as joining (before that, no media can have left this
 * page; after it, only encrypted media ever did). "Code checked" only after
 * this page's own user confirmed it (e2ee-verified); someone else's
 * confirmation is a separate line (codeConfirmationLines), never the badge.
 */
export function encryptionWords(state: CallState, reachedCall: boolean): EncryptionWords {
  const code = state.error?.code;
  if (state.encryption === 'unavailable' || code === 'E2EE_UNAVAILABLE' || code === 'E2EE_REQUIRED') {
    const tail = reachedCall ? 'No unencrypted media was sent.' : 'No media was sent.';
    return { tone: 'bad', text: `This call cannot be end-to-end encrypted: ${failureReason(code ?? 'E2EE_UNAVAILABLE')}. ${tail}` };
  }
  if (state.phase === 'failed') {
    return reachedCall && code !== 'MEDIA_UNAVAILABLE'
      ? { tone: 'bad', text: `The call stopped: ${failureReason(code)}. No unencrypted media was sent.` }
      : { tone: 'bad', text: `The call could not start: ${failureReason(code)}. No media was sent.` };
  }
  if (state.phase === 'ended') {
    return { tone: 'info', text: reachedCall ? 'The call has ended. Only end-to-end encrypted media was ever sent.' : 'The call has ended. No media was sent.' };
  }
  switch (state.encryption) {
    case 'e2ee-verified':
      return { tone: 'ok', text: 'End-to-end encrypted, code checked' };
    case 'e2ee-unverified':
      return { tone: 'warn', text: 'End-to-end encrypted, code not yet checked' };
    default:
      return state.phase === 'in-call'
        ? { tone: 'info', text: 'End-to-end encryption ready: waiting for someone to join' }
        : { tone: 'info', text: 'Setting up end-to-end encryption… no media is sent until it is in place' };
  }
}

export type ConfirmationLine = { participantId: string; tone: 'ok' | 'bad'; text: string };

/**
 * What the others said about the code, one line each, beside (never inside)
 * the badge: "Dr X confirmed the code 123 456" only when it is exactly this
 * page's code for this round; otherwise a warning not to continue.
 */
export function codeConfirmationLines(state: CallState): ConfirmationLine[] {
  return state.participants
    .filter((p) => !p.self && p.confirmedCode !== null)
    .map((p) =>
      state.code !== null && p.codeConfirmed && p.confirmedCode === state.code
        ? { participantId: p.participantId, tone: 'ok', text: `${p.displayName} confirmed the code ${groupedCode(p.confirmedCode!)}` }
        : { participantId: p.participantId, tone: 'bad', text: `${p.displayName} confirmed a different code (${groupedCode(p.confirmedCode!)}): do not continue` },
    );
}

/** "123456" -> "123 456" (as shown). */
export function groupedCode(code: string): string {
  return `${code.slice(0, 3)} ${code.slice(3)}`;
}

/** "123456" -> "1 2 3, 4 5 6" (as a screen reader should read it: digit by digit). */
export function spokenCode(code: string): string {
  return `${code.slice(0, 3).split('').join(' ')}, ${code.slice(3).split('').join(' ')}`;
}

/** The badge in a few words, for the chart's banner (the panel says it in full). */
export function shortEncryptionWords(words: EncryptionWords): string {
  switch (words.tone) {
    case 'ok':
      return 'Call: encrypted, code checked';
    case 'warn':
      return 'Call: encrypted, code not yet checked';
    case 'bad':
      return 'Call: not running';
    default:
      return words.text.startsWith('End-to-end encryption ready') ? 'Call: encrypted, waiting for others' : 'Call: setting up encryption';
  }
}
