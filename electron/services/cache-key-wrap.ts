/**
 * Binds the device's secrets to a passkey: a wrapping key is derived
 * (HKDF-SHA256) from the passkey's WebAuthn PRF output and wraps each secret
 * with AES-256-GCM; the keychain then holds only the wrapped forms, so the
 * keychain alone no longer opens the cache nor signs as the device. Each kind
 * of secret has its own HKDF info (and AAD), so one wrapped blob can never be
 * swapped in for the other. Never store the PRF output or a derived key; a
 * wrong output fails the GCM tag and unwraps nothing.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../shared/app-error';

const WRAP_PREFIX = 'wrapped:v1:';
const wrappedSchema = z.object({ credentialId: z.string().max(1024), iv: z.string(), ct: z.string(), tag: z.string() });

/** The secrets a passkey protects; each one names its own HKDF info. */
export type WrappedSecretKind = 'cache-key' | 'device-signing-key';
const HKDF_INFO: Record<WrappedSecretKind, string> = {
  'cache-key': 'clinician-desktop/cache-key-wrap/v1',
  'device-signing-key': 'clinician-desktop/device-signing-key-wrap/v1',
};

function wrappingKey(kind: WrappedSecretKind, prfOutput: Buffer, credentialId: string): Buffer {
  if (prfOutput.length !== 32) throw new AppError('PASSKEY_FAILED', 'The passkey did not return a usable key.');
  return Buffer.from(hkdfSync('sha256', prfOutput, Buffer.from(HKDF_INFO[kind]), Buffer.from(credentialId), 32));
}

function aad(kind: WrappedSecretKind, credentialId: string): Buffer {
  // The cache key's AAD stays the credential id alone, so caches wrapped before the signing key was still open.
  return Buffer.from(kind === 'cache-key' ? credentialId : `${kind}\n${credentialId}`);
}

export function isWrappedSecret(stored: string): boolean {
  return stored.startsWith(WRAP_PREFIX);
}

export function wrapSecret(kind: WrappedSecretKind, secret: Buffer, prfOutput: Buffer, credentialId: string): string {
  const key = wrappingKey(kind, prfOutput, credentialId);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(kind, credentialId));
  const ct = Buffer.concat([cipher.update(secret), cipher.final()]);
  key.fill(0);
  return WRAP_PREFIX + JSON.stringify({ credentialId, iv: iv.toString('base64'), ct: ct.toString('base64'), tag: cipher.getAuthTag().toString('base64') });
}

function parseWrapped(stored: string) {
  try {
    return wrappedSchema.parse(JSON.parse(stored.slice(WRAP_PREFIX.length)));
  } catch {
    throw new AppError('CACHE_KEY_WRONG', 'The keychain entry for this cache is damaged. The cache cannot be opened.');
  }
}

export function unwrapSecret(kind: WrappedSecretKind, stored: string, prfOutput: Buffer): Buffer {
  const w = parseWrapped(stored);
  const key = wrappingKey(kind, prfOutput, w.credentialId);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(w.iv, 'base64'));
    decipher.setAAD(aad(kind, w.credentialId));
    decipher.setAuthTag(Buffer.from(w.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(w.ct, 'base64')), decipher.final()]);
  } catch {
    throw new AppError('PASSKEY_FAILED', 'This passkey does not unlock this computer\'s patient cache.');
  } finally {
    key.fill(0);
  }
}

export const isWrappedCacheKey = isWrappedSecret;
export function wrapCacheKey(cacheKey: Buffer, prfOutput: Buffer, credentialId: string): string {
  return wrapSecret('cache-key', cacheKey, prfOutput, credentialId);
}
export function unwrapCacheKey(stored: string, prfOutput: Buffer): Buffer {
  return unwrapSecret('cache-key', stored, prfOutput);
}
