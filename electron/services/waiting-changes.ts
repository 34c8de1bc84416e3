/**
 * What waits, in detail: every change on this computer the backend has not
 * accepted (the outbox, refused entries included) and every conflict waiting
 * for the clinician's choice, newest first, each with its patient, its kind
 * in words, its state (sending, failing, held, refused, conflict, waiting),
 * how often it was sent, its last error (fixed texts only: the backend's
 * refusal reason or ours) and whether `changes.undo` may take it back (a
 * refused change may: it is discarded; a change made with others, such as
 * one reading of a vitals entry, only when the whole entry may).
 * Listing names patients, so it is audited like a search: one query entry
 * per patient listed. Never put resource content into an error text.
 * The listing is one call of the cache store
 * (./store/operations/waiting-list.ts); this module holds the words and no
 * SQL.
 */
import type { WaitingChange } from '../../shared/contract';
import type { CacheSession } from './cache-session';

export const WAITING_MAX = 200;
export const WAITING_QUERY = 'waiting changes';

/** What the sync worker knows of the outbox now (none when it is not running). */
export interface SendingState {
  sending: ReadonlySet<string>;
  setAside: ReadonlyMap<string, number>;
}

export const WAITING_ERRORS = {
  failing: 'The hospital server failed on this change; it is kept and will be sent again.',
  held: 'Waits for your passkey: sign in online to see whether it conflicts.',
  conflict: 'Also changed elsewhere: choose which version to keep.',
} as const;

type Json = Record<string, unknown>;

function codings(value: unknown): Array<{ code?: unknown }> {
  if (!Array.isArray(value)) return [];
  return value.flatMap((c) => (c && typeof c === 'object' && Array.isArray((c as Json).coding) ? ((c as Json).coding as Array<{ code?: unknown }>) : []));
}

/** The kind of change as a clinician says it. */
export function kindOf(resourceType: string, resource: Json): string {
  switch (resourceType) {
    case 'Observation':
      return codings(resource.category).some((c) => c.code === 'vital-signs') ? 'Vital signs' : 'Observation';
    case 'Composition': {
      const relatesTo = Array.isArray(resource.relatesTo) ? (resource.relatesTo as Array<{ code?: unknown }>) : [];
      return relatesTo.some((r) => r.code === 'appends') ? 'Addendum' : 'Progress note';
    }
    case 'Condition':
      return 'Problem';
    default: {
      // AllergyIntolerance -> "Allergy intolerance"
      const spaced = resourceType.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
      return spaced.charAt(0).toUpperCase() + spaced.slice(1);
    }
  }
}

export function listWaitingChanges(session: CacheSession, worker: SendingState | null, limit = WAITING_MAX): Promise<{ changes: WaitingChange[]; truncated: boolean }> {
  return session.store.call('listWaitingChanges', { sending: [...(worker?.sending ?? [])], setAside: [...(worker?.setAside.keys() ?? [])], limit });
}
