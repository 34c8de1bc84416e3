/**
 * The store's export and print calls (moved from ../../export/): each reads
 * and appends the entries naming what it read in the call's one transaction,
 * so nothing leaves the cache without its entry and no entry stays for a
 * read that rolled back.
 * - `exportablePatient`: whether the patient is in the cache; a refused
 *   attempt is audited (outcome 4, nothing read) in the same call.
 * - `preparePrint`: the chart as chart.open reads it, with the newest
 *   observations and encounters too (chartOf; its read entries as
 *   chart.open's), and the print entries naming every resource shown.
 * - `exportSummary`: the patient summary Bundle (../../export/
 *   patient-summary-bundle.ts builds it from the rows read here) and the
 *   export entries naming every resource in it.
 * Both refuse a patient not in the cache as `exportablePatient` does
 * (audited, outcome 4, nothing read) and answer `{ found: false }`.
 * Never return a chart or a Bundle without the entries that name it.
 */
import { CHART_ITEMS_PER_TYPE, chartOf } from './patient-reads';
import { exportAuditRecords } from '../../export/export-audit';
import { buildPatientSummary, type SectionFilter, type SummaryReader } from '../../export/patient-summary-bundle';
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';

const IS_VITAL_SIGN =
  "EXISTS (SELECT 1 FROM json_each(r.json, '$.category') AS c, json_each(c.value, '$.coding') AS k WHERE json_extract(k.value, '$.code') = 'vital-signs')";

/** The condition each section filter names, on the row `r`. */
const SECTION_FILTERS: Record<SectionFilter, string> = {
  'vital-signs': IS_VITAL_SIGN,
  'not-vital-signs': `NOT ${IS_VITAL_SIGN}`,
  // Signed notes and addenda only: a draft is not part of the record.
  signed: "json_extract(r.json, '$.status') != 'preliminary'",
};

function patientInCache(tx: StoreTx, patientId: string): boolean {
  return tx.db.prepare("SELECT 1 FROM resources WHERE resource_type = 'Patient' AND id = ?").pluck().get(patientId) !== undefined;
}

export function exportablePatient(tx: StoreTx, { patientId, refusal }: StoreArgs<'exportablePatient'>): boolean {
  if (patientInCache(tx, patientId)) return true;
  if (refusal) for (const record of exportAuditRecords({ ...refusal, patientId, read: [`Patient/${patientId}`], outcome: '4' })) tx.audit.append(record);
  return false;
}

export function preparePrint(tx: StoreTx, { patientId, output, reasonCode, query }: StoreArgs<'preparePrint'>): StoreResults['preparePrint'] {
  if (!exportablePatient(tx, { patientId, refusal: { subtype: 'print', format: output, reasonCode, query } })) return { found: false };
  const printed = chartOf(tx, patientId);
  if (!printed) return { found: false };
  const { chart, read } = printed;
  for (const record of exportAuditRecords({ subtype: 'print', patientId, format: output, reasonCode, query, read, outcome: '0' })) tx.audit.append(record);
  return { found: true, chart };
}

export function exportSummary(tx: StoreTx, { patientId, author, now, reasonCode, query }: StoreArgs<'exportSummary'>): StoreResults['exportSummary'] {
  if (!exportablePatient(tx, { patientId, refusal: { subtype: 'export', format: 'fhir-json', reasonCode, query } })) return { found: false };
  const patient = tx.db.prepare("SELECT json FROM resources WHERE resource_type = 'Patient' AND id = ?").pluck();
  const reader: SummaryReader = {
    patientJson: (id) => patient.get(id) as string | undefined,
    sectionRows: (id, source) =>
      tx.db
        .prepare(
          `SELECT r.id, r.json FROM resources AS r WHERE r.patient_id = ? AND r.resource_type = ?${source.filter ? ` AND ${SECTION_FILTERS[source.filter]}` : ''} ORDER BY r.sort_date DESC LIMIT ?`,
        )
        .all(id, source.type, CHART_ITEMS_PER_TYPE) as Array<{ id: string; json: string }>,
  };
  const built = buildPatientSummary(reader, patientId, author, new Date(now));
  if (!built) return { found: false };
  for (const record of exportAuditRecords({ subtype: 'export', patientId, format: 'fhir-json', reasonCode, query, read: built.read, outcome: '0' })) tx.audit.append(record);
  return { found: true, bundle: built.bundle, read: built.read };
}
