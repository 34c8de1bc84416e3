/**
 * The store's read paths into the chart data: patient search, a patient's
 * chart and a patient's access trail. Each runs inside the call's one
 * transaction and appends its BALP entries there, so there is no read of
 * PHI without its entry and no entry without the read. Never return PHI
 * without auditing it. (Moved from ../../patient-records.ts.)
 */
import { SEARCH_RESULTS_MAX, type AuditEntryView, type Chart, type FhirResource, type PatientSummary } from '../../../../shared/contract';
import type { AuditAction, AuditOutcome, AuditSubtype } from '../../../../shared/audit-entry';
import { searchQueryTerms } from '../../../../shared/fhir-fields';
import { MAX_AUDIT_ENTITIES } from '../../audit-chain';
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';
import { clinicianNames } from './clinician-names';

/** Newest items per resource type in a chart; the total is always given. */
export const CHART_ITEMS_PER_TYPE = 200;
/** Billing resources: counted in a chart, not sent to the screen. */
const COUNT_ONLY_TYPES = new Set(['Claim', 'ExplanationOfBenefit']);

/** A row of the patients table, as search, chart and worklist read it. */
export interface PatientRow {
  id: string;
  display_name: string;
  birth_date: string | null;
  gender: string | null;
  mrn: string | null;
}

export const PATIENT_ROW_SQL = 'SELECT id, display_name, birth_date, gender, mrn FROM patients WHERE id = ?';

export function toSummary(row: PatientRow): PatientSummary {
  return { id: row.id, name: row.display_name, birthDate: row.birth_date, gender: row.gender, mrn: row.mrn };
}

/**
 * Prefix search, case-insensitive: every word of the query must start one of
 * the patient's name parts, their MRN or their birth date (indexed as
 * YYYY-MM-DD; dates typed otherwise are read into that form first:
 * shared/fhir-fields.ts searchQueryTerms; a year alone is a prefix).
 * Audited per BALP: one query event (E) per patient returned, or one with no
 * patient when nothing matched.
 */
export function searchPatients(tx: StoreTx, { query }: StoreArgs<'searchPatients'>): StoreResults['searchPatients'] {
  const terms = searchQueryTerms(query).slice(0, 8);
  const byTerm = tx.db.prepare('SELECT DISTINCT patient_id FROM patient_search_terms WHERE term >= ? AND term < ?').pluck();
  const getPatient = tx.db.prepare(PATIENT_ROW_SQL);
  let ids: string[] = [];
  terms.forEach((alternatives, i) => {
    const matches = alternatives.flatMap((token) => byTerm.all(token, `${token}\uffff`) as string[]);
    if (i === 0) ids = [...new Set(matches)];
    else {
      const wanted = new Set(matches);
      ids = ids.filter((id) => wanted.has(id));
    }
  });
  const rows = ids
    .map((id) => getPatient.get(id) as PatientRow | undefined)
    .filter((r): r is PatientRow => r !== undefined)
    .sort((a, b) => a.display_name.localeCompare(b.display_name) || a.id.localeCompare(b.id));
  const shown = rows.slice(0, SEARCH_RESULTS_MAX);
  const record = { action: 'E' as const, subtype: 'search-type' as const, query, outcome: '0' as const };
  if (shown.length === 0) tx.audit.append({ ...record, patientId: null, entities: [] });
  for (const row of shown) tx.audit.append({ ...record, patientId: row.id, entities: [`Patient/${row.id}`] });
  return { patients: shown.map(toSummary), truncated: rows.length > shown.length };
}

/** A chart as the cache holds it: the stored JSON of each resource, unparsed; `read`: `Type/id` of each resource read. */
interface ChartRows {
  summary: PatientSummary;
  patientJson: string;
  groups: Array<{ type: string; total: number; items: Array<{ id: string; json: string }> }>;
  read: string[];
}

/**
 * A patient's chart: resources grouped by type, newest first. Audited as a
 * read (R) naming every resource read; a patient the cache does not hold is
 * audited as a failed read (outcome 4) in the same transaction and answered
 * `undefined`.
 */
