/**
 * A real OS keychain store (gnome-keyring over D-Bus, started by
 * test/run-tests.sh) under a service name unique to the test, so tests never
 * see each other's keys. Fails loudly when no Secret Service is running.
 */
import { randomUUID } from 'node:crypto';
import keytar from 'keytar';
import { createOsSecretStore, type SecretStore } from '../../electron/services/secret-store';

export function testKeychain(): SecretStore & { cleanup(): Promise<void> } {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS) {
    throw new Error('These tests need the keyring started by `npm test` (test/run-tests.sh).');
  }
  const store = createOsSecretStore(`org.clinician-desktop.test.${randomUUID()}`);
  return {
    ...store,
    async cleanup() {
      for (const { account } of await keytar.findCredentials(store.service)) await keytar.deletePassword(store.service, account);
    },
  };
}
