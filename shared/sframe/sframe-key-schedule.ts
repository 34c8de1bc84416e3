/**
 * The SFrame key schedule of RFC 9605 section 4.4.2, step by step so each
 * intermediate value can be checked against the official vectors:
 *   sframe_secret = HKDF-Extract("", base_key)
 *   sframe_key    = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret key "  + KID(8) + suite(2), Nk)
 *   sframe_salt   = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret salt " + KID(8) + suite(2), Nn)
 * HKDF (RFC 5869) is built from WebCrypto HMAC, because WebCrypto's HKDF
 * only does Extract and Expand together. The raw bytes returned here are
 * for deriveSFrameKey (which imports them as non-extractable keys and wipes
 * them) and the vector tests; never log, persist or send them.
 */
import { type CipherSuite } from './cipher-suites';
import { concatBytes, uintBytes, type Bytes } from './sframe-bytes';

const KEY_LABEL_PREFIX = new TextEncoder().encode('SFrame 1.0 Secret key ');
const SALT_LABEL_PREFIX = new TextEncoder().encode('SFrame 1.0 Secret salt ');

async function hmac(hash: CipherSuite['hash'], key: Bytes, data: Bytes): Promise<Bytes> {
  const hmacKey = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', hmacKey, data));
}

/** HKDF-Extract with an empty salt, which RFC 5869 defines as HashLen zero bytes. */
export function hkdfExtract(suite: CipherSuite, ikm: Bytes): Promise<Bytes> {
  return hmac(suite.hash, new Uint8Array(suite.nh), ikm);
}

export async function hkdfExpand(suite: CipherSuite, prk: Bytes, info: Bytes, length: number): Promise<Bytes> {
  if (length > 255 * suite.nh) throw new RangeError('HKDF-Expand length too large');
  const prkKey = await crypto.subtle.importKey('raw', prk, { name: 'HMAC', hash: suite.hash }, false, ['sign']);
  const out = new Uint8Array(length);
  let previous: Bytes = new Uint8Array(0);
  for (let block = 1, offset = 0; offset < length; block += 1) {
    previous = new Uint8Array(await crypto.subtle.sign('HMAC', prkKey, concatBytes(previous, info, Uint8Array.of(block))));
    out.set(previous.subarray(0, length - offset), offset);
    offset += previous.length;
  }
  previous.fill(0);
  return out;
}

export function sframeKeyLabel(suite: CipherSuite, kid: bigint): Bytes {
  return concatBytes(KEY_LABEL_PREFIX, uintBytes(kid, 8), uintBytes(BigInt(suite.id), 2));
}

export function sframeSaltLabel(suite: CipherSuite, kid: bigint): Bytes {
  return concatBytes(SALT_LABEL_PREFIX, uintBytes(kid, 8), uintBytes(BigInt(suite.id), 2));
}

export interface SFrameKeyMaterial {
  secret: Bytes;
  key: Bytes;
  salt: Bytes;
}

export async function deriveKeyMaterial(suite: CipherSuite, kid: bigint, baseKey: Bytes): Promise<SFrameKeyMaterial> {
  const secret = await hkdfExtract(suite, baseKey);
  const key = await hkdfExpand(suite, secret, sframeKeyLabel(suite, kid), suite.nk);
  const salt = await hkdfExpand(suite, secret, sframeSaltLabel(suite, kid), suite.nn);
  return { secret, key, salt };
}
