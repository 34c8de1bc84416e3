/**
 * Charting in main: vital signs, SOAP notes (draft, sign, addendum) and
 * problem list changes, each written to the cache with its outbox and audit
 * entries in one transaction, so it works offline and reaches the backend
 * later exactly once. A signed note is never changed: a correction is an
 * addendum. Never write an implausible vital or edit a signed note.
 *
 * Each change is one call of the cache store (`recordChanges`,
 * ./store/operations/chart-changes.ts): the checks against the cache, the
 * resources built from them, their outbox and audit entries and the removal
 * of the draft the change completes (`completes`) commit together. This
 * module holds no SQL.
 */
import type { NoteDraft, ProblemInput, VitalsInput } from '../../shared/charting';
import type { StoreArgs } from './store/store-api';
import type { CacheSession } from './cache-session';

/** The draft a change completes, removed in the change's transaction: one draft, or every draft of a kind for a target. */
export type CompletedDraft = Pick<StoreArgs<'recordChanges'>, 'clearDraft' | 'clearDraftsOfTarget'>;

async function record(session: CacheSession, change: StoreArgs<'recordChanges'>['change'], completes: CompletedDraft = {}): Promise<string[]> {
  return (await session.store.call('recordChanges', { change, ...completes })).ids;
}

export async function recordVitals(session: CacheSession, input: VitalsInput, now: Date, completes?: CompletedDraft): Promise<{ ids: string[] }> {
  return { ids: await record(session, { kind: 'vitals', input, now: now.toISOString() }, completes) };
}

export async function saveNoteDraft(session: CacheSession, draft: NoteDraft, now: Date, completes?: CompletedDraft): Promise<{ noteId: string }> {
  const [noteId] = await record(session, { kind: 'noteDraft', draft, now: now.toISOString() }, completes);
  return { noteId: noteId! };
}

export async function signNote(session: CacheSession, noteId: string, now: Date, completes?: CompletedDraft): Promise<{ noteId: string }> {
  await record(session, { kind: 'sign', noteId, now: now.toISOString() }, completes);
  return { noteId };
}

export async function addAddendum(session: CacheSession, noteId: string, text: string, now: Date, completes?: CompletedDraft): Promise<{ addendumId: string }> {
  const [addendumId] = await record(session, { kind: 'addendum', noteId, text, now: now.toISOString() }, completes);
  return { addendumId: addendumId! };
}

export async function setProblem(session: CacheSession, input: ProblemInput, now: Date, completes?: CompletedDraft): Promise<{ conditionId: string }> {
  const [conditionId] = await record(session, { kind: 'problem', input, now: now.toISOString() }, completes);
  return { conditionId: conditionId! };
}
