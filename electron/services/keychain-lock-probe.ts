/**
 * Tells a locked keychain entry from a missing one. On Linux, keytar's
 * lookup answers "nothing" both when an entry does not exist and when it
 * sits in a locked keyring; the Secret Service's SearchItems answers which
 * matching items are unlocked and which are locked (attributes are readable
 * while locked), asked here with gdbus (libglib2.0-bin) on a connection of
 * its own. Only asked after a lookup found nothing. Elsewhere, or when the
 * question cannot be asked, the answer is "not known to be locked" (the
 * caller then treats the entry as missing, as before). Never sends a
 * secret: only the service and account names, which are not secrets.
 */
import { execFile } from 'node:child_process';

const PROBE_TIMEOUT_MS = 5_000;

/** GVariant text for a string: single-quoted, with backslash and quote escaped. */
function gvariantString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Whether the keychain holds an item for (service, account) in a locked keyring. */
export function keychainItemIsLocked(service: string, account: string): Promise<boolean> {
  if (process.platform !== 'linux') return Promise.resolve(false);
  const attributes = `{'service': ${gvariantString(service)}, 'account': ${gvariantString(account)}}`;
  return new Promise((resolve) => {
    execFile(
      'gdbus',
      ['call', '--session', '--dest', 'org.freedesktop.secrets', '--object-path', '/org/freedesktop/secrets', '--method', 'org.freedesktop.Secret.Service.SearchItems', attributes],
      { timeout: PROBE_TIMEOUT_MS, encoding: 'utf8' },
      (err, stdout) => {
        if (err) return resolve(false);
        // "(unlocked, locked)", e.g. "(@ao [], [objectpath '/org/freedesktop/secrets/collection/login/3'])".
        const match = /^\((@ao \[\]|\[[^\]]*\]), (@ao \[\]|\[[^\]]*\])\)$/.exec(stdout.trim());
        resolve(match !== null && match[2] !== '@ao []' && match[2] !== '[]');
      },
    );
  });
}
