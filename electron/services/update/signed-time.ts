/**
 * The newest signing time (a verified manifest's releaseDate) this machine has
 * accepted, kept in a small file in the app's data folder beside the staging
 * bucket, so a server replaying an older signed update list is refused, also
 * after a restart.
 *
 * Must never: move the stored time backwards, or store a time from a manifest
 * that was not verified and accepted.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const STORED = /^(\d{13})\n?$/;

/** Milliseconds since the epoch of the newest accepted signing time; null when none was stored (or the file is unreadable as a time). */
export function readNewestSignedTime(file: string): number | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const match = STORED.exec(text);
  return match?.[1] ? Number(match[1]) : null;
}

/** Stores `time` if it is newer than the stored one (write to a temporary file, then rename). */
export function rememberSignedTime(file: string, time: number): void {
  const stored = readNewestSignedTime(file);
  if (stored !== null && stored >= time) return;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${String(Math.trunc(time)).padStart(13, '0')}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}
