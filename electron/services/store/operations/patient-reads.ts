/**
 * The store's read paths into the chart data: patient search, a patient's
 * chart, its observations and encounters when a tab asks (chart.results,
 * chart.encounters) and its access trail. Each runs inside the call's one
 * transaction and appends its BALP entries there, so there is no read of
 * PHI without its entry and no entry without the read. Never return PHI
 * without auditing it. (Moved from ../../patient-records.ts.)
 */
import { SEARCH_RESULTS_MAX, type AuditEntryView, type Chart, type FhirResource, type PatientSummary } from '../../../../shared/contract';
import type { AuditAction, AuditOutcome, AuditSubtype } from '../../../../shared/audit-entry';
import { searchQueryTerms } from '../../../../shared/fhir-fields';
import { SUMMARY_OBSERVATION_CODES } from '../../../../shared/summary-codes';
import { MAX_AUDIT_ENTITIES } from '../../audit-chain';
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';
import { clinicianNames } from './clinician-names';
import { perConnection } from '../per-connection';

/** Newest items per resource type in a chart; the total is always given. */
export const CHART_ITEMS_PER_TYPE = 200;
/** Billing resources: counted in a chart, not sent to the screen. */
const COUNT_ONLY_TYPES = new Set(['Claim', 'ExplanationOfBenefit']);
/** Safety lists sent whole, however long: a chart never leaves out an allergy or a problem. */
const WHOLE_TYPES = new Set(['AllergyIntolerance', 'Condition']);
/**
 * Groups the chart opens counted, without their items: each is read when its
 * tab (or the consultation dialog) asks, chart.results and chart.encounters;
 * the print's chart holds their newest.
 */
const DEFERRED_TYPES = ['Observation', 'Encounter'] as const;
type DeferredType = (typeof DEFERRED_TYPES)[number];
const DEFERRED = new Set<string>(DEFERRED_TYPES);
const SUMMARY_CODES_JSON = JSON.stringify(SUMMARY_OBSERVATION_CODES);
/** Medication requests that are current: every one is sent, with the newest CHART_ITEMS_PER_TYPE of the others. */
const CURRENT_MEDICATION_STATUSES = "('active', 'on-hold', 'draft')";

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
  latestObservations: Array<{ id: string; json: string }>;
  read: string[];
}

/** The chart reads' statements, prepared once per connection (a chart opens often; preparing them cost about a tenth of an open). */
const chartStatements = perConnection((db) => ({
  patientJson: db.prepare("SELECT json FROM resources WHERE resource_type = 'Patient' AND id = ?").pluck(),
  patientRow: db.prepare(PATIENT_ROW_SQL),
  counts: db.prepare("SELECT resource_type AS type, count(*) AS total FROM resources WHERE patient_id = ? AND resource_type != 'Patient' GROUP BY resource_type"),
  newest: db.prepare('SELECT id, json FROM resources WHERE patient_id = ? AND resource_type = ? ORDER BY sort_date DESC LIMIT ?'),
  medications: db.prepare(
    `SELECT id, json FROM resources WHERE patient_id = @patientId AND resource_type = 'MedicationRequest'
        AND (rowid IN (SELECT rowid FROM resources WHERE patient_id = @patientId AND resource_type = 'MedicationRequest' ORDER BY sort_date DESC LIMIT @limit)
             OR json_extract(json, '$.status') IN ${CURRENT_MEDICATION_STATUSES})
      ORDER BY sort_date DESC`,
  ),
  typeCount: db.prepare('SELECT count(*) FROM resources WHERE patient_id = ? AND resource_type = ?').pluck(),
  // For each code of the JSON array bound first, the newest usable reading of it: one index seek a code, in one call.
  newestOfEachCode: db.prepare(
    `SELECT r.id, r.json FROM json_each(?) AS k JOIN resources r ON r.rowid = (
       SELECT c.resource_rowid FROM observation_codes c JOIN resources v ON v.rowid = c.resource_rowid
        WHERE c.patient_id = ? AND c.code = k.value AND coalesce(json_extract(v.json, '$.status'), '') NOT IN ('entered-in-error', 'cancelled')
        ORDER BY c.sort_date DESC, c.resource_rowid DESC LIMIT 1)`,
  ),
}));

