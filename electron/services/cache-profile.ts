/**
 * The cache's data folder: where the encrypted database lives and the one
 * plaintext file, profile.json, which holds only a random profile id (the
 * keychain account the keys are filed under). Never write PHI or a key here.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../shared/app-error';

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
  mkdirSync(profile.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(profile.dataDir, 0o700);
  const file = join(profile.dataDir, PROFILE_FILE);
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify({ format: 1, profileId: profile.profileId }) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}
