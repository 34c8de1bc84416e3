/**
 * Entry of the dedicated consultation media worker (bundled by Vite from
 * renderer/consult/media-worker-client.ts's `new URL(...)`). This worker
 * alone holds the call's private key and every media key; the page only
 * relays public keys and sealed keys. No DOM here, and nothing that posts,
 * logs or stores a key.
 */
import { runMediaWorker, type MediaWorkerScope } from './worker-runtime';

runMediaWorker(globalThis as unknown as MediaWorkerScope, {
  now: () => performance.now(),
  schedule: (run, delayMs) => {
    setTimeout(run, delayMs);
  },
  canTransform: 'RTCTransformEvent' in globalThis,
});
