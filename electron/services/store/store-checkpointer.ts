/**
 * The cache's WAL checkpoints, on a thread of their own. A checkpoint copies
 * committed pages from cache.db-wal into cache.db (decrypting and
 * re-encrypting each page under SQLCipher). Left to the store's connection
 * (`wal_autocheckpoint`), it runs inside whichever call commits past 1,000
 * pages, and every call queued behind that one waits: a chart opened during
 * a first sync. Here the store host starts this thread beside its own; the
 * thread opens a second connection to the same file and runs a PASSIVE
 * checkpoint (which never blocks the store's reads or writes) each time the
 * host says a call committed, while the store's connection runs with
 * `wal_autocheckpoint = 0`.
 *
 * The thread gets its own copy of the cache key (transferred: the host
 * keeps none of that copy), opens the file read-write but `query_only`, and
 * on stop closes its connection and zeroes its key before it says it
 * stopped. The two threads talk through one small shared array (Atomics),
 * so the host can stop the thread synchronously inside a call (lock, writer
 * lost, journal restore). A thread that cannot open, or whose checkpoint
 * fails, stops the same way; the host then gives the store's connection its
 * own checkpoints back. Never write anything here but a checkpoint, never
 * keep the key after stop, never log.
 */
import { statSync } from 'node:fs';
import { isMainThread, workerData, type Worker } from 'node:worker_threads';
import type { CacheDatabase, OpenOptions } from '../cache-database';
import { startStoreWorker } from './store-client';

type Opener = (file: string, key: Buffer, options: OpenOptions) => CacheDatabase;

/** The role the thread is started with (the worker module serves a store or, with this, checkpoints). */
const ROLE = 'cache-checkpointer';

/** Slots of the shared control array. */
const STATE = 0;
const NUDGES = 1;
const DONE = 2;
const ZEROED = 3;
const SLOTS = 4;

/** The thread's states, in the STATE slot. */
const STARTING = 0;
const READY = 1;
const STOPPING = 2;
const STOPPED = 3;
const FAILED = 4;

/** How long a stop waits for the thread to close its connection (a checkpoint in progress finishes first). */
const STOP_WAIT_MS = 10_000;

interface ThreadData {
  role: typeof ROLE;
  file: string;
  key: ArrayBuffer;
  control: SharedArrayBuffer;
  /** The journal the store's connection writes: cache.db-wal's and -shm's file ids when the thread was started. */
  journal: string;
}

function threadData(data: unknown): ThreadData | null {
  const d = data as Partial<ThreadData> | null;
  if (!d || d.role !== ROLE || typeof d.file !== 'string' || typeof d.journal !== 'string' || !(d.key instanceof ArrayBuffer) || !(d.control instanceof SharedArrayBuffer)) return null;
  return d as ThreadData;
}

/**
 * Which -wal and -shm files sit beside `file` now (device and inode of
 * each), or null when either is missing. A connection opened after they
 * were deleted under the store's would make a new, empty -wal and read the
 * store's frames from it; a checkpoint through it would write wrong pages
 * into cache.db. So the thread checks the files are still the store's
 * before it opens and again before its first checkpoint.
 */
export function journalFiles(file: string): string | null {
  try {
    const id = (suffix: string) => {
      const s = statSync(file + suffix, { bigint: true });
      return `${s.dev}:${s.ino}`;
    };
    return `${id('-wal')}/${id('-shm')}`;
  } catch {
    return null;
  }
}

/** Whether this thread was started as a checkpointer (the worker module's entry asks before it serves a store). */
export function isCheckpointerThread(): boolean {
  return !isMainThread && threadData(workerData) !== null;
}

/**
 * The thread's whole life: open, then one PASSIVE checkpoint per wake-up
 * until stopped; then close, zero the key, and say so. Blocks its thread
 * (it has nothing else to do) and never throws.
 */
