/**
 * The cache store's worker thread: the only thread that holds the cache's
 * connection and key while the store is open. It serves one StoreHost over
 * the SQLCipher open (./store-serve.ts). Bundled as
 * dist/electron/cache-store-worker.cjs (build/bundle-electron.mjs); under
 * tsx it is started from this file (./store-client.ts). Never open the
 * cache any other way than with its key.
 */
import { StoreHost } from './store-host';
import { serveStoreHost } from './store-serve';

serveStoreHost(new StoreHost());
