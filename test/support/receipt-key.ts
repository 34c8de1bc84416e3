/**
 * Receipt-signing keys for tests: the backend takes its key from
 * configuration only, so test support makes one (a fresh Ed25519 key in the
 * test's scratch folder, mode 0600) and hands the same file to every backend
 * it starts. Never a key checked into the repository.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { generateReceiptKeyFile, loadReceiptKey as loadConfiguredKey, type ReceiptKey } from '../../server/receipt-key';

/** The key file in `dir` (made on first use). */
export function receiptKeyFile(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'receipt-signing-key.pem');
  if (!existsSync(file)) {
    try {
      generateReceiptKeyFile(file);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    }
  }
  return file;
}

/** The key in `dir` (made on first use), for an in-process backend (buildApp's receiptKey). */
export function loadReceiptKey(dir: string): ReceiptKey {
  return loadConfiguredKey(receiptKeyFile(dir));
}
