/**
 * The audit entries of an export or print (BALP export, our subtypes
 * 'export' and 'print'): action R, the patient (null for a command-line run
 * over the whole cache), entities the `exportFacts` URNs (format, reason
 * code) followed by the resources read, at most MAX_AUDIT_ENTITIES per entry
 * (a big chart is several entries, each carrying the facts); the reason's
 * free text in `query`. Pure: the store appends them inside the transaction
 * that reads (../store/operations/export-reads.ts), or main sends them with
 * `appendAudit` for what read nothing (a write that failed). Never put
 * resource content in it.
 */
import { exportFacts, type AuditOutcome } from '../../../shared/audit-entry';
import { MAX_AUDIT_ENTITIES } from '../audit-chain';
import type { StoreArgs } from '../store/store-api';

export interface ExportAuditRecord {
  subtype: 'export' | 'print';
  patientId: string | null;
  /** fhir-json, pdf, printer; or the command line's own (audit-events-ndjson, cache-stats-json). */
  format: string;
  reasonCode: string;
  /** Free text (the clinician's reason, the command line's command), or null. */
  query: string | null;
  /** `Type/id` of everything read; empty for a refusal or a whole-cache command. */
  read: readonly string[];
  outcome: AuditOutcome;
}

export type AuditRecord = StoreArgs<'appendAudit'>['records'][number];

/** The entries of one export or print: one per MAX_AUDIT_ENTITIES resources read, each with the facts. */
export function exportAuditRecords(record: ExportAuditRecord): AuditRecord[] {
  const facts = exportFacts({ format: record.format, reason: record.reasonCode });
  const per = MAX_AUDIT_ENTITIES - facts.length;
  const records: AuditRecord[] = [];
  let i = 0;
  do {
    records.push({
      action: 'R',
      subtype: record.subtype,
      patientId: record.patientId,
      entities: [...facts, ...record.read.slice(i, i + per)],
      query: record.query,
      outcome: record.outcome,
    });
    i += per;
  } while (i < record.read.length);
  return records;
}
