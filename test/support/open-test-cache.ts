/** Opens a real encrypted cache in a scratch folder with a real keychain, for one test. */
import { join } from 'node:path';
import type { CacheDatabase } from '../../electron/services/cache-database';
import { inspectCache } from './cache-inspect';
import { openCacheSession, type CacheSession } from '../../electron/services/cache-session';
import { scratchDir } from './scratch';
import { testKeychain } from './test-keychain';

export interface TestCache {
  session: CacheSession;
  dataDir: string;
  keychain: ReturnType<typeof testKeychain>;
  /** The test's own connection to the open session's file (./cache-inspect.ts), closed with the session. */
  db(): Promise<CacheDatabase>;
  reopen(): Promise<CacheSession>;
  dispose(): Promise<void>;
}

export async function openTestCache(actor = 'test-clinician'): Promise<TestCache> {
  const keychain = testKeychain();
  const dir = scratchDir();
  const dataDir = join(dir.path, 'cache');
  const open = (create: boolean) => openCacheSession({ dataDir, secrets: keychain, actor, create });
  const t: TestCache = {
    session: await open(true),
    dataDir,
    keychain,
    db() {
      return inspectCache(t.session, keychain);
    },
    async reopen() {
      await t.session.close();
      t.session = await open(false);
      return t.session;
    },
    async dispose() {
      await t.session.close();
      dir.remove();
      await keychain.cleanup();
    },
  };
  return t;
}
