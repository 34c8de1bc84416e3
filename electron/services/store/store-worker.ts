/**
 * The cache store's worker thread: the only thread that holds the cache's
 * connection and key while the store is open. It serves one StoreHost over
 * the SQLCipher open (./store-serve.ts); started again from this same
 * module with the checkpointer's role, it runs the store's WAL checkpoints
 * on a connection of its own (./store-checkpointer.ts). Bundled as
 * dist/electron/cache-store-worker.cjs (build/bundle-electron.mjs); under
 * tsx it is started from this file (./store-client.ts). Never open the
 * cache any other way than with its key.
 */
import { openCacheDatabase } from '../cache-database';
import { isCheckpointerThread, serveCheckpointer } from './store-checkpointer';
import { StoreHost } from './store-host';
import { serveStoreHost } from './store-serve';

if (isCheckpointerThread()) serveCheckpointer(openCacheDatabase);
else serveStoreHost(new StoreHost(openCacheDatabase, { checkpointerModule: import.meta.filename }));
