/**
 * SFrame encryption and decryption of one frame (RFC 9605 section 4.4.3-4.4.4):
 *   header = encode(KID, CTR); nonce = salt XOR CTR (left-padded to Nn);
 *   aad = header || metadata; frame = header || AEAD.Encrypt(key, nonce, aad, plaintext).
 * The caller owns the counter and must never repeat one under a key; a
 * counter of 2^64 or more is refused (COUNTER_EXHAUSTED). Decryption looks
 * the key up by the header's KID and returns the plaintext only when the
 * frame is authentic; every failure is an SFrameError whose message carries
 * no key, no plaintext and no frame bytes.
 */
import { concatBytes, ownBytes, type Bytes } from './sframe-bytes';
import { aeadOpen, aeadSeal } from './sframe-aead';
import { SFrameError } from './sframe-error';
import { checkCounter, encodeSFrameHeader, parseSFrameHeader } from './sframe-header';
import { sframeKeyInternals, type SFrameKey } from './sframe-key';

/** salt XOR CTR, with CTR as a 64-bit big-endian integer at the nonce's end. */
export function sframeNonce(salt: Uint8Array, ctr: bigint): Bytes {
  checkCounter(ctr);
  const nonce = new Uint8Array(salt);
  const counter = new Uint8Array(8);
  new DataView(counter.buffer).setBigUint64(0, ctr);
  const offset = nonce.length - 8;
  for (let i = 0; i < 8; i += 1) nonce[offset + i]! ^= counter[i]!;
  return nonce;
}

/** header || metadata; media frames have no metadata, so the header alone is the AAD (no copy per frame). */
function aadOf(header: Bytes, metadata: Uint8Array): Bytes {
  return metadata.length === 0 ? header : concatBytes(header, metadata);
}

export async function sframeEncrypt(key: SFrameKey, ctr: bigint, metadata: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
  const inner = sframeKeyInternals(key);
  if (inner === undefined) throw new SFrameError('UNKNOWN_KEY');
  checkCounter(ctr);
  const header = encodeSFrameHeader(key.kid, ctr);
  const nonce = sframeNonce(inner.salt, ctr);
  const sealed = await aeadSeal(inner.aead, nonce, aadOf(header, metadata), ownBytes(plaintext));
  return concatBytes(header, sealed);
}

export async function sframeDecrypt(
  keyFor: (kid: bigint) => SFrameKey | undefined,
  metadata: Uint8Array,
  frame: Uint8Array,
): Promise<{ kid: bigint; ctr: bigint; plaintext: Uint8Array }> {
  const { kid, ctr, headerLength } = parseSFrameHeader(frame);
  const key = keyFor(kid);
  const inner = sframeKeyInternals(key);
  if (key === undefined || inner === undefined || key.kid !== kid) throw new SFrameError('UNKNOWN_KEY');
  if (frame.length < headerLength + inner.suite.nt) throw new SFrameError('MALFORMED_HEADER');
  const bytes = ownBytes(frame);
  const header = bytes.subarray(0, headerLength);
  const nonce = sframeNonce(inner.salt, ctr);
  const plaintext = await aeadOpen(inner.aead, nonce, aadOf(header, metadata), bytes.subarray(headerLength));
  return { kid, ctr, plaintext };
}
