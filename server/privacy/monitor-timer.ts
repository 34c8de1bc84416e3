/**
 * The periodic run of the unusual-access rules inside `serve`: every
 * policy runEveryMinutes (read again before each run; 0 pauses it; the first
 * run one interval after start), one run
 * at a time, the timer never keeping the process alive. A failed run is
 * reported by error name only (never a message, which could carry data) and
 * tried again at the next tick. Several instances may each run it: facts and
 * flags are deduplicated in the database.
 */
import type { Db } from '../database';
import type { Clock } from '../clock';
import { readMonitorPolicy } from './monitor-policy';
import { runMonitor } from './monitor-runner';

const PAUSED_CHECK_MS = 60_000;

/** A failure by code only: a typed error's code, a driver's SQLSTATE/code, else the error's class name (never a message). */
function failureCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code)) return code;
  return err instanceof Error ? err.name : 'error';
}

export function startMonitorTimer(db: Db, clock: Clock, log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): { stop(): void } {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => void tick(), ms);
    timer.unref();
  };
  const tick = async () => {
    let next = PAUSED_CHECK_MS;
    try {
      const { runEveryMinutes } = await readMonitorPolicy(db);
      if (runEveryMinutes > 0) {
        const r = await runMonitor(db, { clock });
        if (r.raised > 0 || r.outsideSpan > 0) log(`[backend] privacy monitor: ${r.ingested} entries read, ${r.raised} new flags, ${r.outsideSpan} outside the judged window, ${r.ms} ms`);
        if (r.skipped > 0) log(`[backend] privacy monitor: ${r.skipped} ledger entries skipped (time or fields unreadable)`);
        next = runEveryMinutes * 60_000;
      }
    } catch (err) {
      log(`[backend] privacy monitor run failed: ${failureCode(err)}`);
    }
    schedule(next);
  };
  // The first run one interval after start (a restart loop must not become a run loop).
  void readMonitorPolicy(db).then(
    (p) => schedule(p.runEveryMinutes > 0 ? p.runEveryMinutes * 60_000 : PAUSED_CHECK_MS),
    () => schedule(PAUSED_CHECK_MS),
  );
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