function readChart(tx: StoreTx, patientId: string): ChartRows | undefined {
  const { db } = tx;
  const patientJson = db.prepare("SELECT json FROM resources WHERE resource_type = 'Patient' AND id = ?").pluck().get(patientId) as string | undefined;
  if (patientJson === undefined) {
    tx.audit.append({ action: 'R', subtype: 'read', patientId, entities: [`Patient/${patientId}`], query: null, outcome: '4' });
    return undefined;
  }
  const counts = db.prepare(
    "SELECT resource_type AS type, count(*) AS total FROM resources WHERE patient_id = ? AND resource_type != 'Patient' GROUP BY resource_type",
  );
  const newest = db.prepare('SELECT id, json FROM resources WHERE patient_id = ? AND resource_type = ? ORDER BY sort_date DESC LIMIT ?');
  const groups: ChartRows['groups'] = [];
  // `Type/id` of every resource read (counted-only types are not read, so not named).
  const read = [`Patient/${patientId}`];
  for (const { type, total } of counts.all(patientId) as Array<{ type: string; total: number }>) {
    const items = COUNT_ONLY_TYPES.has(type) ? [] : (newest.all(patientId, type, CHART_ITEMS_PER_TYPE) as Array<{ id: string; json: string }>);
    for (const row of items) read.push(`${type}/${row.id}`);
    groups.push({ type, total, items });
  }
  // At most MAX_AUDIT_ENTITIES references an entry, as imports and pulls: a big chart is several read entries.
  for (let i = 0; i < read.length; i += MAX_AUDIT_ENTITIES) {
    tx.audit.append({ action: 'R', subtype: 'read', patientId, entities: read.slice(i, i + MAX_AUDIT_ENTITIES), query: null, outcome: '0' });
  }
  return { summary: toSummary(db.prepare(PATIENT_ROW_SQL).get(patientId) as PatientRow), patientJson, groups, read };
}

/** The chart, parsed, and the `Type/id` of each resource read (the print view builds on both inside the store). */
export function chartOf(tx: StoreTx, patientId: string): { chart: Chart; read: string[] } | undefined {
  const rows = readChart(tx, patientId);
  if (!rows) return undefined;
  const groups: Chart['groups'] = {};
  for (const g of rows.groups) groups[g.type] = { total: g.total, items: g.items.map((row) => JSON.parse(row.json) as FhirResource) };
  return { chart: { summary: rows.summary, patient: JSON.parse(rows.patientJson) as FhirResource, groups }, read: rows.read };
}

/**
 * chart.open's read: the chart as one JSON text made of the resources' stored
 * JSON, never parsed here. A chart crosses to the main thread as one string
 * (copied whole) instead of a graph of a few hundred objects (cloned node by
 * node, which cost as much as the read), and main parses it once.
 */
export function openChart(tx: StoreTx, { patientId }: StoreArgs<'openChart'>): StoreResults['openChart'] {
  const rows = readChart(tx, patientId);
  if (!rows) return { found: false };
  const groups = rows.groups.map((g) => `${JSON.stringify(g.type)}:{"total":${g.total},"items":[${g.items.map((row) => row.json).join(',')}]}`);
  return { found: true, chartJson: `{"summary":${JSON.stringify(rows.summary)},"patient":${rows.patientJson},"groups":{${groups.join(',')}}}` };
}

interface TrailRow {
  seq: number;
  recorded_at: string;
  actor: string;
  action: AuditAction;
  subtype: AuditSubtype;
  outcome: AuditOutcome;
  device_id: string;
  purpose: string;
}

/** Who accessed this patient's record on this device, newest first, with display names where this computer knows them. */
export function patientAccessTrail(tx: StoreTx, { patientId, limit }: StoreArgs<'patientAccessTrail'>): AuditEntryView[] {
  const rows = tx.db
    .prepare('SELECT seq, recorded_at, actor, action, subtype, outcome, device_id, purpose FROM audit_log WHERE patient_id = ? ORDER BY seq DESC LIMIT ?')
    .all(patientId, limit) as TrailRow[];
  const names = clinicianNames(tx, rows.map((r) => r.actor));
  return rows.map((r) => ({
    seq: r.seq,
    recordedAt: r.recorded_at,
    actor: r.actor,
    actorName: names.get(r.actor) ?? null,
    action: r.action,
    subtype: r.subtype,
    outcome: r.outcome,
    deviceId: r.device_id,
    purpose: r.purpose,
  }));
}
