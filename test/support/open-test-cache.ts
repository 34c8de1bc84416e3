/** Opens a real encrypted cache in a scratch folder with a real keychain, for one test. */
import { join } from 'node:path';
import { openCacheSession, type CacheSession } from '../../electron/services/cache-session';
import { scratchDir } from './scratch';
import { testKeychain } from './test-keychain';

export interface TestCache {
  session: CacheSession;
  dataDir: string;
  keychain: ReturnType<typeof testKeychain>;
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
    async reopen() {
      t.session.close();
      t.session = await open(false);
      return t.session;
    },
    async dispose() {
      t.session.close();
      dir.remove();
      await keychain.cleanup();
    },
  };
  return t;
}
