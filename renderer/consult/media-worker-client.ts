/**
 * The page's side of the dedicated media worker (renderer/consult-worker):
 * creates it (bundled by Vite from the `new URL(..., import.meta.url)`
 * form), and speaks shared/consult/media-worker-protocol.ts with it. The
 * page only ever passes public keys and opaque sealed keys through here;
 * the worker alone holds the call's private key and every media key. Never
 * add a message that carries a usable key.
 */
import {
  workerToPageSchema,
  type MediaWorkerStats,
  type PageToWorker,
  type WorkerFailureCode,
  type WorkerRosterEntry,
  type WorkerToPage,
} from '../../shared/consult/media-worker-protocol';

export interface MediaWorkerEvents {
  sealedKeys(message: Extract<WorkerToPage, { type: 'sealed-keys' }>): void;
  keyInstalled(from: string, epoch: number): void;
  keyRefused(from: string, reason: string): void;
  /** The worker cannot go on (or cannot encrypt at all, or refused a roster and stopped sending): the call fails closed. */
  failed(code: MediaWorkerFailure): void;
}

export type MediaWorkerFailure = WorkerFailureCode | 'WORKER_CRASHED';

export interface MediaWorkerClient {
  readonly worker: Worker;
  /** Makes the call key pair; resolves to the raw X25519 public key (base64url). */
  init(callId: string): Promise<string>;
  roster(selfId: string, selfIndex: number, participants: WorkerRosterEntry[]): void;
  key(from: string, epoch: number, enc: string, ciphertext: string): void;
  stats(): Promise<MediaWorkerStats>;
  terminate(): void;
}

export function createMediaWorker(): Worker {
  return new Worker(new URL('../consult-worker/media-worker.ts', import.meta.url), { type: 'module', name: 'consult-media' });
}

export function mediaWorkerClient(worker: Worker, events: MediaWorkerEvents): MediaWorkerClient {
  let ready: { resolve(publicKey: string): void; reject(error: Error): void } | null = null;
  const statsWaiting: Array<(stats: MediaWorkerStats) => void> = [];
  let statsFailed: Array<(error: Error) => void> = [];
  let gone = false;

  const post = (message: PageToWorker) => {
    if (!gone) worker.postMessage(message);
  };

  const fail = (code: MediaWorkerFailure) => {
    const error = new Error(code);
    ready?.reject(error);
    ready = null;
    for (const reject of statsFailed) reject(error);
    statsWaiting.length = 0;
    statsFailed = [];
    events.failed(code);
  };

  worker.addEventListener('message', (event: MessageEvent) => {
    const parsed = workerToPageSchema.safeParse(event.data);
    if (!parsed.success) return;
    const message = parsed.data;
    switch (message.type) {
      case 'ready':
        ready?.resolve(message.publicKey);
        ready = null;
        break;
      case 'sealed-keys':
        events.sealedKeys(message);
        break;
      case 'key-installed':
        events.keyInstalled(message.from, message.epoch);
        break;
      case 'key-refused':
        events.keyRefused(message.from, message.reason);
        break;
      case 'stats': {
        statsWaiting.splice(0).forEach((resolve) => resolve(message.stats));
        statsFailed = [];
        break;
      }
      case 'failed':
        fail(message.code);
        break;
    }
  });
  worker.addEventListener('error', (event) => {
    event.preventDefault();
    fail('WORKER_CRASHED');
  });

  return {
    worker,
    init(callId) {
      return new Promise<string>((resolve, reject) => {
        ready = { resolve, reject };
        post({ type: 'init', callId });
      });
    },
    roster(selfId, selfIndex, participants) {
      post({ type: 'roster', selfId, selfIndex, participants });
    },
    key(from, epoch, enc, ciphertext) {
      post({ type: 'key', from, epoch, enc, ciphertext });
    },
    stats() {
      if (gone) return Promise.reject(new Error('worker terminated'));
      return new Promise<MediaWorkerStats>((resolve, reject) => {
        statsWaiting.push(resolve);
        statsFailed.push(reject);
        post({ type: 'stats' });
      });
    },
    terminate() {
      gone = true;
      worker.terminate();
      const error = new Error('worker terminated');
      for (const reject of statsFailed) reject(error);
      statsWaiting.length = 0;
      statsFailed = [];
    },
  };
}
