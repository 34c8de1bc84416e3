/**
 * The device signature over a desktop participant's call key: main signs
 * callKeySignedBytes(callId, publicKey) with the clinician's enrolled Ed25519
 * device key, and every other participant checks it against the device public
 * key the backend's directory lists for that clinician. It ties "this call key"
 * to "this enrolled device" for this one call (the call id is inside, so a
 * signature cannot be replayed into another call). Never sign anything else
 * with these bytes' label; verification never throws, it answers false.
 */
import { lengthPrefixed } from './length-prefixed';

const SIGNATURE_LABEL = 'clinician-desktop consult call-key v1';

export function callKeySignedBytes(callId: string, publicKey: Uint8Array): Uint8Array<ArrayBuffer> {
  return lengthPrefixed(SIGNATURE_LABEL, callId, publicKey);
}

/** True only if `signature` is a valid Ed25519 signature by the SPKI DER device key over this call id and call public key. */
export async function verifyCallKeySignature(
  devicePublicKeySpki: Uint8Array,
  callId: string,
  publicKey: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  try {
    if (signature.length !== 64 || publicKey.length !== 32 || !callId) return false;
    const key = await crypto.subtle.importKey('spki', new Uint8Array(devicePublicKeySpki), { name: 'Ed25519' }, false, ['verify']);
    return await crypto.subtle.verify({ name: 'Ed25519' }, key, new Uint8Array(signature), callKeySignedBytes(callId, publicKey));
  } catch {
    return false;
  }
}
