/**
 * The cache store's worker as the app runs it (../../electron/services/store/store-worker.ts:
 * one StoreHost over the real encrypted open), for page-cache-policy.test.ts:
 * right after the host opens the file, this thread reads `PRAGMA cache_size`
 * from that very connection and tells the test on a BroadcastChannel, so the
 * test sees the page cache a session's own connection runs with (the
 * session's store lives in this thread; main has no connection to ask).
 *
 * Only a test starts it (openCacheSession's workerFile). It tells the file's
 * path and a number, never a key or anything read from the cache.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { openCacheDatabase } from '../../electron/services/cache-database';
import { StoreHost } from '../../electron/services/store/store-host';
import { serveStoreHost } from '../../electron/services/store/store-serve';

/** The channel the page cache of each open is told on: `{ file, cacheKiB }` (the test names it too: importing this module runs the worker). */
const PAGE_CACHE_CHANNEL = 'clinician-test-page-cache';

const channel = new BroadcastChannel(PAGE_CACHE_CHANNEL);
// The worker ends when its session closes; the channel never keeps it alive.
channel.unref();

serveStoreHost(
  new StoreHost((file, key, options) => {
    const db = openCacheDatabase(file, key, options);
    channel.postMessage({ file, cacheKiB: -Number(db.pragma('cache_size', { simple: true })) });
    return db;
  }),
);
