/**
 * The checkpointer thread of the benchmarks' plaintext baseline
 * (electron/services/store/checkpointer-thread.ts over ./plain-database.ts),
 * started by ./plain-store-worker.ts's host as the app's store starts its
 * own, so the baseline checkpoints as the app does and only the encryption
 * differs. Benchmarks only: never the app's, never for real data.
 */
import { serveCheckpointer } from '../electron/services/store/checkpointer-thread';
import { openPlainDatabase } from './plain-database';

serveCheckpointer(openPlainDatabase);
