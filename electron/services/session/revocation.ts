/**
 * Revocation and wipe. When the backend says this device or its clinician is
 * revoked, or IT revokes this device from the devices panel, the session
 * ends at once (any unlock under way aborted), then the keychain entries go
 * first (the data is unreadable from then on), then the files. Never leave
 * the cache open or a key in the keychain after a wipe, and never wipe on a
 * merely expired session (401 SESSION_INVALID is not a revocation).
 */
import { AppError } from '../../../shared/app-error';
import { readProfile } from '../cache-profile';
import { wipeCache } from '../cache-maintenance';
import type { SecretStore } from '../secret-store';
import type { DesktopSession } from './desktop-session';
import { deletePasskeyRecord } from './passkey-record';

/** The backend's answer that ends this device's life: the device or the clinician is revoked. */
export function isRevocation(err: unknown): err is AppError {
  return err instanceof AppError && err.code === 'DEVICE_REVOKED';
}

export interface WipeDeps {
  dataDir: string;
  secrets: SecretStore;
  session: DesktopSession;
  /** Awaited before anything is deleted, so no sync writes into a folder being removed. */
  stopSync(): Promise<void>;
}

/** Remote wipe: session ended, keychain entries first, then the files; then signed out with `reason`. */
export async function wipeDevice(deps: WipeDeps, reason: string): Promise<void> {
  deps.session.lockNow('revoked');
  await deps.stopSync();
  await wipeLocalProfile(deps.dataDir, deps.secrets);
  deps.session.signOut(reason);
}

/** Deletes what this data folder's profile holds: its passkey record and keys (first), then its files. */
export async function wipeLocalProfile(dataDir: string, secrets: SecretStore): Promise<void> {
  let profileId: string | null = null;
  try {
    profileId = readProfile(dataDir)?.profileId ?? null;
  } catch {
    profileId = null;
  }
  if (profileId) await deletePasskeyRecord(secrets, profileId);
  try {
    await wipeCache(dataDir, secrets);
  } catch (err) {
    if (!(err instanceof AppError && err.code === 'CACHE_NOT_OPEN')) throw err;
  }
}
