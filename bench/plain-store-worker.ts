/**
 * The store worker of the benchmarks' plaintext baseline: the app's own
 * store host and message loop (electron/services/store/store-serve.ts) over
 * a plain better-sqlite3 file (./plain-database.ts) instead of the encrypted one,
 * with its checkpointer thread (./plain-checkpointer-worker.ts) as the
 * app's store has its own, so a baseline session made by
 * openCacheSession({ workerFile: this file }) runs the same path as the
 * encrypted device (main, the worker, the same calls, transactions,
 * checkpoints and audit chain) and only the encryption differs. Started
 * from its .ts source through store-client.ts's tsx bootstrap, or bundled
 * (./bundle-workers.mjs). Benchmarks only: never the app's worker, never
 * for real data.
 */
import { join } from 'node:path';
import { StoreHost } from '../electron/services/store/store-host';
import { serveStoreHost } from '../electron/services/store/store-serve';
import { openPlainDatabase } from './plain-database';

const checkpointerModule = join(import.meta.dirname, import.meta.filename.endsWith('.ts') ? 'plain-checkpointer-worker.ts' : 'plain-checkpointer-worker.cjs');

serveStoreHost(new StoreHost(openPlainDatabase, { checkpointerModule }));
