/**
 * Pulls what changed on the backend since the device's cursor into the
 * cache, page by page. A page is applied in slices of PULL_SLICE resources,
 * each one call of the cache store (./store/operations/pull-write.ts, which
 * says what is written, kept or skipped), so answers to the clinician never
 * wait behind a whole page (a chart already synced opens meanwhile); the
 * cursor moves with the page's last slice only, so a lock or a crash
 * part-way repeats the page rather than skipping one, and every slice that
 * committed holds its audit entries. A run may stop after `maxPages` (sign-in
 * and enrollment take one page, so the workspace appears at once, and leave
 * the rest to the sync worker). A run whose progress is followed asks the
 * server on its first page for an estimate of what remains (a count the
 * server pays for: not asked when nobody is told); a long run reports its
 * progress after each slice (./pull-progress.ts: counts only) and null when
 * it ends. While a page is applied the next one is already asked for (from
 * the cursor this page leaves, held as text until its turn), so the
 * backend's time overlaps the device's;
 * it is used only when the store's cursor is where it was asked from once
 * the page is in, else asked again. Holds no SQL. Never overwrite unsent
 * local work (the store refuses to).
 */
import { AppError } from '../../shared/app-error';
import type { SyncProgress } from '../../shared/contract';
import type { PullReply } from '../../shared/sync-api';
import type { BackendClient } from './backend-client';
import type { CacheSession } from './cache-session';
import { PullProgress } from './pull-progress';
import { storeClosedError } from './store/store-errors';
import { PULL_SLICE, type CacheStore } from './store/store-api';
import { cursorBehind } from './store/operations/pull-write';
import { setImmediate as nextTurn } from 'node:timers/promises';

export { cursorBehind };

export function pullCursor(session: Pick<CacheSession, 'store'>): Promise<string | null> {
  return session.store.call('pullCursor', {});
}

/** After each applied slice: how many resources of the page it covered and the patients it wrote to. */
export type SliceApplied = (received: number, patients: readonly string[]) => void;

/**
 * Stores one pulled page, slice by slice; returns how many resources it
 * wrote. A lock between slices ends it with STORE_CLOSED (nothing more is
 * written; the cursor has not moved).
 */
export async function applyPulledPage(session: { store: CacheStore }, page: PullReply, onSlice?: SliceApplied): Promise<number> {
  let written = 0;
  for (let from = 0; ; from += PULL_SLICE) {
    const last = from + PULL_SLICE >= page.resources.length;
    const slice = page.resources.slice(from, from + PULL_SLICE);
    const applied = await session.store.call('applyPullPage', { resources: slice, cursor: page.cursor, assignedPatients: page.assignedPatients ?? null, last });
    written += applied.written;
    onSlice?.(slice.length, applied.patients);
    if (last) return written;
    // A turn of the event loop between slices: what waits (an IPC call such as chart.open) runs now, not after the page.
    await nextTurn();
  }
}

export interface PullOptions {
  /**
   * The run's progress after each slice while the run is long (more than one
   * page); null once it ends, however it ends. Given, the run's first page
   * asks the server for its estimate (the progress's total).
   */
  onProgress?(progress: SyncProgress | null): void;
  /** Stop after this many pages even when the backend has more (at least 1; default: until it has nothing newer). */
  maxPages?: number;
  /** Monotonic clock for the time left (default performance.now). */
  now?: () => number;
}

/** Pulls page after page until the backend has nothing newer (or `maxPages` are in); returns how many resources were written. */
export async function pullChanges(session: Pick<CacheSession, 'store'>, backend: BackendClient, token: string, options: PullOptions = {}): Promise<number> {
  const maxPages = Math.max(1, options.maxPages ?? Infinity);
  const progress = new PullProgress(options.now);
  const report = () => {
    const now = progress.snapshot();
    if (now) options.onProgress?.(now);
  };
  let next: PageRequest | null = null;
  const ask = (cursor: string | null, estimate: boolean): PageRequest => {
    // Never a request after a lock: the token is the unlocked session's, and a page asked for then would be served for nothing.
    if (session.store.closed) throw storeClosedError();
    const stop = new AbortController();
    const reply = backend.pullAnswer(token, cursor, { estimate, signal: stop.signal });
    // Settled unheard when the run ends before it is used (a lock, a failed apply): never an unhandled rejection.
    reply.catch(() => undefined);
    return { cursor, reply, stop };
  };
  let written = 0;
  try {
    next = ask(await pullCursor(session), options.onProgress !== undefined);
    for (let pages = 1; ; pages++) {
      const { cursor, reply } = next;
      next = null;
      // Decoded now, not when it arrived: a page asked ahead waits as text while the one before it is applied.
      const page = (await reply)();
      // A page with resources must move the cursor on, and "more" must come with resources: else a loop.
      const stuck = page.resources.length > 0 ? page.cursor === null || page.cursor === cursor || cursorBehind(page.cursor, cursor) : page.more;
      if (stuck) {
        throw new AppError('BACKEND_INVALID_RESPONSE', 'The hospital server sent an update that does not move forward.');
      }
      // The next page is asked for now, from where this one leaves the cursor, and arrives while this one is applied
      // (one page ahead at most); used only if the store's cursor is there once this page is in.
      if (page.more && pages < maxPages) next = ask(page.cursor, false);
      progress.page(page);
      report();
      written += await applyPulledPage(session, page, (received, patients) => {
        progress.slice(received, patients);
        report();
      });
      if (!next) return written;
      const held = await pullCursor(session);
      if (held !== next.cursor) {
        next.stop.abort();
        next = ask(held, false);
      }
    }
  } finally {
    // A page asked ahead and not used (the run ended: a lock, a failed apply, a refused page) is not waited for.
    next?.stop.abort();
    options.onProgress?.(null);
  }
}

/** One pull request under way: the cursor it was asked from, its answer (decoded when called), and how to stop it. */
interface PageRequest {
  cursor: string | null;
  reply: Promise<() => PullReply>;
  stop: AbortController;
}
