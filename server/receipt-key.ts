/**
 * The backend's receipt-signing key (Ed25519), from configuration: a PEM
 * file named by `--receipt-key-file` or CLINICIAN_RECEIPT_KEY_FILE, the same
 * file (or a copy of it) given to every backend instance, so a device's
 * receipts verify whichever instance answered. There is no default key and
 * nothing is created at start: without a key the backend refuses to start
 * with a message saying how to make one (`receipt-key-generate`). Never log,
 * print or send the private half; never create a key in a data folder.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface ReceiptKey {
  privateKey: KeyObject;
  /** The public half (SPKI DER, base64url), given to devices with every receipt. */
  publicKey: string;
}

/** Where the key comes from, when neither the flag nor the environment names it. */
export const RECEIPT_KEY_ENV = 'CLINICIAN_RECEIPT_KEY_FILE';

/** A refusal to start: a clear message naming the setting, never the key. */
export class ReceiptKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReceiptKeyError';
  }
}

const HOW_TO = `make one with \`npm run server -- receipt-key-generate <file>\` and give the same file to every backend instance (--receipt-key-file or ${RECEIPT_KEY_ENV})`;

/** Parses a PKCS#8 PEM Ed25519 private key; anything else is refused. */
export function parseReceiptKey(pem: string | Buffer): ReceiptKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new ReceiptKeyError(`the receipt-signing key is not a readable PEM private key: ${HOW_TO}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new ReceiptKeyError(`the receipt-signing key must be an Ed25519 key: ${HOW_TO}`);
  return { privateKey, publicKey: createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).toString('base64url') };
}

/**
 * The configured key: the flag's file, else the environment's. Refuses a
 * missing setting, an unreadable file, and a file other users may read or
 * write (the key signs what the backend attests to).
 */
export function loadReceiptKey(file: string | undefined, env: NodeJS.ProcessEnv = process.env): ReceiptKey {
  const path = file ?? env[RECEIPT_KEY_ENV];
  if (!path) throw new ReceiptKeyError(`no receipt-signing key is configured: ${HOW_TO}`);
  let mode: number;
  let pem: Buffer;
  try {
    mode = statSync(path).mode;
    pem = readFileSync(path);
  } catch {
    throw new ReceiptKeyError(`the receipt-signing key file cannot be read: ${HOW_TO}`);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new ReceiptKeyError('the receipt-signing key file may be read or written by other users: make it readable by the backend\'s user only (chmod 600)');
  }
  return parseReceiptKey(pem);
}

/** Writes a new key to `file` (mode 0600, never over an existing file); for IT's set-up and for tests. */
export function generateReceiptKeyFile(file: string): ReceiptKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' });
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
  return parseReceiptKey(pem);
}
