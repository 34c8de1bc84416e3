/**
 * The cache command line's `stats` and `audit-export`, audited (issue 13):
 * each run writes one 'export' entry (actor: the OS account, patient null,
 * format and reason as exportFacts URNs, the command line's reason text in
 * query) committed before anything is read out (stats: in the store call of
 * its read; audit-export: its own call, before its first line), so what IT
 * reads from a cache is in that cache's trail like any clinician's export.
 * The reads are the store's (../store/operations/cache-maintenance-reads.ts);
 * this file holds no SQL. Never print from here (the caller gets the values
 * or a line callback), and never run against a profile enrolled with the
 * backend (the caller refuses: an entry whose actor is not the clinician
 * would stop the device's audit upload).
 */
import type { CacheStats } from '../cache-maintenance';
import type { CacheSession } from '../cache-session';
import { AUDIT_EVENTS_FORMAT, COMMAND_LINE_REASON, STATS_FORMAT } from '../store/operations/cache-maintenance-reads';

export { AUDIT_EVENTS_FORMAT, COMMAND_LINE_REASON, STATS_FORMAT };

/** Audit entries read per store call while exporting (a call holds the store for a few milliseconds). */
export const AUDIT_EXPORT_PAGE = 1000;

/** Counts by resource type, patients, audit entries and heads, read in the call that audits the read. */
export function auditedCacheStats(session: Pick<CacheSession, 'store'>, reason: string | null): Promise<CacheStats> {
  return session.store.call('cacheStats', { audit: { query: reason } });
}

/**
 * Every audit entry before this run's own as a BALP AuditEvent, handed to
 * `write` one by one. This run's entry is committed first, in its own
 * call, before a line is written: a run killed mid-output (Ctrl+C,
 * SIGKILL, a closed pipe) has always left its entry. The entries streamed are
 * bounded by that entry's seq (nothing written after it is included), read a
 * page at a time (nothing more is held in memory). Returns how many were written.
 */
export async function auditedAuditExport(session: Pick<CacheSession, 'store'>, reason: string | null, write: (event: Record<string, unknown>) => void): Promise<number> {
  const { seq: ownSeq } = await session.store.call('startAuditExport', { query: reason });
  let count = 0;
  let after = 0;
  for (;;) {
    const page = await session.store.call('auditEventsPage', { afterSeq: after, beforeSeq: ownSeq, limit: AUDIT_EXPORT_PAGE });
    for (const { event } of page) {
      write(event);
      count++;
    }
    if (page.length < AUDIT_EXPORT_PAGE) return count;
    after = page[page.length - 1]!.seq;
  }
}
