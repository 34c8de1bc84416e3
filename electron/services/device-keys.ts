/**
 * The two secrets of a cache profile: the 256-bit cache key and the
 * device's Ed25519 audit-signing key (which also gets the device its
 * sync-only sessions). They are kept only in the OS keychain, both wrapped by
 * the passkey's PRF-derived key where the passkey has PRF (then the keychain
 * alone neither opens the cache nor signs as the device); here they live in
 * main-process memory while the cache is open. A fresh secret is read back from the keychain before it is
 * used (a round trip, so a silently failing keychain cannot leave a cache
 * nobody can open). Never write a key to disk, a log or an error message, and
 * never create a new key for a cache that already exists.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { AppError } from '../../shared/app-error';
import type { SecretStore } from './secret-store';
import { auditReceiptAccount, forgetDeviceHead } from './rollback-guard';
import { isWrappedSecret, unwrapSecret, wrapSecret, type WrappedSecretKind } from './cache-key-wrap';

export interface DeviceKeys {
  /** Raw cache key (AEGIS-256, or SQLCipher 4 for an older cache), 32 bytes. Zeroed by `dropKeys`. */
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
  return decodeSigningKeyDer(Buffer.from(text, 'base64'));
}

function decodeSigningKeyDer(der: Buffer): KeyObject {
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    throw new AppError('CACHE_KEY_WRONG', 'The keychain entry for the device signing key is damaged.');
  }
}

/** The passkey a profile's keys are bound to: its PRF output (never stored) and credential id. */
export interface PasskeyBinding {
  prfOutput: Buffer;
  credentialId: string;
}

function locked(): AppError {
  return new AppError('LOCKED', 'The patient cache opens only with your passkey. Sign in to unlock it.');
}

/**
 * Loads the keys of an existing profile; a missing entry fails closed. Keys
 * bound to a passkey need that passkey's PRF output: without it, a wrapped
 * signing key is as closed as a wrapped cache key.
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
  if ((isWrappedSecret(cacheText) || isWrappedSecret(signingText)) && !prfOutput) throw locked();
  let signingKey: KeyObject;
  if (isWrappedSecret(signingText)) {
    const der = unwrapSecret('device-signing-key', signingText, prfOutput!);
    try {
      signingKey = decodeSigningKeyDer(der);
    } finally {
      der.fill(0);
    }
  } else {
    signingKey = decodeSigningKey(signingText);
  }
  const cacheKey = isWrappedSecret(cacheText) ? unwrapSecret('cache-key', cacheText, prfOutput!) : decodeCacheKey(cacheText);
  return { cacheKey, signingKey, publicKey: createPublicKey(signingKey) };
}

/** Whether the keychain holds this profile's cache key bound to a passkey. */
export async function cacheKeyIsWrapped(store: SecretStore, profileId: string): Promise<boolean> {
  const text = await store.get(cacheKeyAccount(profileId));
  return text !== null && isWrappedSecret(text);
}

/** Whether every key of this profile is bound to a passkey (nothing in the keychain alone opens or signs). */
export async function deviceKeysAreBound(store: SecretStore, profileId: string): Promise<boolean> {
  const cacheText = await store.get(cacheKeyAccount(profileId));
  const signingText = await store.get(signingKeyAccount(profileId));
  return cacheText !== null && signingText !== null && isWrappedSecret(cacheText) && isWrappedSecret(signingText);
}

/**
 * Replaces one keychain entry with its passkey-wrapped form, after checking
 * the wrapped form unwraps to the same bytes and the keychain gives back
 * what was written (so a failure here never leaves a key nobody can open).
 */
async function bindSecret(store: SecretStore, account: string, kind: WrappedSecretKind, secret: Buffer, binding: PasskeyBinding): Promise<void> {
  const wrapped = wrapSecret(kind, secret, binding.prfOutput, binding.credentialId);
  if (!unwrapSecret(kind, wrapped, binding.prfOutput).equals(secret)) throw new AppError('INTERNAL', 'The device keys could not be bound to the passkey.');
  await store.set(account, wrapped);
  const readBack = await store.get(account);
  if (readBack !== wrapped) throw new AppError('KEYCHAIN_UNAVAILABLE', 'The OS keychain did not keep the passkey-bound device key.');
}

