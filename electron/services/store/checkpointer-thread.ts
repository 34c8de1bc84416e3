/**
 * The checkpointer thread's side of ./store-checkpointer.ts (which says what
 * it is for): what the thread is started with, the shared control array's
 * slots and states, the check that the journal files are still the store's,
 * and the thread's whole life (serveCheckpointer). Kept apart from the
 * host's side so the thread's bundle (cache-checkpointer-worker.cjs) loads
 * nothing but this and the cache's opener: a small heap beside the store.
 * Never write anything but a checkpoint, never keep the key after stop,
 * never log.
 */
import { statSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import type { CacheDatabase, OpenOptions } from '../cache-database';

export type Opener = (file: string, key: Buffer, options: OpenOptions) => CacheDatabase;

/** What the thread's data says it is (a worker started with anything else does nothing). */
export const ROLE = 'cache-checkpointer';

/** Slots of the shared control array. */
export const STATE = 0;
/** Bumped by the host after each commit. */
export const NUDGES = 1;
/** Bumped by the thread after each checkpoint. */
export const DONE = 2;
/** The NUDGES value read before the last finished checkpoint began: every commit nudged up to it is in cache.db. */
export const COVERED = 3;
/** 1 once the thread's key bytes are zero. */
export const ZEROED = 4;
/** 1 once the thread runs (its module loaded): a stop waits longer for a thread that is booted. */
export const BOOTED = 5;
export const SLOTS = 6;

/** The thread's states, in the STATE slot. */
export const STARTING = 0;
export const READY = 1;
export const STOPPING = 2;
export const STOPPED = 3;
export const FAILED = 4;

export interface ThreadData {
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

/**
 * The thread's whole life: open, then one PASSIVE checkpoint per wake-up
 * until stopped; then close, zero the key, and say so. Blocks its thread
 * (it has nothing else to do) and never throws.
 */
export function serveCheckpointer(openDatabase: Opener): void {
  const data = threadData(workerData);
  if (!data) return;
  const control = new Int32Array(data.control);
  Atomics.store(control, BOOTED, 1);
  const key = new Uint8Array(data.key);
  let db: CacheDatabase | null = null;
  let failed = false;
  try {
    // Stopped before it began: nothing to open.
    if (Atomics.load(control, STATE) !== STARTING) return;
    if (journalFiles(data.file) !== data.journal) throw new Error('journal replaced');
    // A Buffer view onto the transferred bytes: no second copy of the key in this thread.
    db = openDatabase(data.file, Buffer.from(data.key), { create: false, checkpointer: true });
    if (journalFiles(data.file) !== data.journal) throw new Error('journal replaced');
    // A stop asked while the thread was starting wins: it closes at once.
    if (Atomics.compareExchange(control, STATE, STARTING, READY) === STARTING) {
      Atomics.notify(control, STATE);
      // The first checkpoint folds in what committed while the thread was starting.
      for (;;) {
        // Nudges first, then the state: a stop (state, then a nudge) between the two reads still wakes the wait below.
        const seen = Atomics.load(control, NUDGES);
        if (Atomics.load(control, STATE) !== READY) break;
        db.pragma('wal_checkpoint(PASSIVE)');
        Atomics.store(control, COVERED, seen);
        Atomics.add(control, DONE, 1);
        Atomics.notify(control, DONE);
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
