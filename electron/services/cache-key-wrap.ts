/**
 * Binds the cache key to a passkey: a wrapping key is derived (HKDF-SHA256)
 * from the passkey's WebAuthn PRF output and wraps the cache key with
 * AES-256-GCM; the keychain then holds only the wrapped form, so the
 * keychain alone no longer opens the cache. Never store the PRF output or
 * the derived key; a wrong output fails the GCM tag and unwraps nothing.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../shared/app-error';

const WRAP_PREFIX = 'wrapped:v1:';
const wrappedSchema = z.object({ credentialId: z.string().max(1024), iv: z.string(), ct: z.string(), tag: z.string() });

function wrappingKey(prfOutput: Buffer, credentialId: string): Buffer {
  if (prfOutput.length !== 32) throw new AppError('PASSKEY_FAILED', 'The passkey did not return a usable key.');
  return Buffer.from(hkdfSync('sha256', prfOutput, Buffer.from('clinician-desktop/cache-key-wrap/v1'), Buffer.from(credentialId), 32));
}

export function isWrappedCacheKey(stored: string): boolean {
  return stored.startsWith(WRAP_PREFIX);
}

export function wrapCacheKey(cacheKey: Buffer, prfOutput: Buffer, credentialId: string): string {
  const key = wrappingKey(prfOutput, credentialId);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(credentialId));
  const ct = Buffer.concat([cipher.update(cacheKey), cipher.final()]);
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

export function unwrapCacheKey(stored: string, prfOutput: Buffer): Buffer {
  const w = parseWrapped(stored);
  const key = wrappingKey(prfOutput, w.credentialId);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(w.iv, 'base64'));
    decipher.setAAD(Buffer.from(w.credentialId));
    decipher.setAuthTag(Buffer.from(w.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(w.ct, 'base64')), decipher.final()]);
  } catch {
    throw new AppError('PASSKEY_FAILED', 'This passkey does not unlock this computer\'s patient cache.');
  } finally {
    key.fill(0);
  }
}
