/**
 * Main's side of the cache store: starts the worker (./store-worker.ts),
 * sends it the cache key once and then only calls by name, each with a
 * request id, answered by a promise; a failure comes back as a typed
 * AppError. After close (lock, quit) or after the worker died, every call
 * is refused with STORE_CLOSED without reaching anything; calls the dead
 * worker never answered fail with STORE_FAILED. Never keep a copy of the
 * key: the caller's buffer is zeroed once the worker has answered the open.
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { AppError } from '../../../shared/app-error';
import { appErrorSchema } from '../../../shared/app-error-schema';
import type { AuditNetwork } from '../../../shared/audit-entry';
import type { ChainHead } from '../audit-chain';
import type { CacheStore, StoreArgs, StoreCallName, StoreContext, StoreOpenArgs, StoreReply, StoreResults } from './store-api';
import { storeClosedError, storeFailedError } from './store-errors';
import { pageCacheKiB } from '../page-cache-policy';
import type { StoreClosed, StoreOpened } from './store-host';

/**
 * The worker's module: bundled beside main (dist/electron, the app, which
 * never reads the variable below), or, under tsx (tests, the command line,
 * bench), the bundle test/run-tests.sh made of this same source for the run
 * (CLINICIAN_STORE_WORKER_BUNDLE), else the TypeScript source.
 */
export function storeWorkerModule(): string {
  if (typeof __dirname === 'string') return join(__dirname, 'cache-store-worker.cjs');
  return process.env.CLINICIAN_STORE_WORKER_BUNDLE || join(import.meta.dirname, 'store-worker.ts');
}

/**
 * Starts the worker thread (with `workerData` and the buffers it transfers,
 * when given: the store's checkpointer, ./store-checkpointer.ts). Node 20
 * does not apply `--import tsx` to a worker's entry file, so the TypeScript
 * source is started through a bootstrap that registers tsx's loader in the
 * worker first.
 */
