/**
 * The one error type of the SFrame module. Each code names what went wrong
 * with a frame or a key; the messages are fixed sentences, so they can be
 * logged and shown. Never put key material, plaintext, ciphertext, a KID or
 * a counter value into a message: a frame's bytes are a patient's picture
 * and voice.
 */
export type SFrameErrorCode = 'MALFORMED_HEADER' | 'UNKNOWN_KEY' | 'AUTH_FAILED' | 'COUNTER_EXHAUSTED';

const MESSAGES: Record<SFrameErrorCode, string> = {
  MALFORMED_HEADER: 'The frame is not a valid SFrame frame.',
  UNKNOWN_KEY: 'No key is known for this frame.',
  AUTH_FAILED: 'The frame failed authentication.',
  COUNTER_EXHAUSTED: 'The frame counter is out of range for this key.',
};

export class SFrameError extends Error {
  readonly code: SFrameErrorCode;

  constructor(code: SFrameErrorCode) {
    super(MESSAGES[code]);
    this.name = 'SFrameError';
    this.code = code;
  }
}
