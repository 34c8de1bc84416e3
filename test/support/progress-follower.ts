/**
 * Follows a sync worker's status.progress (the status object is the
 * worker's own, so the test swaps its property for a recording one): every
 * value it is set to, in order (`seen`); `reach(n)`, the first value counting
 * at least n resources (the pull asks for its next page while it applies
 * one, so a held next page says nothing about how far this one is); and
 * `ended()`, which resolves at the next null (a pull run ends, however it
 * ends, with null). Events only, never a timer.
 */
import type { SyncProgress } from '../../shared/contract';
import type { SyncStatus } from '../../electron/services/sync-worker';

export function followProgress(status: SyncStatus) {
  const seen: Array<SyncProgress | null> = [];
  let ending: Array<() => void> = [];
  const reaching: Array<{ resources: number; resolve: (p: SyncProgress) => void }> = [];
  let value: SyncProgress | null = status.progress;
  Object.defineProperty(status, 'progress', {
    configurable: true,
    get: () => value,
    set: (next: SyncProgress | null) => {
      value = next;
      seen.push(next === null ? null : { ...next });
      if (next === null) {
        const done = ending;
        ending = [];
        for (const resolve of done) resolve();
        return;
      }
      for (const r of [...reaching]) {
        if (next.resources >= r.resources) {
          reaching.splice(reaching.indexOf(r), 1);
          r.resolve({ ...next });
        }
      }
    },
  });
  const reach = (resources: number) => {
    const now = seen.findLast((p): p is SyncProgress => p !== null && p.resources >= resources);
    return now ? Promise.resolve(now) : new Promise<SyncProgress>((resolve) => reaching.push({ resources, resolve }));
  };
  return { seen, reach, ended: () => new Promise<void>((resolve) => ending.push(resolve)) };
}
