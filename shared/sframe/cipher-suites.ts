/**
 * The five cipher suites of RFC 9605 section 4.5 (IANA "SFrame Cipher
 * Suites"): their sizes and the hash of their key schedule. Suites 1-3 are
 * AES-128-CTR with a truncated HMAC-SHA-256 tag (section 4.5.1); suites 4-5
 * are AES-GCM. Consultation media uses suite 4. An id outside 1-5 is refused,
 * never mapped to a default.
 */
export type CipherSuiteId = 1 | 2 | 3 | 4 | 5;

export interface CipherSuite {
  readonly id: CipherSuiteId;
  readonly name: string;
  readonly kind: 'aes-ctr-hmac' | 'aes-gcm';
  /** Hash of the key schedule (and of the HMAC for suites 1-3). */
  readonly hash: 'SHA-256' | 'SHA-512';
  /** Key size in bytes (for suites 1-3: 16 encryption + 32 authentication). */
  readonly nk: number;
  /** Nonce size in bytes. */
  readonly nn: number;
  /** Tag size in bytes. */
  readonly nt: number;
  /** Hash output size in bytes. */
  readonly nh: number;
}

export const CIPHER_SUITES: Readonly<Record<CipherSuiteId, CipherSuite>> = Object.freeze({
  1: { id: 1, name: 'AES_128_CTR_HMAC_SHA256_80', kind: 'aes-ctr-hmac', hash: 'SHA-256', nk: 48, nn: 12, nt: 10, nh: 32 },
  2: { id: 2, name: 'AES_128_CTR_HMAC_SHA256_64', kind: 'aes-ctr-hmac', hash: 'SHA-256', nk: 48, nn: 12, nt: 8, nh: 32 },
  3: { id: 3, name: 'AES_128_CTR_HMAC_SHA256_32', kind: 'aes-ctr-hmac', hash: 'SHA-256', nk: 48, nn: 12, nt: 4, nh: 32 },
  4: { id: 4, name: 'AES_128_GCM_SHA256_128', kind: 'aes-gcm', hash: 'SHA-256', nk: 16, nn: 12, nt: 16, nh: 32 },
  5: { id: 5, name: 'AES_256_GCM_SHA512_128', kind: 'aes-gcm', hash: 'SHA-512', nk: 32, nn: 12, nt: 16, nh: 64 },
} as const);

/** Length of the AES-128 encryption half of a suite 1-3 key (RFC 9605 section 4.5.1). */
export const CTR_HMAC_ENC_KEY_LENGTH = 16;

export function cipherSuite(id: unknown): CipherSuite {
  if (id !== 1 && id !== 2 && id !== 3 && id !== 4 && id !== 5) throw new RangeError('unknown SFrame cipher suite');
  return CIPHER_SUITES[id];
}
