/**
 * The worker's message loop: hands every message from main to one StoreHost
 * and posts back its reply, in order, one at a time. Used by the app's
 * worker entry (./store-worker.ts) and by the benchmark's plaintext baseline
 * worker, so both answer exactly alike. Never post anything but a
 * StoreReply, and never log a message's content.
 */
import { isMainThread, parentPort } from 'node:worker_threads';
import { AppError } from '../../../shared/app-error';
import type { StoreHost } from './store-host';

export function serveStoreHost(host: StoreHost): void {
  if (isMainThread || !parentPort) throw new AppError('INTERNAL', 'The cache store worker runs only as a worker thread.');
  const port = parentPort;
  port.on('message', (message: unknown) => {
    const reply = host.handle(message);
    try {
      port.postMessage(reply);
    } catch {
      // A value that cannot be cloned: a bug in an operation, said without its content.
      port.postMessage({ id: reply.id, ok: false, error: { code: 'INTERNAL', message: 'An unexpected error occurred. The action was not completed.' } });
    }
  });
}
