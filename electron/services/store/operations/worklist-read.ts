/**
 * The store's "My patients" read (moved from ../../worklist.ts): every patient in the cache (the clinician's assigned
 * patients, as the backend's access policy sent them), each with their
 * latest encounter and what needs attention: latest vital signs outside the
 * adult ranges of shared/clinical-ranges.ts (abnormal includes critical),
 * drafts, changes not yet accepted by the backend, conflicts, and recorded
 * allergies. The latest reading of a vital sign is the newest one, under any
 * of its codings, with a value and not entered in error or cancelled.
 * Built from index seeks (no scan of every resource's JSON, the outbox and
 * conflicts walked and each entry's resource looked up by key), so it stays
 * fast with hundreds of patients. Audited like a search: one query
 * event (E, search-type, query 'worklist') per patient listed. Never list a
 * patient without its audit entry, and never call a reading normal because
 * it has no range.
 */
import { ADULT_VITAL_RANGES, flagOf, isAbnormal, isCritical, type AdultRange } from '../../../../shared/clinical-ranges';
import { WORKLIST_MAX, type WorklistRow } from '../../../../shared/contract';
import type { StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';
import { toSummary, type PatientRow } from './patient-reads';

const BP_PANELS = ['85354-9', '55284-4'];
const BP_PART: Partial<Record<AdultRange['key'], string>> = { systolic: '8480-6', diastolic: '8462-4' };
const WORKLIST_QUERY = 'worklist';

type Json = Record<string, unknown>;
type Reading = { at: string; value: number };

function obj(v: unknown): Json | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
}

/** A quantity's value in the range's unit (°F converted to °C), or null. */
function valueOf(quantity: unknown, range: AdultRange): number | null {
  const q = obj(quantity);
  if (!q || typeof q.value !== 'number' || !Number.isFinite(q.value)) return null;
  const unit = String(q.code ?? q.unit ?? '');
  if (range.key === 'temperature' && /^(\[degF\]|°F|degF|F)$/.test(unit)) return ((q.value - 32) * 5) / 9;
  return q.value;
}

function componentValue(resource: Json, loinc: string, range: AdultRange): number | null {
  const components = Array.isArray(resource.component) ? resource.component : [];
  for (const c of components.map(obj)) {
    const codings = Array.isArray(obj(c?.code)?.coding) ? (obj(c?.code)!.coding as unknown[]) : [];
    if (codings.some((x) => obj(x)?.code === loinc)) return valueOf(c?.valueQuantity, range);
  }
  return null;
}

/** Every statement the worklist runs (exported so a test can EXPLAIN each: none may walk the resources table). */
export const WORKLIST_STATEMENTS = {
  patients: 'SELECT id, display_name, birth_date, gender, mrn FROM patients ORDER BY display_name, id LIMIT ?',
  encounter: `SELECT json_extract(json, '$.period.start') AS date, json_extract(json, '$.class.code') AS class_code,
            coalesce(json_extract(json, '$.type[0].text'), json_extract(json, '$.type[0].coding[0].display')) AS type
       FROM resources WHERE patient_id = ? AND resource_type = 'Encounter' ORDER BY sort_date DESC LIMIT 1`,
  // A patient's readings of one code (in any coding), newest first (cache migration 7's observation_codes).
  readings: `SELECT r.sort_date AS at, r.json FROM observation_codes c JOIN resources r ON r.rowid = c.resource_rowid
      WHERE c.patient_id = ? AND c.code = ? ORDER BY c.sort_date DESC`,
  allergies: `SELECT count(*) FROM resources WHERE patient_id = ? AND resource_type = 'AllergyIntolerance'
         AND coalesce(json_extract(json, '$.verificationStatus.coding[0].code'), '') NOT IN ('entered-in-error', 'refuted')`,
  drafts: 'SELECT patient_id, count(*) AS n FROM drafts GROUP BY patient_id',
  // The outbox and conflicts are small: each entry's resource is looked up by its key (CROSS JOIN keeps that order).
  waiting: `SELECT r.patient_id, count(*) AS n FROM outbox o CROSS JOIN resources r ON r.resource_type = o.resource_type AND r.id = o.resource_id
        WHERE r.patient_id IS NOT NULL GROUP BY r.patient_id`,
  conflicts: `SELECT r.patient_id, count(*) AS n FROM conflicts c CROSS JOIN resources r ON r.resource_type = c.resource_type AND r.id = c.resource_id
        WHERE r.patient_id IS NOT NULL GROUP BY r.patient_id`,
} as const;