/** A patient's newest resources of a type, at most CHART_ITEMS_PER_TYPE. */
function newestOf(tx: StoreTx, patientId: string, type: string): Array<{ id: string; json: string }> {
  return chartStatements(tx.db).newest.all(patientId, type, CHART_ITEMS_PER_TYPE) as Array<{ id: string; json: string }>;
}

/**
 * The newest observation of each code the chart's summary shows (vital signs
 * and code status: shared/summary-codes.ts), in any coding (cache migration
 * 7's observation_codes), skipping readings entered in error or cancelled,
 * once each: the latest vitals and the banner's code status, however many
 * newer results of other codes there are.
 */
function latestSummaryObservations(tx: StoreTx, patientId: string): Array<{ id: string; json: string }> {
  const rows = new Map<string, { id: string; json: string }>();
  for (const row of chartStatements(tx.db).newestOfEachCode.all(SUMMARY_CODES_JSON, patientId) as Array<{ id: string; json: string }>) rows.set(row.id, row);
  return [...rows.values()];
}

/** Appends the read entries naming `read`: at most MAX_AUDIT_ENTITIES references an entry, as imports and pulls. */
function auditRead(tx: StoreTx, patientId: string, read: string[]): void {
  for (let i = 0; i < read.length; i += MAX_AUDIT_ENTITIES) {
    tx.audit.append({ action: 'R', subtype: 'read', patientId, entities: read.slice(i, i + MAX_AUDIT_ENTITIES), query: null, outcome: '0' });
  }
}

/** Whether the cache holds the patient; if not, the attempt is audited as a failed read (outcome 4). */
function patientJsonOrRefusal(tx: StoreTx, patientId: string): string | undefined {
  const patientJson = chartStatements(tx.db).patientJson.get(patientId) as string | undefined;
  if (patientJson === undefined) tx.audit.append({ action: 'R', subtype: 'read', patientId, entities: [`Patient/${patientId}`], query: null, outcome: '4' });
  return patientJson;
}

/**
 * A patient's chart: resources grouped by type, newest first (at most
 * CHART_ITEMS_PER_TYPE a type; allergies and problems whole; medication
 * requests every current one too). `mode` 'open' (chart.open) counts the
 * DEFERRED_TYPES without their items and adds the newest observation of each
 * code the summary shows; 'print' holds their newest instead, and no latest
 * observations (the print shows the history). Audited as a read (R)
 * naming every resource read; a patient the cache does not hold is audited
 * as a failed read (outcome 4) in the same transaction and answered
 * `undefined`.
 */
function readChart(tx: StoreTx, patientId: string, mode: 'open' | 'print'): ChartRows | undefined {
  const patientJson = patientJsonOrRefusal(tx, patientId);
  if (patientJson === undefined) return undefined;
  const { counts, newest, medications, patientRow } = chartStatements(tx.db);
  const groups: ChartRows['groups'] = [];
  // `Type/id` of every resource read, once each (counted-only types are not read, so not named).
  const read = new Set([`Patient/${patientId}`]);
  let latestObservations: ChartRows['latestObservations'] = [];
  for (const { type, total } of counts.all(patientId) as Array<{ type: string; total: number }>) {
    let items: Array<{ id: string; json: string }> = [];
    if (DEFERRED.has(type)) {
      if (mode === 'print') items = newestOf(tx, patientId, type);
      else if (type === 'Observation') {
        latestObservations = latestSummaryObservations(tx, patientId);
        for (const row of latestObservations) read.add(`Observation/${row.id}`);
      }
    } else if (type === 'MedicationRequest' && total > CHART_ITEMS_PER_TYPE) {
      // Past the window only: the current requests among the older ones join the newest.
      items = medications.all({ patientId, limit: CHART_ITEMS_PER_TYPE }) as Array<{ id: string; json: string }>;
    } else if (!COUNT_ONLY_TYPES.has(type)) {
      items = newest.all(patientId, type, WHOLE_TYPES.has(type) ? -1 : CHART_ITEMS_PER_TYPE) as Array<{ id: string; json: string }>;
    }
    for (const row of items) read.add(`${type}/${row.id}`);
    groups.push({ type, total, items });
  }
  auditRead(tx, patientId, [...read]);
  return { summary: toSummary(patientRow.get(patientId) as PatientRow), patientJson, groups, latestObservations, read: [...read] };
}