function signingKeyDer(signingKey: KeyObject): Buffer {
  return signingKey.export({ format: 'der', type: 'pkcs8' });
}

/** Replaces the keychain's cache key with its passkey-wrapped form (read back before it counts). */
export async function bindCacheKeyToPasskey(store: SecretStore, profileId: string, cacheKey: Buffer, prfOutput: Buffer, credentialId: string): Promise<void> {
  await bindSecret(store, cacheKeyAccount(profileId), 'cache-key', cacheKey, { prfOutput, credentialId });
}

/**
 * Binds every key of the profile that the keychain still holds unwrapped
 * (the migration of devices enrolled before the signing key was wrapped, or
 * of a cache made before PRF), each with the same read-back check.
 */
export async function bindDeviceKeysToPasskey(store: SecretStore, profileId: string, keys: DeviceKeys, binding: PasskeyBinding): Promise<void> {
  const cacheText = await store.get(cacheKeyAccount(profileId));
  if (cacheText === null || !isWrappedSecret(cacheText)) await bindSecret(store, cacheKeyAccount(profileId), 'cache-key', keys.cacheKey, binding);
  const signingText = await store.get(signingKeyAccount(profileId));
  if (signingText === null || !isWrappedSecret(signingText)) {
    const der = signingKeyDer(keys.signingKey);
    try {
      await bindSecret(store, signingKeyAccount(profileId), 'device-signing-key', der, binding);
    } finally {
      der.fill(0);
    }
  }
}

/** New keys for a new profile, in memory only (nothing is written until storeDeviceKeys). */
export function generateDeviceKeys(): DeviceKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { cacheKey: randomBytes(32), signingKey: privateKey, publicKey };
}

/**
 * Writes a new profile's keys to the keychain, wrapped when a passkey
 * binding is given (so they are never there unwrapped), and checks they read
 * back; on failure nothing is left stored.
 */
export async function storeDeviceKeys(store: SecretStore, profileId: string, keys: DeviceKeys, binding?: PasskeyBinding): Promise<void> {
  const der = signingKeyDer(keys.signingKey);
  try {
    const cacheText = binding ? wrapSecret('cache-key', keys.cacheKey, binding.prfOutput, binding.credentialId) : keys.cacheKey.toString('base64');
    const signingText = binding ? wrapSecret('device-signing-key', der, binding.prfOutput, binding.credentialId) : der.toString('base64');
    await store.set(cacheKeyAccount(profileId), cacheText);
    await store.set(signingKeyAccount(profileId), signingText);
  } finally {
    der.fill(0);
  }
  const loaded = await loadDeviceKeys(store, profileId, binding?.prfOutput).catch(() => null);
  if (!loaded || !loaded.cacheKey.equals(keys.cacheKey) || !loaded.publicKey.equals(keys.publicKey)) {
    await deleteDeviceKeys(store, profileId).catch(() => undefined);
    throw new AppError('KEYCHAIN_UNAVAILABLE', 'The OS keychain did not keep the new cache key. Nothing was stored; retry once the keychain works.');
  }
  dropKeys(loaded);
}

/** Creates both keys for a new profile, stores them (wrapped, given a binding) and checks they read back. */
export async function createDeviceKeys(store: SecretStore, profileId: string, binding?: PasskeyBinding): Promise<DeviceKeys> {
  const keys = generateDeviceKeys();
  await storeDeviceKeys(store, profileId, keys, binding);
  return keys;
}

export async function deleteDeviceKeys(store: SecretStore, profileId: string): Promise<void> {
  await store.delete(cacheKeyAccount(profileId));
  await store.delete(signingKeyAccount(profileId));
  // The backend's audit receipt kept beside them (./rollback-guard): no PHI, but nothing of a wiped profile stays behind.
  await store.delete(auditReceiptAccount(profileId));
  await forgetDeviceHead(store, profileId);
}

/** Best effort: overwrite the raw key bytes. KeyObjects are released to the GC. */
export function dropKeys(keys: DeviceKeys): void {
  keys.cacheKey.fill(0);
}
