/**
 * The OS keychain behind a three-call interface. Production uses keytar
 * (Keychain on macOS, Credential Vault on Windows, Secret Service on Linux).
 * Every keytar failure becomes a typed AppError that says "keychain", never
 * the secret or the account's PHI. This module must never cache a secret, log
 * one, or fall back to anything other than the OS keychain.
 */
import keytar from 'keytar';
import { AppError } from '../../shared/app-error';

export interface SecretStore {
  readonly service: string;
  get(account: string): Promise<string | null>;
  set(account: string, secret: string): Promise<void>;
  delete(account: string): Promise<boolean>;
}

export const DEFAULT_KEYCHAIN_SERVICE = 'org.clinician-desktop.cache';

function keychainError(err: unknown): AppError {
  const text = err instanceof Error ? err.message : String(err);
  if (/locked/i.test(text)) {
    return new AppError('KEYCHAIN_LOCKED', 'The OS keychain is locked. Unlock it (sign in to the computer again) and retry.');
  }
  return new AppError(
    'KEYCHAIN_UNAVAILABLE',
    'The OS keychain is not available, so the patient cache stays closed. Sign in to a desktop session with a keychain and retry.',
  );
}

export function createOsSecretStore(service: string = DEFAULT_KEYCHAIN_SERVICE): SecretStore {
  return {
    service,
    async get(account) {
      try {
        return await keytar.getPassword(service, account);
      } catch (err) {
        throw keychainError(err);
      }
    },
    async set(account, secret) {
      try {
        await keytar.setPassword(service, account, secret);
      } catch (err) {
        throw keychainError(err);
      }
    },
    async delete(account) {
      try {
        return await keytar.deletePassword(service, account);
      } catch (err) {
        throw keychainError(err);
      }
    },
  };
}
