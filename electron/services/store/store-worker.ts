/**
 * The cache store's worker thread: the only thread that holds the cache's
 * connection and key while the store is open. It hands every message to
 * one StoreHost and posts back its reply, in order, one at a time. Bundled
 * as dist/electron/cache-store-worker.cjs (build/bundle-electron.mjs);
 * under tsx it is started from this file (./store-client.ts). Never post
 * anything but a StoreReply, and never log a message's content.
 */
import { isMainThread, parentPort } from 'node:worker_threads';
import { AppError } from '../../../shared/app-error';
import { StoreHost } from './store-host';

if (isMainThread || !parentPort) throw new AppError('INTERNAL', 'The cache store worker runs only as a worker thread.');
const port = parentPort;
const host = new StoreHost();
port.on('message', (message: unknown) => {
  const reply = host.handle(message);
  try {
    port.postMessage(reply);
  } catch {
    // A value that cannot be cloned: a bug in an operation, said without its content.
    port.postMessage({ id: reply.id, ok: false, error: { code: 'INTERNAL', message: 'An unexpected error occurred. The action was not completed.' } });
  }
});
