/**
 * The release side of update signing: make an Ed25519 key pair, and sign an
 * electron-updater manifest (latest*.yml) with a detached signature over its
 * exact bytes, written beside it as `<manifest>.sig` (base64).
 *
 * Must never: write a private key into the repository, print a private key,
 * or sign without checking the signature against the public key it implies.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

export interface UpdateKeyPair {
  /** PKCS#8 PEM: keep it outside the repository (CLINICIAN_UPDATE_SIGNING_KEY_FILE). */
  privateKeyPem: string;
  /** base64 of the raw 32-byte public key: the build's CLINICIAN_UPDATE_PUBLIC_KEY. */
  publicKeyBase64: string;
}

export function publicKeyBase64Of(key: KeyObject): string {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new Error('not an Ed25519 key');
  return Buffer.from(jwk.x, 'base64url').toString('base64');
}

export function generateUpdateKeyPair(): UpdateKeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicKeyBase64: publicKeyBase64Of(privateKey) };
}

/** The detached signature (base64) over exactly these bytes. */
export function signManifest(manifestBytes: Uint8Array, privateKeyPem: string): string {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the signing key is not an Ed25519 key');
  const signature = sign(null, manifestBytes, key);
  if (!verify(null, manifestBytes, createPublicKey(key), signature)) throw new Error('the signature does not verify');
  return signature.toString('base64');
}
