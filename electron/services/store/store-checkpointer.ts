/**
 * The cache's WAL checkpoints, on a thread of their own. A checkpoint copies
 * committed pages from cache.db-wal into cache.db (decrypting and
 * re-encrypting each page). Left to the store's connection
 * (`wal_autocheckpoint`), it runs inside whichever call commits past 1,000
 * pages, and every call queued behind that one waits: a chart opened during
 * a first sync. Here the store host starts this thread beside its own; the
 * thread opens a second connection to the same file and runs a PASSIVE
 * checkpoint (which never blocks the store's reads or writes) each time the
 * host says a call committed, while the store's connection runs with
 * `wal_autocheckpoint = 0`.
 *
 * The thread gets its own copy of the cache key (transferred: the host
 * keeps none of that copy) and a small module of its own
 * (./checkpointer-thread.ts), opens the file read-write but `query_only`, and
 * on stop closes its connection and zeroes its key before it says it
 * stopped. The two threads talk through one small shared array (Atomics),
 * so the host can stop the thread synchronously inside a call (lock, writer
 * lost, journal restore). A thread that cannot open, or whose checkpoint
 * fails, stops the same way; the host then gives the store's connection its
 * own checkpoints back. Never write anything here but a checkpoint, never
 * keep the key after stop, never log.
 */
import type { Worker } from 'node:worker_threads';
import { startStoreWorker } from './store-client';
import { BOOTED, COVERED, DONE, FAILED, journalFiles, NUDGES, READY, ROLE, SLOTS, STARTING, STATE, STOPPED, STOPPING, ZEROED, type ThreadData } from './checkpointer-thread';

/** How long a stop waits for the thread to close its connection (a checkpoint in progress finishes first). */
const STOP_WAIT_MS = 10_000;
/** How long a stop waits for a thread whose module has not run yet (loading takes about 0.2 s bundled, longer under tsx; one that failed to load never says so here, where the exit event cannot arrive while this thread waits). */
const STOP_WAIT_UNBOOTED_MS = 5_000;

/** The host's handle on its checkpointer thread. */
export class Checkpointer {
  /** Settles when the thread has ended (for tests; the host never waits on it: its loop is blocked while it runs a call). */
  readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    private readonly control: Int32Array,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
  }

  /**
   * Starts the thread from `moduleFile` (./checkpointer-worker.ts, or its
   * bundle cache-checkpointer-worker.cjs beside the store's) with a copy of
   * `key`, transferred. Answers at once: the thread opens its
   * connection on its own time (`ready` says when). Null when the store's
   * journal files are not both there (deleted under it: the store folds
   * them back first, ./store-host.ts restoreJournal).
   */
  static start(moduleFile: string, file: string, key: Uint8Array, journal = journalFiles(file)): Checkpointer | null {
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
   * Waits (blocking, at most `ms`) until a checkpoint that began after the
   * last nudge has finished, so the next write may start the WAL over:
   * the host's brake when the WAL grows faster than the thread folds it in.
   * Answers whether it caught up.
   */
  waitCaughtUp(ms: number): boolean {
    const target = Atomics.load(this.control, NUDGES);
    const deadline = Date.now() + ms;
    for (;;) {
      const done = Atomics.load(this.control, DONE);
      if (Atomics.load(this.control, COVERED) === target) return true;
      const left = deadline - Date.now();
      if (left <= 0 || !this.ready) return false;
      Atomics.wait(this.control, DONE, done, left);
    }
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
    const start = Date.now();
    for (;;) {
      state = Atomics.load(this.control, STATE);
      if (state === STOPPED || state === FAILED) break;
      const left = start + (Atomics.load(this.control, BOOTED) === 1 ? STOP_WAIT_MS : STOP_WAIT_UNBOOTED_MS) - Date.now();
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
