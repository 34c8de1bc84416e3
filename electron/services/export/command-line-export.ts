/**
 * The cache command line's `stats` and `audit-export`, audited (issue 13):
 * each run writes one 'export' entry (actor: the OS account, patient null,
 * format and reason as exportFacts URNs, the command line's reason text in
 * query) committed before anything is read out (stats: in the transaction
 * of its read; audit-export: before its first line), so what IT reads from a cache
 * is in that cache's trail like any clinician's export. Never print from
 * here (the caller gets the values or a line callback), and never run
 * against a profile enrolled with the backend (the caller refuses: an entry
 * whose actor is not the clinician would stop the device's audit upload).
 */
import { auditEvents, cacheStats, type CacheStats } from '../cache-maintenance';
import type { CacheSession } from '../cache-session';
import { appendExportAudit } from './export-audit';

/** The reason code of a command-line export (the clinician's reasons are the contract's EXPORT_REASONS). */
export const COMMAND_LINE_REASON = 'command-line';
export const STATS_FORMAT = 'cache-stats-json';
export const AUDIT_EVENTS_FORMAT = 'audit-events-ndjson';

function audit(session: CacheSession, format: string, reason: string | null): void {
  appendExportAudit(session, { subtype: 'export', patientId: null, format, reasonCode: COMMAND_LINE_REASON, query: reason, read: [], outcome: '0' });
}

/** Counts by resource type, patients, audit entries and heads, read in the transaction that audits the read. */
export function auditedCacheStats(session: CacheSession, reason: string | null): CacheStats {
  return session.audited(() => {
    audit(session, STATS_FORMAT, reason);
    return cacheStats(session);
  });
}

/**
 * Every audit entry before this run's own as a BALP AuditEvent, handed to
 * `write` one by one. This run's entry is committed first, in its own
 * transaction, before a line is written: a run killed mid-output (Ctrl+C,
 * SIGKILL, a closed pipe) has always left its entry. The entries streamed are
 * bounded by that entry's seq (nothing written after it is included; nothing
 * is held in memory). Returns how many were written.
 */
export function auditedAuditExport(session: CacheSession, reason: string | null, write: (event: Record<string, unknown>) => void): number {
  const ownSeq = session.audited(() => {
    audit(session, AUDIT_EVENTS_FORMAT, reason);
    return session.db.prepare('SELECT max(seq) FROM audit_log').pluck().get() as number;
  });
  let count = 0;
  for (const event of auditEvents(session, ownSeq)) {
    write(event);
    count++;
  }
  return count;
}
