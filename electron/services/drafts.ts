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
 * same NOT_FOUND text. The rows, their checks and their entries are calls
 * of the cache store (./store/operations/draft-rows.ts); this module holds
 * no SQL. The draft a charting change completes is cleared inside that
 * change's store call (recordChanges). Every function answers a promise:
 * the store call is sent when the function is called (a put per keystroke
 * reaches the store in the order the calls came), and the store answers in
 * order.
 */
import { AppError } from '../../shared/app-error';
import type { Draft, DraftKind } from '../../shared/contract';
import type { CacheSession } from './cache-session';

const NO_PATIENT = 'That patient is not in this computer\'s cache.';

/** The FHIR reference a draft of `kind` edits, or null when it drafts something new. */
export function draftTargetRef(kind: DraftKind, target: string): string | null {
  if (target === '') return null;
  if (kind === 'note' || kind === 'addendum') return `Composition/${target}`;
  if (kind === 'problem') return `Condition/${target}`;
  return null;
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
  return isBlankDraftBody(parseDraftBody(json));
}

/** A stored body's text fields (anything else, or unreadable text, is dropped). */
export function parseDraftBody(json: string): Record<string, string> {
  try {
    const value = JSON.parse(json) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
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
): Promise<{ updatedAt: string }> {
  return session.store.call('putDraft', { ...input, now: now.toISOString() });
}

/** A patient's drafts, newest first; a patient not in the cache is NOT_FOUND (audited as a failed read). */
export async function listDrafts(session: CacheSession, patientId: string): Promise<Draft[]> {
  const answer = await session.store.call('listDrafts', { patientId });
  if (!answer.found) throw new AppError('NOT_FOUND', NO_PATIENT);
  return answer.drafts;
}

/**
 * Removes a draft (the clinician discarded it, or what it drafted was
 * saved); audited as a delete when there was one. A save and the removal of
 * its draft commit together only as one store call (recordChanges with the
 * draft it completes): this is a call of its own.
 */
export function clearDraft(session: CacheSession, patientId: string, kind: DraftKind, target: string): Promise<boolean> {
  return session.store.call('clearDraft', { patientId, kind, target });
}

/** drafts.discard: the same as clearDraft; a patient not in the cache has no drafts to discard. */
export async function discardDraft(session: CacheSession, input: { patientId: string; kind: DraftKind; target: string }): Promise<{ discarded: boolean }> {
  return { discarded: await clearDraft(session, input.patientId, input.kind, input.target) };
}

/** A note's note draft goes (a sign clears it in its own store call, recordChanges with clearDraftsOfTarget). */
export function clearNoteDraftOf(session: CacheSession, noteId: string): Promise<boolean> {
  return session.store.call('clearDraftsOfTarget', { kind: 'note', target: noteId });
}

/** A signed note's addendum draft goes (an addendum clears it in its own store call, recordChanges with clearDraftsOfTarget). */
export function clearAddendumDraftOf(session: CacheSession, noteId: string): Promise<boolean> {
  return session.store.call('clearDraftsOfTarget', { kind: 'addendum', target: noteId });
}
