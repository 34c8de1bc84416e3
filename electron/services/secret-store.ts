/**
 * The OS keychain behind a three-call interface. Production uses keytar
 * (Keychain on macOS, Credential Vault on Windows, Secret Service on Linux).
 * Every keytar failure becomes a typed AppError that says "keychain", never
 * the secret or the account's PHI. This module must never cache a secret, log
 * one, or fall back to anything other than the OS keychain.
 *
 * The keychain comes back: keytar (libsecret) keeps one D-Bus connection per
 * process and, once the keyring daemon has restarted, keeps calling the dead
 * one, with no way to reconnect. So calls run in this process while that
 * works; after the first call that fails for any reason but a locked
 * keyring, this process's connection is written off and every later call
 * goes to a keychain helper process (keychain-helper.ts) with a connection of
 * its own, replaced by a fresh one (and the call retried once) whenever a
 * call through it fails. Secrets reach the helper only over its IPC channel.
 *
 * A locked keyring is not a missing entry: when a lookup finds nothing, the
 * Secret Service is asked whether a matching item is there but locked
 * (keychain-lock-probe.ts); then the answer is KEYCHAIN_LOCKED, never "no
 * key" or "not enrolled", so nobody is sent to enroll and nothing is deleted.
 */
import keytar from 'keytar';
import { AppError } from '../../shared/app-error';
import { KeychainHelperProcess, type HelperCall, type HelperLauncher } from './keychain-helper-process';
import { keychainItemIsLocked } from './keychain-lock-probe';

export interface SecretStore {
  readonly service: string;
  get(account: string): Promise<string | null>;
  set(account: string, secret: string): Promise<void>;
  delete(account: string): Promise<boolean>;
}

export const DEFAULT_KEYCHAIN_SERVICE = 'org.clinician-desktop.cache';

export const KEYCHAIN_LOCKED_MESSAGE =
  'The computer\'s keychain is locked, so the patient cache stays closed. Unlock the keychain (lock the computer and sign in to it again, or unlock the "login" keyring), then unlock here. Nothing was deleted.';

function keychainLocked(): AppError {
  return new AppError('KEYCHAIN_LOCKED', KEYCHAIN_LOCKED_MESSAGE);
}

function keychainUnavailable(): AppError {
  return new AppError(
    'KEYCHAIN_UNAVAILABLE',
    'The OS keychain is not available, so the patient cache stays closed. Sign in to a desktop session with a keychain and retry.',
  );
}

function isLockedText(text: string): boolean {
  return /locked/i.test(text);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Where keychain calls of this process go: keytar in this process until its
 * connection fails, then the helper. One per process (libsecret's
 * connection is per process).
 */
class KeychainRoute {
  private inProcessDead = false;
  readonly helper = new KeychainHelperProcess();

  /** For tests and the benchmark: whether calls now go through the helper, and its process id. */
  get state(): { viaHelper: boolean; helperPid: number | undefined } {
    return { viaHelper: this.inProcessDead, helperPid: this.helper.pid };
  }

  async run(call: HelperCall): Promise<string | boolean | null> {
    if (!this.inProcessDead) {
      try {
        return await inProcess(call);
      } catch (err) {
        if (isLockedText(messageOf(err))) throw keychainLocked();
        // Anything else: this process's connection is gone (a restarted daemon) or never worked; a new process may reach it.
        this.inProcessDead = true;
      }
    }
    return this.viaHelper(call, true);
  }

  private async viaHelper(call: HelperCall, mayRetry: boolean): Promise<string | boolean | null> {
    const helper = this.helper;
    const wasAnswering = helper.answered;
    let failure: string;
    try {
      const reply = await helper.call(call);
      if (reply.ok) {
        helper.answered = true;
        return reply.value;
      }
      failure = reply.error;
    } catch (err) {
      failure = messageOf(err);
    }
    if (isLockedText(failure)) throw keychainLocked();
    // This helper's connection failed: replace it. Retry once only when it had worked (the daemon may have restarted since).
    helper.stop();
    helper.answered = false;
    if (mayRetry && wasAnswering) return this.viaHelper(call, false);
    throw keychainUnavailable();
  }
}

function inProcess(call: HelperCall): Promise<string | boolean | null> {
  switch (call.op) {
    case 'get':
      return keytar.getPassword(call.service, call.account);
    case 'set':
      return keytar.setPassword(call.service, call.account, call.secret).then(() => null);
    case 'delete':
      return keytar.deletePassword(call.service, call.account);
  }
}

const route = new KeychainRoute();

/** The app starts its keychain helper with Electron's utilityProcess (the packaged app's RunAsNode fuse is off); call before any keychain use. */
export function setKeychainHelperLauncher(launch: HelperLauncher): void {
  route.helper.launch = launch;
}

/** Whether this process reaches the keychain through the helper now (after its own connection failed), and the helper's pid. */
export function keychainRouteState(): { viaHelper: boolean; helperPid: number | undefined } {
  return route.state;
}

export function createOsSecretStore(service: string = DEFAULT_KEYCHAIN_SERVICE): SecretStore {
  return {
    service,
    async get(account) {
      const value = await route.run({ op: 'get', service, account });
      if (typeof value === 'string') return value;
      // Nothing found: missing, or there but locked (libsecret answers both with nothing).
      if (await keychainItemIsLocked(service, account)) throw keychainLocked();
      return null;
    },
    async set(account, secret) {
      await route.run({ op: 'set', service, account, secret });
    },
    async delete(account) {
      return (await route.run({ op: 'delete', service, account })) === true;
    },
  };
}
