/**
 * The store's side of drafts (moved from ../../drafts.ts, which says what a
 * draft is and how it is audited): one row per (patient, kind, target),
 * created with a C entry, discarded or cleared with a D entry, listed with
 * an R entry (a patient not in the cache: outcome 4, in the same call).
 * Never accept a target from another patient's record, and never say in a
 * refusal whether the target exists for someone else: every refusal is the
 * same NOT_FOUND text.
 */
import { AppError } from '../../../../shared/app-error';
import type { DraftKind } from '../../../../shared/contract';
import { draftTargetRef, isBlankDraftBody, parseDraftBody } from '../../drafts';
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';

const NOT_THIS_PATIENT = 'That item is not in this patient\'s record on this computer.';
const NO_PATIENT = 'That patient is not in this computer\'s cache.';

function patientExists(tx: StoreTx, patientId: string): boolean {
  return !!tx.db.prepare("SELECT 1 FROM resources WHERE resource_type = 'Patient' AND id = ?").pluck().get(patientId);
}

/**
 * Checks what a draft may point at: a note draft a preliminary Composition
 * of this patient, an addendum a final one, a problem a Condition of this
 * patient; vitals point at nothing, an addendum always at a signed note.
 */
function checkTarget(tx: StoreTx, patientId: string, kind: DraftKind, target: string): void {
  if (target === '') {
    if (kind === 'addendum') throw new AppError('NOT_FOUND', NOT_THIS_PATIENT);
    return;
  }
  if (kind === 'vitals') throw new AppError('INVALID_INPUT', 'A vital signs draft has no target.');
  const type = kind === 'problem' ? 'Condition' : 'Composition';
  const row = tx.db
    .prepare(
      `SELECT json_extract(json, '$.status') AS status, json_extract(json, '$.subject.reference') AS subject
         FROM resources WHERE resource_type = ? AND id = ? AND patient_id = ?`,
    )
    .get(type, target, patientId) as { status: unknown; subject: unknown } | undefined;
  if (!row) throw new AppError('NOT_FOUND', NOT_THIS_PATIENT);
  if (type === 'Composition') {
    const wanted = kind === 'note' ? 'preliminary' : 'final';
    if (row.status !== wanted || row.subject !== `Patient/${patientId}`) throw new AppError('NOT_FOUND', NOT_THIS_PATIENT);
  }
}

/** Saves a draft; audited only when the row is created. A body with nothing typed removes the draft as a discard would. */
export function putDraft(tx: StoreTx, input: StoreArgs<'putDraft'>): StoreResults['putDraft'] {
  const { db } = tx;
  const updatedAt = input.now;
  if (!patientExists(tx, input.patientId)) throw new AppError('NOT_FOUND', NO_PATIENT);
  checkTarget(tx, input.patientId, input.kind, input.target);
  if (isBlankDraftBody(input.body)) {
    clearDraft(tx, input);
    return { updatedAt };
  }
  const existed = !!db.prepare('SELECT 1 FROM drafts WHERE patient_id = ? AND kind = ? AND target = ?').pluck().get(input.patientId, input.kind, input.target);
  db.prepare(
    `INSERT INTO drafts (patient_id, kind, target, body_json, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (patient_id, kind, target) DO UPDATE SET body_json = excluded.body_json, updated_at = excluded.updated_at`,
  ).run(input.patientId, input.kind, input.target, JSON.stringify(input.body), updatedAt);
  if (!existed) {
    const ref = draftTargetRef(input.kind, input.target);
    tx.audit.append({ action: 'C', subtype: 'create', patientId: input.patientId, entities: ref ? [ref] : [], query: null, outcome: '0' });
  }
  return { updatedAt };
}

interface DraftRow {
  patient_id: string;
  kind: DraftKind;
  target: string;
  body_json: string;
  updated_at: string;
}

/** A patient's drafts, newest first; audited as a read when it returns any; a patient not in the cache is a failed read (outcome 4). */
export function listDrafts(tx: StoreTx, { patientId }: StoreArgs<'listDrafts'>): StoreResults['listDrafts'] {
  if (!patientExists(tx, patientId)) {
    tx.audit.append({ action: 'R', subtype: 'read', patientId, entities: [`Patient/${patientId}`], query: null, outcome: '4' });
    return { found: false };
  }
  const rows = tx.db
    .prepare('SELECT patient_id, kind, target, body_json, updated_at FROM drafts WHERE patient_id = ? ORDER BY updated_at DESC, kind, target')
    .all(patientId) as DraftRow[];
  if (rows.length > 0) {
    const refs = rows.map((r) => draftTargetRef(r.kind, r.target)).filter((r): r is string => r !== null);
    tx.audit.append({ action: 'R', subtype: 'read', patientId, entities: [`Patient/${patientId}`, ...new Set(refs)], query: null, outcome: '0' });
  }
  return { found: true, drafts: rows.map((r) => ({ patientId: r.patient_id, kind: r.kind, target: r.target, body: parseDraftBody(r.body_json), updatedAt: r.updated_at })) };
}

/** Removes a draft; audited as a delete when there was one. */
export function clearDraft(tx: StoreTx, { patientId, kind, target }: StoreArgs<'clearDraft'>): boolean {
  const removed = tx.db.prepare('DELETE FROM drafts WHERE patient_id = ? AND kind = ? AND target = ?').run(patientId, kind, target).changes > 0;
  if (removed) {
    const ref = draftTargetRef(kind, target);
    tx.audit.append({ action: 'D', subtype: 'delete', patientId, entities: ref ? [ref] : [], query: null, outcome: '0' });
  }
  return removed;
}

/** Removes every draft of `kind` for `target`, whoever's patient it was filed under. */
export function clearDraftsOfTarget(tx: StoreTx, { kind, target }: StoreArgs<'clearDraftsOfTarget'>): boolean {
  const patients = tx.db.prepare('SELECT patient_id FROM drafts WHERE kind = ? AND target = ?').pluck().all(kind, target) as string[];
  let removed = false;
  for (const patientId of patients) removed = clearDraft(tx, { patientId, kind, target }) || removed;
  return removed;
}
