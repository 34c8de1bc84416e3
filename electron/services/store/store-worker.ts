/**
 * The cache store's worker thread: the only thread that holds the cache's
 * connection and key while the store is open (its checkpointer thread,
 * ./store-checkpointer.ts, holds a second connection with a copy of the key
 * for checkpoints only). It serves one StoreHost over the encrypted open
 * (./store-serve.ts). Bundled as dist/electron/cache-store-worker.cjs, with
 * the checkpointer as cache-checkpointer-worker.cjs beside it
 * (build/bundle-electron.mjs); under tsx both are started from their
 * TypeScript files (./store-client.ts). Never open the cache any other way
 * than with its key.
 */
import { join } from 'node:path';
import { openCacheDatabase } from '../cache-database';
import { StoreHost } from './store-host';
import { serveStoreHost } from './store-serve';

const checkpointerModule = import.meta.filename.endsWith('.ts') ? join(import.meta.dirname, 'checkpointer-worker.ts') : join(import.meta.dirname, 'cache-checkpointer-worker.cjs');

serveStoreHost(new StoreHost(openCacheDatabase, { checkpointerModule }));
