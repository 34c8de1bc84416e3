/**
 * Charting in main: vital signs, SOAP notes (draft, sign, addendum) and
 * problem list changes, each written to the cache with its outbox and audit
 * entries in one transaction, so it works offline and reaches the backend
 * later exactly once. A signed note is never changed: a correction is an
 * addendum. Never write an implausible vital or edit a signed note.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../../shared/app-error';
import {
  addendumComposition,
  noteComposition,
  problemCondition,
  isBlankText,
  sectionPlainText,
  vitalObservations,
  type NoteDraft,
  type ProblemInput,
  type VitalsInput,
} from '../../shared/charting';
import type { FhirResource } from '../../shared/contract';
import type { CacheSession } from './cache-session';
import { recordChange, recordChanges } from './outbox';
import { actorDisplayName } from './workspace-state';

function existing(session: CacheSession, type: string, id: string): FhirResource | null {
  const json = session.db.prepare('SELECT json FROM resources WHERE resource_type = ? AND id = ?').pluck().get(type, id) as string | undefined;
  return json ? (JSON.parse(json) as FhirResource) : null;
}

function requirePatient(session: CacheSession, patientId: string): void {
  if (!existing(session, 'Patient', patientId)) throw new AppError('NOT_FOUND', 'That patient is not in this computer\'s cache.');
}

export function recordVitals(session: CacheSession, input: VitalsInput, now: Date): { ids: string[] } {
  requirePatient(session, input.patientId);
  const observations = vitalObservations(input, () => randomUUID(), now.toISOString());
  recordChanges(session, observations);
  return { ids: observations.map((o) => o.id) };
}

function noteOf(session: CacheSession, noteId: string): FhirResource & { status?: string; subject?: { reference?: string }; section?: Array<{ text?: { div?: string } }> } {
  const note = existing(session, 'Composition', noteId);
  if (!note) throw new AppError('NOT_FOUND', 'That note is not in this computer\'s cache.');
  return note;
}

export function saveNoteDraft(session: CacheSession, draft: NoteDraft, now: Date): { noteId: string } {
  requirePatient(session, draft.patientId);
  const noteId = draft.noteId ?? randomUUID();
  if (draft.noteId) {
    const note = noteOf(session, draft.noteId);
    // Another patient's note (by the patient the cache filed it under) gets the same text as an unknown one.
    const filedUnder = session.db.prepare("SELECT patient_id FROM resources WHERE resource_type = 'Composition' AND id = ?").pluck().get(draft.noteId);
    if (filedUnder !== draft.patientId) throw new AppError('NOT_FOUND', 'That note is not in this computer\'s cache.');
    if (note.status === 'final') throw new AppError('INVALID_INPUT', 'A signed note cannot be changed. Add an addendum instead.');
  }
  recordChange(session, noteComposition({ ...draft, noteId }, actorDisplayName(session), now.toISOString(), 'preliminary'));
  return { noteId };
}

export const EMPTY_NOTE_MESSAGE = 'An empty note cannot be signed. Write at least one section.';

/** Whether every section of the note shows nothing: blank, or only invisible characters (a note without sections is blank too). */
function isBlankNote(note: FhirResource & { section?: Array<{ text?: { div?: string } }> }): boolean {
  return (note.section ?? []).every((s) => isBlankText(sectionPlainText(s.text?.div ?? '')));
}

export function signNote(session: CacheSession, noteId: string, now: Date): { noteId: string } {
  const note = noteOf(session, noteId);
  if (note.status === 'final') throw new AppError('INVALID_INPUT', 'This note is already signed.');
  if (isBlankNote(note)) throw new AppError('INVALID_INPUT', EMPTY_NOTE_MESSAGE);
  recordChange(session, { ...note, status: 'final', date: now.toISOString() });
  return { noteId };
}

export function addAddendum(session: CacheSession, noteId: string, text: string, now: Date): { addendumId: string } {
  const note = noteOf(session, noteId);
  if (note.status !== 'final') throw new AppError('INVALID_INPUT', 'Only a signed note takes an addendum; edit the draft instead.');
  const patientId = note.subject?.reference?.replace(/^Patient\//, '') ?? '';
  const addendumId = randomUUID();
  recordChange(session, addendumComposition(patientId, addendumId, noteId, text, actorDisplayName(session), now.toISOString()));
  return { addendumId };
}

export function setProblem(session: CacheSession, input: ProblemInput, now: Date): { conditionId: string } {
  requirePatient(session, input.patientId);
  const conditionId = input.conditionId ?? randomUUID();
  // Only a problem filed under this patient: another patient's gets the same text as an unknown one (nothing said about it).
  const filedUnder = input.conditionId
    ? (session.db.prepare("SELECT patient_id FROM resources WHERE resource_type = 'Condition' AND id = ?").pluck().get(input.conditionId) as string | null | undefined)
    : undefined;
  const current = input.conditionId && filedUnder === input.patientId ? existing(session, 'Condition', input.conditionId) : null;
  if (input.conditionId && !current) throw new AppError('NOT_FOUND', 'That problem is not in this computer\'s cache.');
  recordChange(session, problemCondition({ ...input, conditionId }, now.toISOString().slice(0, 10), current ?? undefined));
  return { conditionId };
}