export function serveCheckpointer(openDatabase: Opener): void {
  const data = threadData(workerData);
  if (!data) return;
  const control = new Int32Array(data.control);
  const key = new Uint8Array(data.key);
  let db: CacheDatabase | null = null;
  let failed = false;
  try {
    if (journalFiles(data.file) !== data.journal) throw new Error('journal replaced');
    // A Buffer view onto the transferred bytes: no second copy of the key in this thread.
    db = openDatabase(data.file, Buffer.from(data.key), { create: false, checkpointer: true });
    if (journalFiles(data.file) !== data.journal) throw new Error('journal replaced');
    // A stop asked while the thread was starting wins: it closes at once.
    if (Atomics.compareExchange(control, STATE, STARTING, READY) === STARTING) {
      Atomics.notify(control, STATE);
      // The first checkpoint folds in what committed while the thread was starting.
      while (Atomics.load(control, STATE) === READY) {
        const seen = Atomics.load(control, NUDGES);
        db.pragma('wal_checkpoint(PASSIVE)');
        Atomics.add(control, DONE, 1);
        Atomics.wait(control, NUDGES, seen);
      }
    }
  } catch {
    failed = true;
  } finally {
    try {
      db?.close();
    } catch {
      failed = true;
    }
    key.fill(0);
    Atomics.store(control, ZEROED, key.every((b) => b === 0) ? 1 : 0);
    Atomics.store(control, STATE, failed ? FAILED : STOPPED);
    Atomics.notify(control, STATE);
  }
}

/** The host's handle on its checkpointer thread. */
export class Checkpointer {
  private constructor(
    private readonly worker: Worker,
    private readonly control: Int32Array,
  ) {}

  /**
   * Starts the thread from `moduleFile` (the worker module the host runs in,
   * whose entry serves a checkpointer when started with this role) with a
   * copy of `key`, transferred. Answers at once: the thread opens its
   * connection on its own time (`ready` says when). Null when the store's
   * journal files are not both there (deleted under it: the store folds
   * them back first, ./store-host.ts restoreJournal).
   */
  static start(moduleFile: string, file: string, key: Uint8Array): Checkpointer | null {
    const journal = journalFiles(file);
    if (journal === null) return null;
    const copy = new ArrayBuffer(key.length);
    new Uint8Array(copy).set(key);
    const control = new Int32Array(new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT));
    const data: ThreadData = { role: ROLE, file, key: copy, control: control.buffer as SharedArrayBuffer, journal };
    let worker: Worker;
    try {
      worker = startStoreWorker(moduleFile, { workerData: data, transferList: [copy] });
    } finally {
      // Transferred when the thread was made; zeroed here if it was not.
      if (copy.byteLength > 0) new Uint8Array(copy).fill(0);
    }
    const checkpointer = new Checkpointer(worker, control);
    // The thread never keeps the process alive; one that dies before it says so is failed.
    worker.unref();
    worker.on('error', () => checkpointer.died());
    worker.on('exit', () => checkpointer.died());
    return checkpointer;
  }

  /** The thread has its connection open and checkpoints when nudged. */
  get ready(): boolean {
    return Atomics.load(this.control, STATE) === READY;
  }

  /** The thread ended on its own (could not open, a checkpoint failed, or it died): the store must checkpoint itself. */
  get failed(): boolean {
    return Atomics.load(this.control, STATE) === FAILED;
  }

  /** How many checkpoints the thread has run. */
  get checkpoints(): number {
    return Atomics.load(this.control, DONE);
  }

  /** A call committed: checkpoint what the WAL holds (wake-ups while one runs fold into one more). */
  nudge(): void {
    Atomics.add(this.control, NUDGES, 1);
    Atomics.notify(this.control, NUDGES);
  }

  /**
   * Stops the thread and waits until it has closed its connection and zeroed
   * its key (a checkpoint in progress finishes first). Answers whether the
   * thread said its key bytes are zero; a thread that does not answer in
   * time is terminated and counts as not zeroed.
   */
  stop(): { keyZeroed: boolean } {
    let state = Atomics.load(this.control, STATE);
    while (state === STARTING || state === READY) {
      const was = Atomics.compareExchange(this.control, STATE, state, STOPPING);
      if (was === state) break;
      state = was;
    }
    this.nudge();
    const deadline = Date.now() + STOP_WAIT_MS;
    for (;;) {
      state = Atomics.load(this.control, STATE);
      if (state === STOPPED || state === FAILED) break;
      const left = deadline - Date.now();
      if (left <= 0) break;
      Atomics.wait(this.control, STATE, state, left);
    }
    if (state !== STOPPED && state !== FAILED) {
      void this.worker.terminate();
      return { keyZeroed: false };
    }
    return { keyZeroed: Atomics.load(this.control, ZEROED) === 1 };
  }

  private died(): void {
    // The thread is gone; if it never said it stopped, it did not zero its key.
    const state = Atomics.load(this.control, STATE);
    if (state !== STOPPED && state !== FAILED) {
      Atomics.store(this.control, ZEROED, 0);
      Atomics.store(this.control, STATE, FAILED);
      Atomics.notify(this.control, STATE);
    }
  }
}
