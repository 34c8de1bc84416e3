/**
 * The AEAD of each SFrame cipher suite over WebCrypto (RFC 9605 section 4.5).
 * Suites 4-5: AES-GCM with a 128-bit tag; WebCrypto checks the tag in
 * constant time. Suites 1-3 (section 4.5.1): AES-128-CTR with the counter
 * block nonce || 0x00000000, then a truncated HMAC-SHA-256 tag over
 *   len(aad) (8) || len(ct) (8) || Nt (8) || nonce || aad || ct.
 * WebCrypto's HMAC verify only takes a full-length MAC, so a truncated tag is
 * compared by MACing both under a random per-key comparison key and letting
 * crypto.subtle.verify compare those: never compare tags by hand, never
 * decrypt before the tag is checked, never return plaintext on failure.
 */
import { CTR_HMAC_ENC_KEY_LENGTH, type CipherSuite } from './cipher-suites';
import { concatBytes, uintBytes, type Bytes } from './sframe-bytes';
import { SFrameError } from './sframe-error';

/** WebCrypto's key type, named the same way under the DOM and the Node typings. */
type WebCryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

export interface AeadKey {
  readonly suite: CipherSuite;
  readonly encKey: WebCryptoKey;
  /** Suites 1-3 only: the HMAC authentication key. */
  readonly authKey?: WebCryptoKey;
  /** Suites 1-3 only: a random HMAC key used to compare tags in constant time. */
  readonly compareKey?: WebCryptoKey;
}

/** Imports a raw AEAD key (Nk bytes) as non-extractable WebCrypto keys. */
export async function importAeadKey(suite: CipherSuite, raw: Bytes): Promise<AeadKey> {
  if (raw.length !== suite.nk) throw new RangeError('SFrame key has the wrong length');
  if (suite.kind === 'aes-gcm') {
    const encKey = await crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
    return { suite, encKey };
  }
  const encKey = await crypto.subtle.importKey('raw', raw.subarray(0, CTR_HMAC_ENC_KEY_LENGTH), { name: 'AES-CTR' }, false, ['encrypt', 'decrypt']);
  const authKey = await crypto.subtle.importKey('raw', raw.subarray(CTR_HMAC_ENC_KEY_LENGTH), { name: 'HMAC', hash: suite.hash }, false, ['sign']);
  const compareKey = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  return { suite, encKey, authKey, compareKey };
}

function ctrParams(nonce: Bytes): { name: 'AES-CTR'; counter: Bytes; length: number } {
  return { name: 'AES-CTR', counter: concatBytes(nonce, new Uint8Array(4)), length: 32 };
}

async function ctrHmacTag(key: AeadKey, nonce: Bytes, aad: Bytes, ct: Bytes): Promise<Bytes> {
  const nt = key.suite.nt;
  const authData = concatBytes(uintBytes(BigInt(aad.length), 8), uintBytes(BigInt(ct.length), 8), uintBytes(BigInt(nt), 8), nonce, aad, ct);
  const mac = await crypto.subtle.sign('HMAC', key.authKey!, authData);
  return new Uint8Array(mac, 0, nt);
}

/** ct || tag. */
export async function aeadSeal(key: AeadKey, nonce: Bytes, aad: Bytes, plaintext: Bytes): Promise<Bytes> {
  if (key.suite.kind === 'aes-gcm') {
    return new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 }, key.encKey, plaintext));
  }
  const ct = new Uint8Array(await crypto.subtle.encrypt(ctrParams(nonce), key.encKey, plaintext));
  return concatBytes(ct, await ctrHmacTag(key, nonce, aad, ct));
}

/** The plaintext of ct || tag; throws AUTH_FAILED (and nothing else) when it is not authentic. */
export async function aeadOpen(key: AeadKey, nonce: Bytes, aad: Bytes, sealed: Bytes): Promise<Bytes> {
  const nt = key.suite.nt;
  if (sealed.length < nt) throw new SFrameError('AUTH_FAILED');
  if (key.suite.kind === 'aes-gcm') {
    try {
      return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 }, key.encKey, sealed));
    } catch {
      throw new SFrameError('AUTH_FAILED');
    }
  }
  const ct = sealed.subarray(0, sealed.length - nt);
  const tag = sealed.subarray(sealed.length - nt);
  const expected = await ctrHmacTag(key, nonce, aad, ct);
  const expectedMac = await crypto.subtle.sign('HMAC', key.compareKey!, expected);
  const authentic = await crypto.subtle.verify('HMAC', key.compareKey!, expectedMac, tag);
  if (!authentic) throw new SFrameError('AUTH_FAILED');
  return new Uint8Array(await crypto.subtle.decrypt(ctrParams(nonce), key.encKey, ct));
}
