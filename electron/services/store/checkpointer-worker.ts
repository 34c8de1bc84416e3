/**
 * The cache store's checkpointer thread (./store-checkpointer.ts): runs the
 * WAL checkpoints beside the store's worker on an encrypted connection of its
 * own. Bundled as dist/electron/cache-checkpointer-worker.cjs beside the
 * store's worker; under tsx started from this file. Never opened for
 * anything but checkpoints, never without the key.
 */
import { openCacheDatabase } from '../cache-database';
import { serveCheckpointer } from './checkpointer-thread';

serveCheckpointer(openCacheDatabase);