/** A reading that says nothing: entered in error or cancelled. */
function voided(resource: Json): boolean {
  return resource.status === 'entered-in-error' || resource.status === 'cancelled';
}

export function patientWorklist(tx: StoreTx): StoreResults['patientWorklist'] {
  const { db } = tx;
  const patientsStmt = db.prepare(WORKLIST_STATEMENTS.patients);
  const encounterStmt = db.prepare(WORKLIST_STATEMENTS.encounter);
  const readingsStmt = db.prepare(WORKLIST_STATEMENTS.readings);
  const allergyStmt = db.prepare(WORKLIST_STATEMENTS.allergies).pluck();
  const counts = (sql: string) => new Map((db.prepare(sql).all() as Array<{ patient_id: string; n: number }>).map((r) => [r.patient_id, r.n]));

  /** The newest reading of `code` with a usable value (`valueFrom` gives it, or null), not voided. */
  const newestUsable = (patientId: string, code: string, valueFrom: (resource: Json) => number | null): Reading | null => {
    for (const row of readingsStmt.iterate(patientId, code) as IterableIterator<{ at: string | null; json: string }>) {
      const resource = JSON.parse(row.json) as Json;
      if (voided(resource)) continue;
      const value = valueFrom(resource);
      if (value !== null) return { at: row.at ?? '', value };
    }
    return null;
  };

  const latestReading = (patientId: string, range: AdultRange): Reading | null => {
    let best: Reading | null = null;
    const consider = (r: Reading | null) => {
      if (r !== null && (best === null || r.at > best.at)) best = r;
    };
    for (const code of range.loinc) consider(newestUsable(patientId, code, (o) => valueOf(o.valueQuantity, range)));
    const part = BP_PART[range.key];
    if (part) for (const panel of BP_PANELS) consider(newestUsable(patientId, panel, (o) => componentValue(o, part, range)));
    return best;
  };

  const rows = patientsStmt.all(WORKLIST_MAX + 1) as PatientRow[];
  const shown = rows.slice(0, WORKLIST_MAX);
  const drafts = counts(WORKLIST_STATEMENTS.drafts);
  const waiting = counts(WORKLIST_STATEMENTS.waiting);
  const conflicts = counts(WORKLIST_STATEMENTS.conflicts);
  const patients: WorklistRow[] = shown.map((p) => {
    const enc = encounterStmt.get(p.id) as { date: unknown; class_code: unknown; type: unknown } | undefined;
    let abnormalVitals = 0;
    let criticalVitals = 0;
    for (const range of ADULT_VITAL_RANGES) {
      const reading = latestReading(p.id, range);
      if (!reading) continue;
      const flag = flagOf(reading.value, range);
      if (isAbnormal(flag)) abnormalVitals++;
      if (isCritical(flag)) criticalVitals++;
    }
    const text = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null);
    return {
      ...toSummary(p),
      latestEncounter: enc ? { date: text(enc.date), classCode: text(enc.class_code), type: text(enc.type) } : null,
      flags: {
        abnormalVitals,
        criticalVitals,
        drafts: drafts.get(p.id) ?? 0,
        waiting: waiting.get(p.id) ?? 0,
        conflicts: conflicts.get(p.id) ?? 0,
        allergies: allergyStmt.get(p.id) as number,
      },
    };
  });
  const record = { action: 'E' as const, subtype: 'search-type' as const, query: WORKLIST_QUERY, outcome: '0' as const };
  if (shown.length === 0) tx.audit.append({ ...record, patientId: null, entities: [] });
  for (const p of shown) tx.audit.append({ ...record, patientId: p.id, entities: [`Patient/${p.id}`] });
  return { patients, truncated: rows.length > shown.length };
}
