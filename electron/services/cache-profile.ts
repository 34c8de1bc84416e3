/**
 * The cache's data folder: where the encrypted database lives and the one
 * plaintext file, profile.json, which holds only a random profile id (the
 * keychain account the keys are filed under). Never write PHI or a key here,
 * and never leave a half-written profile: it goes to a 0600 temp file,
 * fsynced, then renamed; a failed write (a full disk) removes the temp file.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, chmodSync, openSync, writeSync, fsyncSync, closeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../shared/app-error';
import { diskFullError, isDiskFullError } from './cache-disk-full';

const profileSchema = z.object({ format: z.literal(1), profileId: z.uuid() });

export const PROFILE_FILE = 'profile.json';
export const DATABASE_FILE = 'cache.db';

export interface CacheProfile {
  dataDir: string;
  profileId: string;
  databaseFile: string;
}

function profileFor(dataDir: string, profileId: string): CacheProfile {
  return { dataDir, profileId, databaseFile: join(dataDir, DATABASE_FILE) };
}

/** The existing profile in `dataDir`, or null when the folder holds no cache yet. */
export function readProfile(dataDir: string): CacheProfile | null {
  const file = join(dataDir, PROFILE_FILE);
  if (!existsSync(file)) {
    if (existsSync(join(dataDir, DATABASE_FILE))) {
      throw new AppError('CACHE_CORRUPT', 'The cache folder has a database but no profile file. The cache cannot be opened.');
    }
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new AppError('CACHE_CORRUPT', 'The cache profile file is damaged. The cache cannot be opened.');
  }
  const result = profileSchema.safeParse(parsed);
  if (!result.success) {
    throw new AppError('CACHE_CORRUPT', 'The cache profile file is damaged. The cache cannot be opened.');
  }
  return profileFor(dataDir, result.data.profileId);
}

/** A new profile id; nothing is written until `writeProfile`. */
export function newProfile(dataDir: string): CacheProfile {
  return profileFor(dataDir, randomUUID());
}

export function writeProfile(profile: CacheProfile): void {
  const file = join(profile.dataDir, PROFILE_FILE);
  const tmp = `${file}.tmp`;
  try {
    mkdirSync(profile.dataDir, { recursive: true, mode: 0o700 });
    if (process.platform !== 'win32') chmodSync(profile.dataDir, 0o700);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify({ format: 1, profileId: profile.profileId }) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    if (isDiskFullError(err)) throw diskFullError();
    throw new AppError('CACHE_NOT_OPEN', 'The cache profile file could not be written.');
  }
}

/** A profile file an older version left readable by others is made 0600 (POSIX). */
export function tightenProfileMode(dataDir: string): void {
  if (process.platform === 'win32') return;
  try {
    chmodSync(join(dataDir, PROFILE_FILE), 0o600);
  } catch {
    // no profile yet
  }
}

/** Removes the profile file (a first run that failed after writing it). */
export function removeProfile(dataDir: string): void {
  rmSync(join(dataDir, PROFILE_FILE), { force: true });
  rmSync(join(dataDir, `${PROFILE_FILE}.tmp`), { force: true });
}
