/**
 * Unfinished work (a note, an addendum, vitals, a problem edit) kept in the
 * encrypted cache as the clinician types, so a lock, a closed chart or a
 * quit loses nothing. Drafts stay on this computer: they are never queued
 * for the backend. One row per (patient, kind, target).
 *
 * Auditing: a draft is PHI written locally. Creating a draft row is one
 * audit entry (C create, naming the drafted resource if any); the updates
 * that follow on every keystroke are not audited (one entry per keystroke
 * would drown the trail, and the creation entry already says this clinician
 * wrote a draft for this patient). Discarding (or clearing after a save,
 * or a put with nothing typed) an existing draft is one entry (D delete).
 * A draft with nothing typed is never stored: it would keep an unassigned
 * patient on this computer (sync-pull keeps a patient for typed work only). Listing a patient's drafts is a
 * read (R) of that patient, audited when it returns drafts (nothing read,
 * nothing to audit); like chart.open, a refused list of a patient not in the
 * cache is audited with outcome 4.
 *
 * Never accept a target from another patient's record, and never say in a
 * refusal whether the target exists for someone else: every refusal is the
 * same NOT_FOUND text.
 */
import { AppError } from '../../shared/app-error';
import type { Draft, DraftKind } from '../../shared/contract';
import type { CacheSession } from './cache-session';

const NOT_THIS_PATIENT = 'That item is not in this patient\'s record on this computer.';
const NO_PATIENT = 'That patient is not in this computer\'s cache.';

function patientExists(session: CacheSession, patientId: string): boolean {
  return !!session.db.prepare("SELECT 1 FROM resources WHERE resource_type = 'Patient' AND id = ?").pluck().get(patientId);
}

/** The FHIR reference a draft of `kind` edits, or null when it drafts something new. */
export function draftTargetRef(kind: DraftKind, target: string): string | null {
  if (target === '') return null;
  if (kind === 'note' || kind === 'addendum') return `Composition/${target}`;
  if (kind === 'problem') return `Condition/${target}`;
  return null;
}

/**
 * Checks what a draft may point at: a note draft a preliminary Composition
 * of this patient, an addendum a final one, a problem a Condition of this
 * patient; vitals point at nothing, an addendum always at a signed note.
 */
