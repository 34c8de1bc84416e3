/**
 * An SFrame key: the (KID, cipher suite) a sender's base key was derived
 * for, holding the derived AEAD key (non-extractable WebCrypto keys) and
 * salt out of reach. Callers see only .kid and .suite; the key material is
 * kept in a module-private WeakMap, so a key object cannot be forged from
 * { kid, suite } and its secrets never appear when it is logged, cloned or
 * serialised. Never export the raw key or salt from here.
 */
import { cipherSuite, type CipherSuite, type CipherSuiteId } from './cipher-suites';
import { importAeadKey, type AeadKey } from './sframe-aead';
import { ownBytes, type Bytes } from './sframe-bytes';
import { MAX_UINT64 } from './sframe-header';
import { deriveKeyMaterial } from './sframe-key-schedule';

declare const sframeKeyBrand: unique symbol;

export interface SFrameKey {
  readonly kid: bigint;
  readonly suite: CipherSuiteId;
  readonly [sframeKeyBrand]: true;
}

export interface SFrameKeyInternals {
  readonly suite: CipherSuite;
  readonly aead: AeadKey;
  readonly salt: Bytes;
}

const internals = new WeakMap<object, SFrameKeyInternals>();

/** The derived key and salt of a key this module made; undefined for anything else. */
export function sframeKeyInternals(key: unknown): SFrameKeyInternals | undefined {
  return typeof key === 'object' && key !== null ? internals.get(key) : undefined;
}

export async function deriveSFrameKey(suite: CipherSuiteId, kid: bigint, baseKey: Uint8Array): Promise<SFrameKey> {
  const cs = cipherSuite(suite);
  if (typeof kid !== 'bigint' || kid < 0n || kid > MAX_UINT64) throw new RangeError('SFrame KID out of range');
  if (!(baseKey instanceof Uint8Array)) throw new TypeError('SFrame base key must be bytes');
  const material = await deriveKeyMaterial(cs, kid, ownBytes(baseKey));
  try {
    const aead = await importAeadKey(cs, material.key);
    const key = Object.freeze({ kid, suite: cs.id }) as SFrameKey;
    internals.set(key, Object.freeze({ suite: cs, aead, salt: material.salt.slice() }));
    return key;
  } finally {
    material.secret.fill(0);
    material.key.fill(0);
    material.salt.fill(0);
  }
}
