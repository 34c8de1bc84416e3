/**
 * Waits in a test for a cache session's folder events (relocked,
 * writer-lost, journal-restored). The session's folder watch is not
 * persistent (it must never keep the app alive), so while a test awaits one
 * of its events nothing may keep Node's event loop running: the loop can
 * end before it reads the kernel's watch event, and node:test cancels the
 * test and the rest of its file. Each wait holds a timer until its event
 * comes, and fails in words at its deadline. Never a sleep: the wait ends
 * on the event.
 */
import type { FolderEvent } from '../../electron/services/cache-session';

export interface FolderEvents {
  /** Pass as the session's onFolderEvent. */
  on(event: FolderEvent): void;
  /** Resolves on the next `event` after this call; rejects after `deadlineMs` without it. */
  next(event: FolderEvent, deadlineMs?: number): Promise<void>;
}

export function folderEvents(): FolderEvents {
  const waiting = new Map<FolderEvent, Array<() => void>>();
  return {
    on(event) {
      const resolvers = waiting.get(event) ?? [];
      waiting.delete(event);
      for (const resolve of resolvers) resolve();
    },
    next(event, deadlineMs = 20_000) {
      const waited = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${event} folder event within ${deadlineMs} ms`)), deadlineMs);
        waiting.set(event, [
          ...(waiting.get(event) ?? []),
          () => {
            clearTimeout(timer);
            resolve();
          },
        ]);
      });
      // A test that failed before awaiting it leaves no unhandled rejection behind (its own failure is the report).
      waited.catch(() => undefined);
      return waited;
    },
  };
}
