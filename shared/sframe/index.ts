/**
 * SFrame (RFC 9605): end-to-end encryption of media frames with WebCrypto
 * only, for the consultation media worker, the patient's browser and Node.
 * This is the module's public surface; everything else in shared/sframe is
 * internal. Never add an export that reveals key material.
 */
export { SFrameError, type SFrameErrorCode } from './sframe-error';
export { encodeSFrameHeader, parseSFrameHeader, type SFrameHeader } from './sframe-header';
export { CIPHER_SUITES, type CipherSuiteId } from './cipher-suites';
export { deriveSFrameKey, type SFrameKey } from './sframe-key';
export { sframeEncrypt, sframeDecrypt } from './sframe-codec';