const parseRows = (rows: Array<{ json: string }>) => rows.map((row) => JSON.parse(row.json) as FhirResource);

/** The print's chart, parsed, with the newest observations in its Observation group, and the `Type/id` of each resource read (the print entries name them). */
export function chartOf(tx: StoreTx, patientId: string): { chart: Chart; read: string[] } | undefined {
  const rows = readChart(tx, patientId, 'print');
  if (!rows) return undefined;
  const groups: Chart['groups'] = {};
  for (const g of rows.groups) groups[g.type] = { total: g.total, items: parseRows(g.items) };
  const chart: Chart = { summary: rows.summary, patient: JSON.parse(rows.patientJson) as FhirResource, groups, latestObservations: parseRows(rows.latestObservations) };
  return { chart, read: rows.read };
}

/** Stored JSON texts as one JSON array, never parsed here. */
const jsonArray = (rows: Array<{ json: string }>) => `[${rows.map((row) => row.json).join(',')}]`;

/**
 * chart.open's read: the chart as one JSON text made of the resources' stored
 * JSON, never parsed here. A chart crosses to the main thread as one string
 * (copied whole) instead of a graph of a few hundred objects (cloned node by
 * node, which cost as much as the read), and main parses it once. The
 * deferred groups' items are not in it (chart.results, chart.encounters).
 */
export function openChart(tx: StoreTx, { patientId }: StoreArgs<'openChart'>): StoreResults['openChart'] {
  const rows = readChart(tx, patientId, 'open');
  if (!rows) return { found: false };
  const groups = rows.groups.map((g) => `${JSON.stringify(g.type)}:{"total":${g.total},"items":${jsonArray(g.items)}}`);
  const latest = jsonArray(rows.latestObservations);
  return {
    found: true,
    chartJson: `{"summary":${JSON.stringify(rows.summary)},"patient":${rows.patientJson},"groups":{${groups.join(',')}},"latestObservations":${latest}}`,
  };
}

/**
 * A deferred group's read: the patient's newest resources of `type` (at most
 * CHART_ITEMS_PER_TYPE) and how many there are, as one JSON text (a
 * `ChartGroup`), audited as chart.open is (a read naming each; a patient not
 * in the cache, outcome 4, and undefined).
 */
function deferredGroup(tx: StoreTx, patientId: string, type: DeferredType): string | undefined {
  if (patientJsonOrRefusal(tx, patientId) === undefined) return undefined;
  const total = chartStatements(tx.db).typeCount.get(patientId, type) as number;
  const items = newestOf(tx, patientId, type);
  auditRead(tx, patientId, [`Patient/${patientId}`, ...items.map((row) => `${type}/${row.id}`)]);
  return `{"total":${total},"items":${jsonArray(items)}}`;
}

/** chart.results' read: the Results tab's observation history. */
export function chartResults(tx: StoreTx, { patientId }: StoreArgs<'chartResults'>): StoreResults['chartResults'] {
  const groupJson = deferredGroup(tx, patientId, 'Observation');
  return groupJson === undefined ? { found: false } : { found: true, groupJson };
}

/** chart.encounters' read: the Encounters tab's timeline and the consultation dialog's choice. */
export function chartEncounters(tx: StoreTx, { patientId }: StoreArgs<'chartEncounters'>): StoreResults['chartEncounters'] {
  const groupJson = deferredGroup(tx, patientId, 'Encounter');
  return groupJson === undefined ? { found: false } : { found: true, groupJson };
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