function checkTarget(session: CacheSession, patientId: string, kind: DraftKind, target: string): void {
  if (target === '') {
    if (kind === 'addendum') throw new AppError('NOT_FOUND', NOT_THIS_PATIENT);
    return;
  }
  if (kind === 'vitals') throw new AppError('INVALID_INPUT', 'A vital signs draft has no target.');
  const type = kind === 'problem' ? 'Condition' : 'Composition';
  const row = session.db
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

/**
 * Whether a draft body holds nothing typed: every value is empty once
 * whitespace, format characters (zero-width spaces, BOM) and control
 * characters are removed. A blank draft is never stored.
 */
export function isBlankDraftBody(body: Record<string, unknown>): boolean {
  return Object.values(body).every((v) => typeof v !== 'string' || v.replace(/[\p{White_Space}\p{Cf}\p{Cc}]/gu, '') === '');
}

/** Parsed stored body text is blank (see isBlankDraftBody); unreadable text counts as blank. */
export function isBlankDraftJson(json: string): boolean {
  return isBlankDraftBody(parseBody(json));
}

/**
 * Saves a draft (creates or replaces its body); audited only when the row is
 * created. A body with nothing typed is not stored: it removes the draft as a
 * discard would (audited as a delete when there was one).
 */
export function putDraft(
  session: CacheSession,
  input: { patientId: string; kind: DraftKind; target: string; body: Record<string, string> },
  now: Date,
): { updatedAt: string } {
  const { db } = session;
  const updatedAt = now.toISOString();
  return session.audited(() => {
    if (!patientExists(session, input.patientId)) throw new AppError('NOT_FOUND', NO_PATIENT);
    checkTarget(session, input.patientId, input.kind, input.target);
    if (isBlankDraftBody(input.body)) {
      clearDraft(session, input.patientId, input.kind, input.target);
      return { updatedAt };
    }
    const existed = !!db
      .prepare('SELECT 1 FROM drafts WHERE patient_id = ? AND kind = ? AND target = ?')
      .pluck()
      .get(input.patientId, input.kind, input.target);
    db.prepare(
      `INSERT INTO drafts (patient_id, kind, target, body_json, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (patient_id, kind, target) DO UPDATE SET body_json = excluded.body_json, updated_at = excluded.updated_at`,
    ).run(input.patientId, input.kind, input.target, JSON.stringify(input.body), updatedAt);
    if (!existed) {
      const ref = draftTargetRef(input.kind, input.target);
      session.audit.append({ action: 'C', subtype: 'create', patientId: input.patientId, entities: ref ? [ref] : [], query: null, outcome: '0' });
    }
    return { updatedAt };
  });
}

interface DraftRow {
  patient_id: string;
  kind: DraftKind;
  target: string;
  body_json: string;
  updated_at: string;
}

function parseBody(json: string): Record<string, string> {
  try {
    const value = JSON.parse(json) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

/** A patient's drafts, newest first. */
export function listDrafts(session: CacheSession, patientId: string): Draft[] {
  const { db } = session;
  const drafts = session.audited(() => {
    if (!patientExists(session, patientId)) return null;
    const rows = db
      .prepare('SELECT patient_id, kind, target, body_json, updated_at FROM drafts WHERE patient_id = ? ORDER BY updated_at DESC, kind, target')
      .all(patientId) as DraftRow[];
    if (rows.length > 0) {
      const refs = rows.map((r) => draftTargetRef(r.kind, r.target)).filter((r): r is string => r !== null);
      session.audit.append({ action: 'R', subtype: 'read', patientId, entities: [`Patient/${patientId}`, ...new Set(refs)], query: null, outcome: '0' });
    }
    return rows.map((r) => ({ patientId: r.patient_id, kind: r.kind, target: r.target, body: parseBody(r.body_json), updatedAt: r.updated_at }));
  });
  if (drafts === null) {
    session.audited(() =>
      session.audit.append({ action: 'R', subtype: 'read', patientId, entities: [`Patient/${patientId}`], query: null, outcome: '4' }),
    );
    throw new AppError('NOT_FOUND', NO_PATIENT);
  }
  return drafts;
}

/**
 * Removes a draft (the clinician discarded it, or what it drafted was
 * saved); audited as a delete when there was one. Runs inside the caller's
 * transaction when there is one, so a save and the removal of its draft
 * commit together.
 */
export function clearDraft(session: CacheSession, patientId: string, kind: DraftKind, target: string): boolean {
  return session.audited(() => {
    const removed = session.db.prepare('DELETE FROM drafts WHERE patient_id = ? AND kind = ? AND target = ?').run(patientId, kind, target).changes > 0;
    if (removed) {
      const ref = draftTargetRef(kind, target);
      session.audit.append({ action: 'D', subtype: 'delete', patientId, entities: ref ? [ref] : [], query: null, outcome: '0' });
    }
    return removed;
  });
}

/** drafts.discard: the same as clearDraft; a patient not in the cache has no drafts to discard. */
export function discardDraft(session: CacheSession, input: { patientId: string; kind: DraftKind; target: string }): { discarded: boolean } {
  return { discarded: clearDraft(session, input.patientId, input.kind, input.target) };
}

/** Removes every draft of `kind` for `target`, whoever's patient it was filed under (call inside the save's transaction). */
function clearDraftsOfTarget(session: CacheSession, kind: DraftKind, target: string): boolean {
  const patients = session.db.prepare('SELECT patient_id FROM drafts WHERE kind = ? AND target = ?').pluck().all(kind, target) as string[];
  let removed = false;
  for (const patientId of patients) removed = clearDraft(session, patientId, kind, target) || removed;
  return removed;
}

/** After a note is signed: its note draft goes, in the same transaction as the sign (call inside it). */
export function clearNoteDraftOf(session: CacheSession, noteId: string): boolean {
  return clearDraftsOfTarget(session, 'note', noteId);
}

/** After an addendum is added to a signed note: its addendum draft goes, in the same transaction (call inside it). */
export function clearAddendumDraftOf(session: CacheSession, noteId: string): boolean {
  return clearDraftsOfTarget(session, 'addendum', noteId);
}
