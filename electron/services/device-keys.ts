/**
 * The two secrets of a cache profile: the 256-bit SQLCipher key and the
 * device's Ed25519 audit-signing key. They are created on first run and kept
 * only in the OS keychain; here they live in main-process memory while the
 * cache is open. A fresh secret is read back from the keychain before it is
 * used (a round trip, so a silently failing keychain cannot leave a cache
 * nobody can open). Never write a key to disk, a log or an error message, and
 * never create a new key for a cache that already exists.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { AppError } from '../../shared/app-error';
import type { SecretStore } from './secret-store';
import { isWrappedCacheKey, unwrapCacheKey, wrapCacheKey } from './cache-key-wrap';

export interface DeviceKeys {
  /** Raw SQLCipher key, 32 bytes. Zeroed by `dropKeys`. */
  cacheKey: Buffer;
  signingKey: KeyObject;
  publicKey: KeyObject;
}

export function cacheKeyAccount(profileId: string): string {
  return `${profileId}/cache-key`;
}

export function signingKeyAccount(profileId: string): string {
  return `${profileId}/device-signing-key`;
}

function decodeCacheKey(text: string): Buffer {
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32) {
    throw new AppError('CACHE_KEY_WRONG', 'The keychain entry for this cache is damaged. The cache cannot be opened.');
  }
  return key;
}

function decodeSigningKey(text: string): KeyObject {
  try {
    return createPrivateKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'pkcs8' });
  } catch {
    throw new AppError('CACHE_KEY_WRONG', 'The keychain entry for the device signing key is damaged.');
  }
}

/**
 * Loads the keys of an existing profile; a missing entry fails closed. A
 * cache key bound to a passkey needs that passkey's PRF output.
 */
export async function loadDeviceKeys(store: SecretStore, profileId: string, prfOutput?: Buffer): Promise<DeviceKeys> {
  const cacheText = await store.get(cacheKeyAccount(profileId));
  const signingText = await store.get(signingKeyAccount(profileId));
  if (cacheText === null || signingText === null) {
    throw new AppError(
      'CACHE_KEY_MISSING',
      'This computer\'s keychain has no key for the patient cache (it may be locked, or the cache was copied from another computer). The cache stays closed.',
    );
  }
  const signingKey = decodeSigningKey(signingText);
  let cacheKey: Buffer;
  if (isWrappedCacheKey(cacheText)) {
    if (!prfOutput) throw new AppError('LOCKED', 'The patient cache opens only with your passkey. Sign in to unlock it.');
    cacheKey = unwrapCacheKey(cacheText, prfOutput);
  } else {
    cacheKey = decodeCacheKey(cacheText);
  }
  return { cacheKey, signingKey, publicKey: createPublicKey(signingKey) };
}

/** Whether the keychain holds this profile's cache key bound to a passkey. */
export async function cacheKeyIsWrapped(store: SecretStore, profileId: string): Promise<boolean> {
  const text = await store.get(cacheKeyAccount(profileId));
  return text !== null && isWrappedCacheKey(text);
}

/**
 * Replaces the keychain's cache key with its passkey-wrapped form, after
 * checking the wrapped form unwraps to the same key (so a failure here never
 * leaves a cache nobody can open).
 */
export async function bindCacheKeyToPasskey(store: SecretStore, profileId: string, cacheKey: Buffer, prfOutput: Buffer, credentialId: string): Promise<void> {
  const wrapped = wrapCacheKey(cacheKey, prfOutput, credentialId);
  if (!unwrapCacheKey(wrapped, prfOutput).equals(cacheKey)) throw new AppError('INTERNAL', 'The cache key could not be bound to the passkey.');
  await store.set(cacheKeyAccount(profileId), wrapped);
  const readBack = await store.get(cacheKeyAccount(profileId));
  if (readBack !== wrapped) throw new AppError('KEYCHAIN_UNAVAILABLE', 'The OS keychain did not keep the passkey-bound cache key.');
}

/** Creates both keys for a new profile, stores them and checks they read back. */
export async function createDeviceKeys(store: SecretStore, profileId: string): Promise<DeviceKeys> {
  const cacheKey = randomBytes(32);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const cacheText = cacheKey.toString('base64');
  const signingText = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
  await store.set(cacheKeyAccount(profileId), cacheText);
  await store.set(signingKeyAccount(profileId), signingText);
  const loaded = await loadDeviceKeys(store, profileId).catch(() => null);
  if (!loaded || !loaded.cacheKey.equals(cacheKey)) {
    await deleteDeviceKeys(store, profileId).catch(() => undefined);
    throw new AppError('KEYCHAIN_UNAVAILABLE', 'The OS keychain did not keep the new cache key. Nothing was stored; retry once the keychain works.');
  }
  return { cacheKey, signingKey: privateKey, publicKey };
}

export async function deleteDeviceKeys(store: SecretStore, profileId: string): Promise<void> {
  await store.delete(cacheKeyAccount(profileId));
  await store.delete(signingKeyAccount(profileId));
}

/** Best effort: overwrite the raw key bytes. KeyObjects are released to the GC. */
export function dropKeys(keys: DeviceKeys): void {
  keys.cacheKey.fill(0);
}
