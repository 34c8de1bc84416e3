/**
 * recordChanges: one charting change in one transaction (moved from
 * ../../charting.ts and handler-registry's changeClearingDraft). The checks
 * against the cache (the patient is here, a note or problem is filed under
 * that patient, a signed note is never changed, an empty note is never
 * signed), the resources built from them, their outbox and audit entries
 * (outbox-rows.ts writeChange) and the removal of the draft the change
 * completes all commit together or not at all: a lock or a crash between
 * them can neither bring recorded work back as a draft nor lose the draft of
 * work not recorded. Never write an implausible vital, edit a signed note or
 * say in a refusal whether an item exists for another patient.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../../../../shared/app-error';
import { addendumComposition, isBlankText, noteComposition, problemCondition, sectionPlainText, vitalObservations } from '../../../../shared/charting';
import type { FhirResource } from '../../../../shared/contract';
import type { StoreArgs, StoreResults } from '../store-api';
import type { StoreTx } from '../store-tx';
import { clearDraft, clearDraftsOfTarget } from './draft-rows';
import { writeChanges } from './outbox-rows';

export const CHART_MESSAGES = {
  noPatient: 'That patient is not in this computer\'s cache.',
  noNote: 'That note is not in this computer\'s cache.',
  noProblem: 'That problem is not in this computer\'s cache.',
  signedNoteChanged: 'A signed note cannot be changed. Add an addendum instead.',
  alreadySigned: 'This note is already signed.',
  emptyNote: 'An empty note cannot be signed. Write at least one section.',
  notSigned: 'Only a signed note takes an addendum; edit the draft instead.',
} as const;

type Note = FhirResource & { status?: string; subject?: { reference?: string }; section?: Array<{ text?: { div?: string } }> };

function existing(tx: StoreTx, type: string, id: string): FhirResource | null {
  const json = tx.db.prepare('SELECT json FROM resources WHERE resource_type = ? AND id = ?').pluck().get(type, id) as string | undefined;
  return json ? (JSON.parse(json) as FhirResource) : null;
}

function filedUnder(tx: StoreTx, type: string, id: string): string | null | undefined {
  return tx.db.prepare('SELECT patient_id FROM resources WHERE resource_type = ? AND id = ?').pluck().get(type, id) as string | null | undefined;
}

function requirePatient(tx: StoreTx, patientId: string): void {
  if (!existing(tx, 'Patient', patientId)) throw new AppError('NOT_FOUND', CHART_MESSAGES.noPatient);
}

function noteOf(tx: StoreTx, noteId: string): Note {
  const note = existing(tx, 'Composition', noteId);
  if (!note) throw new AppError('NOT_FOUND', CHART_MESSAGES.noNote);
  return note;
}

/** Whether every section of the note shows nothing: blank, or only invisible characters (a note without sections is blank too). */
function isBlankNote(note: Note): boolean {
  return (note.section ?? []).every((s) => isBlankText(sectionPlainText(s.text?.div ?? '')));
}

/** The author as notes name them: the clinician's display name where known. */
function author(tx: StoreTx): string {
  return tx.actorName || tx.actor;
}

/** The resources a change writes, checked against the cache; `group` false keeps several resources separate changes. */
function resourcesOf(tx: StoreTx, change: StoreArgs<'recordChanges'>['change']): { resources: FhirResource[]; group?: boolean } {
  switch (change.kind) {
    case 'resources':
      return { resources: change.resources, group: change.group };
    case 'vitals':
      requirePatient(tx, change.input.patientId);
      return { resources: vitalObservations(change.input, () => randomUUID(), change.now) };
    case 'noteDraft': {
      const { draft } = change;
      requirePatient(tx, draft.patientId);
      if (draft.noteId) {
        const note = noteOf(tx, draft.noteId);
        // Another patient's note (by the patient the cache filed it under) gets the same text as an unknown one.
        if (filedUnder(tx, 'Composition', draft.noteId) !== draft.patientId) throw new AppError('NOT_FOUND', CHART_MESSAGES.noNote);
        if (note.status === 'final') throw new AppError('INVALID_INPUT', CHART_MESSAGES.signedNoteChanged);
      }
      const noteId = draft.noteId ?? randomUUID();
      return { resources: [noteComposition({ ...draft, noteId }, author(tx), change.now, 'preliminary')] };
    }
    case 'sign': {
      const note = noteOf(tx, change.noteId);
      if (note.status === 'final') throw new AppError('INVALID_INPUT', CHART_MESSAGES.alreadySigned);
      if (isBlankNote(note)) throw new AppError('INVALID_INPUT', CHART_MESSAGES.emptyNote);
      return { resources: [{ ...note, status: 'final', date: change.now }] };
    }
    case 'addendum': {
      const note = noteOf(tx, change.noteId);
      if (note.status !== 'final') throw new AppError('INVALID_INPUT', CHART_MESSAGES.notSigned);
      const patientId = note.subject?.reference?.replace(/^Patient\//, '') ?? '';
      return { resources: [addendumComposition(patientId, randomUUID(), change.noteId, change.text, author(tx), change.now)] };
    }
    case 'problem': {
      const { input } = change;
      requirePatient(tx, input.patientId);
      const conditionId = input.conditionId ?? randomUUID();
      // Only a problem filed under this patient: another patient's gets the same text as an unknown one (nothing said about it).
      const current = input.conditionId && filedUnder(tx, 'Condition', input.conditionId) === input.patientId ? existing(tx, 'Condition', input.conditionId) : null;
      if (input.conditionId && !current) throw new AppError('NOT_FOUND', CHART_MESSAGES.noProblem);
      return { resources: [problemCondition({ ...input, conditionId }, change.now.slice(0, 10), current ?? undefined)] };
    }
  }
}

/** The change, its outbox and audit entries, and the removal of the draft it completes: one transaction. */
export function recordChanges(tx: StoreTx, { change, clearDraft: draft, clearDraftsOfTarget: drafts }: StoreArgs<'recordChanges'>): StoreResults['recordChanges'] {
  const { resources, group } = resourcesOf(tx, change);
  const keys = writeChanges(tx, resources, group);
  if (draft) clearDraft(tx, draft);
  if (drafts) clearDraftsOfTarget(tx, drafts);
  return { ids: resources.map((r) => r.id), keys };
}
