/**
 * What a consultation looks like to the page: the state the call engine
 * reports through onState (phase, encryption, the short code, participants
 * with their media) and the typed errors it may end in. Plain data only:
 * never a key, a token, or anything the worker holds.
 */
import { SIGNALING_ERROR_CODES, type ParticipantRole } from '../../shared/consult/signaling-messages';

export type CallPhase = 'starting' | 'connecting' | 'in-call' | 'ended' | 'failed';

/**
 * 'pending' until the keys are exchanged; 'e2ee-unverified' once media is
 * end-to-end encrypted but the code is not yet checked; 'e2ee-verified' after
 * "codes match"; 'unavailable' when this browser cannot encrypt end to end
 * (the call fails, it never falls back to plain media).
 */
export type EncryptionState = 'pending' | 'e2ee-unverified' | 'e2ee-verified' | 'unavailable';

export const CALL_ERROR_CODES = [
  /** This browser has no RTCRtpScriptTransform (page or worker): no media is sent. */
  'E2EE_UNAVAILABLE',
  /** Camera or microphone could not be opened. */
  'DEVICE_UNAVAILABLE',
  /** The signaling connection failed or closed. */
  'CONNECTION_LOST',
  /** The media worker failed (keys are gone with it): the call cannot go on. */
  'WORKER_FAILED',
  /** The worker refused a participant list (it stopped sending): the call's keys could not be renewed. */
  'KEY_ROTATION_FAILED',
  /** The server's view of this participant's call key is not the key this worker made. */
  'KEY_MISMATCH',
  /** A participant's security-code nonce did not match its commitment, or came too early: no code is shown. */
  'CODE_CHECK_FAILED',
  /** Someone confirmed a different security code for this round: treated as "codes differ". */
  'CODE_DIFFERS',
  // Signaling errors from the backend.
  ...SIGNALING_ERROR_CODES,
] as const;
export type CallErrorCode = (typeof CALL_ERROR_CODES)[number];

export interface CallError {
  code: CallErrorCode;
  /** Clinician-readable; never PHI, a key, a token or a code. */
  message: string;
}

export interface ParticipantState {
  participantId: string;
  role: ParticipantRole;
  displayName: string;
  /** This page's own participant. */
  self: boolean;
  /** A clinician whose call key carries a valid signature by the device key the backend's directory holds. */
  verifiedDevice: boolean;
  /** Remote audio+video after decryption (null for self and before the subscription). */
  stream: MediaStream | null;
  /** False when this participant's key was refused or every frame from them fails: "cannot decrypt media from X". */
  decrypting: boolean;
  /** This participant said "codes match" for exactly this page's current code and round. */
  codeConfirmed: boolean;
  /** The code this participant said matches in the current round (null: none yet); may differ from this page's code. */
  confirmedCode: string | null;
}

export interface CallState {
  phase: CallPhase;
  encryption: EncryptionState;
  /** The 6-digit short authentication string of this roster round (call id, every participant's id, index, role, name, call key and committed nonce); null until the round completes. */
  code: string | null;
  /** The round's commit-then-reveal is under way: show "Checking…", not a code. */
  codeChecking: boolean;
  participants: ParticipantState[];
  /** Own camera+microphone for the self view. */
  localStream: MediaStream | null;
  error: CallError | null;
  /** Why the call ended, when it did. */
  endedReason: 'left' | 'host-ended' | 'expired' | 'removed' | null;
  muted: boolean;
  cameraOff: boolean;
}

export function initialCallState(): CallState {
  return {
    phase: 'starting',
    encryption: 'pending',
    code: null,
    codeChecking: false,
    participants: [],
    localStream: null,
    error: null,
    endedReason: null,
    muted: false,
    cameraOff: false,
  };
}

/** Clinician-readable messages for every error code (shown as is; no PHI). */
export const CALL_ERROR_MESSAGES: Record<CallErrorCode, string> = {
  E2EE_UNAVAILABLE:
    'This browser cannot encrypt the call end to end, so the call was not started. Use a current version of Chrome, Edge or the Clinician Desktop app.',
  DEVICE_UNAVAILABLE: 'The camera or microphone could not be opened. Check that no other program is using it and that access is allowed.',
  CONNECTION_LOST: 'The connection to the consultation service was lost.',
  WORKER_FAILED: 'The encryption component of the call stopped; the call was ended.',
  KEY_ROTATION_FAILED: "The call's encryption could not be updated, so the call was ended.",
  KEY_MISMATCH: 'The consultation service did not pass on this device\'s encryption key unchanged; the call was ended.',
  CODE_CHECK_FAILED: 'The security code could not be checked: a participant\'s code data did not match what it had committed to. Someone may be intercepting the call; the call was ended.',
  CODE_DIFFERS: 'Someone in the call confirmed a different security code: someone may be listening in the middle. The call was ended; do not continue it.',
  INVALID_MESSAGE: 'The consultation service did not understand a message from this device.',
  NOT_ALLOWED: 'You cannot join this consultation. The link may have expired or already been used.',
  CALL_FULL: 'This consultation already has the most participants allowed.',
  CALL_ENDED: 'This consultation has ended.',
  E2EE_REQUIRED: 'A participant cannot encrypt the call end to end; unencrypted media is never allowed.',
  MEDIA_UNAVAILABLE: 'The media server is not available right now. Try again in a moment.',
  RATE_LIMITED: 'Too many attempts. Wait a moment and try again.',
};

export function callError(code: CallErrorCode): CallError {
  return { code, message: CALL_ERROR_MESSAGES[code] };
}