export function startStoreWorker(file = storeWorkerModule(), options: Pick<WorkerOptions, 'workerData' | 'transferList'> = {}): Worker {
  if (!file.endsWith('.ts')) return new Worker(file, options);
  const tsxApi = pathToFileURL(tsxEsmApi()).href;
  const source = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(pathToFileURL(file).href)}); });`;
  return new Worker(source, { ...options, eval: true });
}

/** tsx's ESM API file (its CommonJS one cannot register from inside a worker), found through tsx's own package exports. */
function tsxEsmApi(): string {
  const packageFile = createRequire(join(import.meta.dirname, 'store-client.ts')).resolve('tsx/package.json');
  const exports = (JSON.parse(readFileSync(packageFile, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports;
  return join(dirname(packageFile), exports['./esm/api']!.import.default);
}

export interface WorkerStoreOptions {
  file: string;
  /** The raw 32-byte cache key: copied into the open message, transferred, and this buffer zeroed once the worker answered. */
  key: Buffer;
  signingKey: KeyObject;
  publicKey: KeyObject;
  context: StoreContext;
  /** Create the file if missing (first run only). */
  create: boolean;
  /** Page cache in KiB; default: the process's (IT's policy cachePageCacheMiB, ../page-cache-policy.ts). */
  cacheKiB?: number;
  /** Whether the device is connected, asked at each call (recorded in each audit entry it writes). */
  network?: () => AuditNetwork;
  /** Told the committed chain head after each call that moved it (../rollback-guard.ts keeps it in the keychain). */
  onHead?: (head: ChainHead) => void;
  /** The worker's module, when not the default (a test of the bundled file). */
  workerFile?: string;
  /** Told once, when the chain's unsigned tail at open does not check out (text names a seq, nothing else). */
  onChainProblem?: (text: string) => void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: AppError): void;
}

export class WorkerCacheStore implements CacheStore {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private state: 'open' | 'closing' | 'closed' = 'open';
  /** The page cache the worker's connection runs with, in KiB (as SQLite reported it at open). */
  cacheKiB = 0;

  private constructor(
    private readonly worker: Worker,
    private readonly options: Pick<WorkerStoreOptions, 'network' | 'onHead'>,
  ) {
    worker.on('message', (reply: StoreReply) => this.answer(reply));
    // A crash, an uncaught error, or kill(): what was in flight did not commit (SQLite rolls it back).
    worker.on('error', () => this.gone());
    worker.on('exit', () => this.gone());
    worker.on('messageerror', () => this.gone());
  }

  /** Starts the worker and opens the cache in it; refuses with the open's typed error (the worker is then ended). */
  static async open(options: WorkerStoreOptions): Promise<WorkerCacheStore> {
    const store = new WorkerCacheStore(startStoreWorker(options.workerFile), options);
    const keyBytes = new ArrayBuffer(options.key.length);
    new Uint8Array(keyBytes).set(options.key);
    const args: StoreOpenArgs = {
      file: options.file,
      key: keyBytes,
      signingKey: options.signingKey,
      publicKey: options.publicKey,
      context: options.context,
      create: options.create,
      cacheKiB: options.cacheKiB ?? pageCacheKiB(),
    };
    try {
      // Transferred: keyBytes is detached here the moment it is posted.
      const opened = (await store.send('open', args, [keyBytes])) as StoreOpened;
      if (opened.chainProblem) options.onChainProblem?.(opened.chainProblem);
      store.cacheKiB = opened.cacheKiB;
      return store;
    } catch (err) {
      store.state = 'closed';
      await store.worker.terminate();
      throw err;
    } finally {
      options.key.fill(0);
    }
  }

  get closed(): boolean {
    return this.state !== 'open';
  }

  call<N extends StoreCallName>(name: N, args: StoreArgs<N>): Promise<StoreResults[N]> {
    if (this.state !== 'open') return Promise.reject(storeClosedError());
    return this.send(name, args) as Promise<StoreResults[N]>;
  }

  /**
   * Signs the head (unless told not to), closes the connection and zeroes the
   * key in the worker, then ends the thread (its heap, with every value it
   * read, goes with it). Calls sent before close are answered first; calls
   * after it are refused. Resolves to the worker's own check of its key bytes.
   */
  async close(options: { signHead?: boolean } = {}): Promise<void> {
    await this.closeAndCheck(options);
  }

  async closeAndCheck(options: { signHead?: boolean } = {}): Promise<StoreClosed> {
    if (this.state !== 'open') return { keyZeroed: true };
    this.state = 'closing';
    try {
      return (await this.send('close', { signHead: options.signHead ?? true })) as StoreClosed;
    } finally {
      this.state = 'closed';
      await this.worker.terminate();
    }
  }

  /** Main lost the folder's writer lock: the worker's connection turns query_only (queued behind calls already sent). */
  async writerLost(): Promise<void> {
    if (this.state !== 'open') return;
    await this.send('writerLost', {});
  }

  /** The journal files were deleted under the open cache: answers whether the worker folded them in and made new ones. */
  async restoreJournal(): Promise<boolean> {
    if (this.state !== 'open') return false;
    return (await this.send('restoreJournal', {})) as boolean;
  }

  /** Ends the worker at once, as a crash would: what it was doing does not commit. For tests and a quit that cannot wait. */
  async kill(): Promise<void> {
    this.state = 'closed';
    await this.worker.terminate();
  }

  /** For tests: a raw message to the worker, as junk would arrive; resolves to the worker's reply. */
  sendRaw(message: unknown): Promise<StoreReply> {
    return new Promise((resolve) => {
      const listener = (reply: StoreReply) => {
        this.worker.off('message', listener);
        if (this.pending.size === 0) this.worker.unref();
        resolve(reply);
      };
      this.worker.on('message', listener);
      this.worker.ref();
      this.worker.postMessage(message);
    });
  }

  private send(call: string, args: unknown, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      const network = this.options.network?.() ?? null;
      try {
        this.worker.postMessage({ id, call, args, network }, transfer);
      } catch {
        this.pending.delete(id);
        reject(new AppError('INVALID_INPUT', 'The patient cache was given something it cannot take.'));
      }
    });
  }

  private answer(reply: StoreReply): void {
    const id = reply?.id;
    const waiting = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (!waiting || id === null) return;
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.ok) {
      if (reply.head) this.options.onHead?.(reply.head);
      waiting.resolve(reply.value);
      return;
    }
    const shape = appErrorSchema.safeParse(reply.error);
    waiting.reject(shape.success ? new AppError(shape.data.code, shape.data.message, shape.data.fields) : storeFailedError());
  }

  private gone(): void {
    this.state = 'closed';
    for (const waiting of this.pending.values()) waiting.reject(storeFailedError());
    this.pending.clear();
  }
}

/** Opens the cache in a store worker (see WorkerCacheStore.open). */
export function openWorkerStore(options: WorkerStoreOptions): Promise<WorkerCacheStore> {
  return WorkerCacheStore.open(options);
}
