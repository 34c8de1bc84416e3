/**
 * A connection of a test's own to an open session's cache file: the session's
 * store runs in its worker thread and answers only named calls, so a test
 * that arranges a fault (a stale row, a tampered entry) or looks at what
 * committed opens the same real encrypted cache file beside it, with the key read
 * again from the real keychain. The connection closes when the session
 * closes (or with `close()`), so a reopen or a wipe never meets it.
 *
 * Never used by the app: only tests reach under the store this way. Never
 * write audit entries through it unless the test is about a tampered chain.
 */
import { openCacheDatabase, type CacheDatabase } from '../../electron/services/cache-database';
import type { CacheSession } from '../../electron/services/cache-session';
import { dropKeys, loadDeviceKeys } from '../../electron/services/device-keys';
import type { SecretStore } from '../../electron/services/secret-store';

const open = new WeakMap<CacheSession, CacheDatabase>();

/** The test's connection to `session`'s cache (one per session, reused); closed when the session closes. */
export async function inspectCache(session: CacheSession, secrets: SecretStore, prfOutput?: Buffer): Promise<CacheDatabase> {
  const known = open.get(session);
  if (known?.open) return known;
  const keys = await loadDeviceKeys(secrets, session.profile.profileId, prfOutput);
  let db: CacheDatabase;
  try {
    db = openCacheDatabase(session.profile.databaseFile, keys.cacheKey, { create: false });
  } finally {
    dropKeys(keys);
  }
  open.set(session, db);
  const close = session.close.bind(session);
  // The session's close closes this connection first: the next open or a wipe finds the file as the app left it.
  Object.assign(session, {
    close: () => {
      if (db.open) db.close();
      return close();
    },
  });
  return db;
}
