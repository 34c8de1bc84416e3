/**
 * Signs a consultation call key with this desktop's enrolled Ed25519 device
 * key, so the other participants can check (against the device key the
 * backend's directory lists for this clinician) that the call key really is
 * this enrolled device's for this call. The private key stays in main: it is
 * used here in place and never copied, returned, logged or sent; only the
 * signature leaves. Never sign anything but callKeySignedBytes with it here.
 */
import { sign, type KeyObject } from 'node:crypto';
import { AppError } from '../../../shared/app-error';
import { fromBase64url, toBase64url } from '../../../shared/consult/base64url';
import { callKeySignedBytes } from '../../../shared/consult/call-key-signature';
import type { CallKey } from '../../../shared/consult/signaling-messages';

/** Raw X25519 public keys are this long. */
export const CALL_PUBLIC_KEY_BYTES = 32;

function invalidKey(): AppError {
  return new AppError('INVALID_INPUT', 'The call key is not valid.', [{ field: 'publicKey', message: 'The call key is not valid.' }]);
}

/** The call key to send in `join`: the media worker's public key (base64url) and the device signature over it for this call. */
export function signCallKey(callId: string, publicKey: string, deviceKey: KeyObject): CallKey {
  let raw: Uint8Array;
  try {
    raw = fromBase64url(publicKey);
  } catch {
    throw invalidKey();
  }
  if (raw.length !== CALL_PUBLIC_KEY_BYTES) throw invalidKey();
  const signature = sign(null, callKeySignedBytes(callId, raw), deviceKey);
  return { publicKey, signature: toBase64url(new Uint8Array(signature)) };
}
