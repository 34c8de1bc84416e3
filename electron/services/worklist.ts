/**
 * "My patients": every patient in the cache with their latest encounter and
 * what needs attention, one call of the cache store
 * (./store/operations/worklist-read.ts, which says how each flag is worked
 * out), audited like a search there. Holds no SQL.
 */
import type { WorklistRow } from '../../shared/contract';
import type { CacheSession } from './cache-session';

export function patientWorklist(session: CacheSession): Promise<{ patients: WorklistRow[]; truncated: boolean }> {
  return session.store.call('patientWorklist', {});
}
