/**
 * Per-call keys of a consultation participant and the sealing of SFrame
 * sender keys between participants with HPKE (RFC 9180): DHKEM(X25519,
 * HKDF-SHA256), HKDF-SHA256, AES-128-GCM, in Auth mode, so a sealed key
 * opens only for its one recipient AND only if its claimed sender really
 * sealed it (a relay cannot inject a key in someone else's name). The HPKE
 * info and aad bind the call id, sender id, recipient id and epoch: a sealed
 * key moved to another call, another recipient, another sender slot or another
 * epoch does not open.
 *
 * It runs inside the media worker (renderer/consult-worker) and in Node tests.
 * It must never export a private key, log a key, or return a key that failed
 * to open: every failure is a CallKeyError and nothing is installed.
 */
import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { lengthPrefixed } from './length-prefixed';

/** WebCrypto's key type, named so that it resolves under both the DOM and the Node typings. */
type WebCryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
interface WebCryptoKeyPair {
  privateKey: WebCryptoKey;
  publicKey: WebCryptoKey;
}

/** A participant's ephemeral key pair for one call: the raw 32-byte X25519 public key and a non-extractable private key. */
export interface CallKeyPair {
  publicKey: Uint8Array;
  privateKey: WebCryptoKey;
}

export type CallKeyErrorCode = 'INVALID_PUBLIC_KEY' | 'INVALID_INPUT' | 'SEAL_FAILED' | 'OPEN_FAILED';

export class CallKeyError extends Error {
  readonly code: CallKeyErrorCode;
  constructor(code: CallKeyErrorCode, message: string) {
    super(message);
    this.name = 'CallKeyError';
    this.code = code;
  }
}

export const CALL_PUBLIC_KEY_BYTES = 32;
/** Largest base key accepted for sealing (SFrame suites use 16 or 32 bytes). */
const MAX_BASE_KEY_BYTES = 64;
const MAX_EPOCH = 0xffffff;
const SEAL_LABEL = 'clinician-desktop consult sender-key v1';

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes128Gcm() });

/** Makes a fresh key pair for one call; the private key cannot be exported by anyone, this module included. */
export async function generateCallKeyPair(): Promise<CallKeyPair> {
  const pair = (await crypto.subtle.generateKey({ name: 'X25519' }, false, ['deriveBits'])) as unknown as WebCryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return { publicKey, privateKey: pair.privateKey };
}

async function importPublicKey(raw: Uint8Array): Promise<WebCryptoKey> {
  if (!(raw instanceof Uint8Array) || raw.length !== CALL_PUBLIC_KEY_BYTES) throw new CallKeyError('INVALID_PUBLIC_KEY', 'A call public key must be 32 bytes.');
  try {
    return await suite.kem.importKey('raw', copy(raw).buffer as ArrayBuffer, true);
  } catch {
    throw new CallKeyError('INVALID_PUBLIC_KEY', 'Not a valid call public key.');
  }
}

async function keyPairOf(own: CallKeyPair): Promise<WebCryptoKeyPair> {
  return { privateKey: own.privateKey, publicKey: await importPublicKey(own.publicKey) };
}

function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

interface Binding {
  callId: string;
  from: string;
  to: string;
  epoch: number;
}

function bindingBytes({ callId, from, to, epoch }: Binding): Uint8Array {
  if (typeof callId !== 'string' || typeof from !== 'string' || typeof to !== 'string' || !callId || !from || !to) {
    throw new CallKeyError('INVALID_INPUT', 'A sealed key needs a call, a sender and a recipient.');
  }
  if (from === to) throw new CallKeyError('INVALID_INPUT', 'A sender key is never sealed to its own sender.');
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) throw new CallKeyError('INVALID_INPUT', 'Epoch out of range.');
  const epochBytes = new Uint8Array(4);
  new DataView(epochBytes.buffer).setUint32(0, epoch);
  return lengthPrefixed(SEAL_LABEL, callId, from, to, epochBytes);
}

/** Seals `baseKey` (the sender's SFrame base key for `epoch`) to one recipient, authenticated by the sender's call key. */
export async function sealSenderKey(args: {
  callId: string;
  from: string;
  to: string;
  epoch: number;
  sender: CallKeyPair;
  recipientPublicKey: Uint8Array;
  baseKey: Uint8Array;
}): Promise<{ enc: Uint8Array; ciphertext: Uint8Array }> {
  const binding = bindingBytes(args);
  if (!(args.baseKey instanceof Uint8Array) || args.baseKey.length < 16 || args.baseKey.length > MAX_BASE_KEY_BYTES) {
    throw new CallKeyError('INVALID_INPUT', 'A sender key must be 16 to 64 bytes.');
  }
  const recipientPublicKey = await importPublicKey(args.recipientPublicKey);
  const senderKey = await keyPairOf(args.sender);
  try {
    const { enc, ct } = await suite.seal({ recipientPublicKey, senderKey, info: binding }, copy(args.baseKey), binding);
    return { enc: new Uint8Array(enc), ciphertext: new Uint8Array(ct) };
  } catch {
    throw new CallKeyError('SEAL_FAILED', 'The sender key could not be sealed.');
  }
}

/**
 * Opens a sealed sender key addressed to `recipient`, sealed by the holder of
 * `senderPublicKey`, for exactly this call, sender, recipient and epoch.
 * Throws CallKeyError('OPEN_FAILED') for anything else (tampered, replayed
 * into another binding, wrong recipient, forged sender).
 */
export async function openSenderKey(args: {
  callId: string;
  from: string;
  to: string;
  epoch: number;
  recipient: CallKeyPair;
  senderPublicKey: Uint8Array;
  enc: Uint8Array;
  ciphertext: Uint8Array;
}): Promise<Uint8Array> {
  const binding = bindingBytes(args);
  const senderPublicKey = await importPublicKey(args.senderPublicKey);
  const recipientKey = await keyPairOf(args.recipient);
  if (!(args.enc instanceof Uint8Array) || args.enc.length !== CALL_PUBLIC_KEY_BYTES || !(args.ciphertext instanceof Uint8Array)) {
    throw new CallKeyError('OPEN_FAILED', 'The sealed key could not be opened.');
  }
  try {
    const plain = await suite.open({ recipientKey, senderPublicKey, enc: copy(args.enc), info: binding }, copy(args.ciphertext), binding);
    return new Uint8Array(plain);
  } catch {
    throw new CallKeyError('OPEN_FAILED', 'The sealed key could not be opened.');
  }
}
