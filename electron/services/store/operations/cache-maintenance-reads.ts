/**
 * The store's whole-cache calls for IT and the command line (moved from
 * ../../cache-maintenance.ts and ../../export/command-line-export.ts):
 * statistics without PHI (with the command line's export entry in the same
 * transaction when asked), the audit-export's own entry and its pages of
 * BALP AuditEvents, and SQLite's integrity check. Never return a resource,
 * a name or an identifier from `cacheStats`.
 */
import { toBalpAuditEvent } from '../../../../shared/balp-audit-event';
import { storedEntry, type StoredAuditEntry } from '../../audit-chain';
import { checkCacheIntegrity } from '../../cache-database';
import { exportAuditRecords } from '../../export/export-audit';
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';

/** The reason code of a command-line export (the clinician's reasons are the contract's EXPORT_REASONS). */
export const COMMAND_LINE_REASON = 'command-line';
export const STATS_FORMAT = 'cache-stats-json';
export const AUDIT_EVENTS_FORMAT = 'audit-events-ndjson';

function commandLineEntry(tx: StoreTx, format: string, query: string | null): void {
  for (const record of exportAuditRecords({ subtype: 'export', patientId: null, format, reasonCode: COMMAND_LINE_REASON, query, read: [], outcome: '0' })) tx.audit.append(record);
}

export function cacheStats(tx: StoreTx, { audit }: StoreArgs<'cacheStats'>): StoreResults['cacheStats'] {
  const { db } = tx;
  if (audit) commandLineEntry(tx, STATS_FORMAT, audit.query);
  const resources: Record<string, number> = {};
  for (const row of db.prepare('SELECT resource_type AS t, count(*) AS n FROM resources GROUP BY resource_type ORDER BY resource_type').all() as Array<{ t: string; n: number }>) {
    resources[row.t] = row.n;
  }
  const count = (sql: string) => (db.prepare(sql).pluck().get() as number) ?? 0;
  return {
    resources,
    patients: count('SELECT count(*) FROM patients'),
    auditEntries: count('SELECT count(*) FROM audit_log'),
    signedHeads: count('SELECT count(*) FROM audit_heads'),
  };
}

export function startAuditExport(tx: StoreTx, { query }: StoreArgs<'startAuditExport'>): StoreResults['startAuditExport'] {
  commandLineEntry(tx, AUDIT_EVENTS_FORMAT, query);
  return { seq: tx.db.prepare('SELECT max(seq) FROM audit_log').pluck().get() as number };
}

export function auditEventsPage(tx: StoreTx, { afterSeq, beforeSeq, limit }: StoreArgs<'auditEventsPage'>): StoreResults['auditEventsPage'] {
  const rows = tx.db.prepare('SELECT seq, entry, prev_hash, hash FROM audit_log WHERE seq > ? AND seq < ? ORDER BY seq LIMIT ?').all(afterSeq, beforeSeq, limit) as StoredAuditEntry[];
  return rows.map((row) => ({
    seq: row.seq,
    event: toBalpAuditEvent(storedEntry(row), { applicationName: 'clinician-desktop', custodianName: `clinician-desktop-cache:${tx.deviceId}`, hash: row.hash }),
  }));
}

export function integrityCheck(tx: StoreTx): null {
  checkCacheIntegrity(tx.db);
  return null;
}
