/**
 * This machine's place in a staged rollout: a random number in [0, 100),
 * created once and kept in a small file in the app's data folder, so the
 * same machine stays in or out of a stage across restarts.
 *
 * Must never: derive the bucket from a user, a clinician, a device key or
 * anything identifying; change an existing bucket.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const BUCKET_PATTERN = /^(\d{1,2}(\.\d{1,6})?)\n?$/;

export function readOrCreateBucket(file: string): number {
  try {
    const match = BUCKET_PATTERN.exec(readFileSync(file, 'utf8'));
    if (match?.[1]) return Number(match[1]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // 32 random bits scaled to [0, 100) with six decimals, as electron-updater's own staging id does with a UUID.
  const bucket = Math.floor((randomBytes(4).readUInt32BE(0) / 2 ** 32) * 100_000_000) / 1_000_000;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${bucket.toFixed(6)}\n`, { mode: 0o600 });
  return bucket;
}
