/**
 * The clinician's last deliberate changes on a chart that may still be taken
 * back (a problem's status, a set of vitals), per patient, in memory: the
 * row keeps saying "Changed to Resolved · Undo" across a chart reload.
 * Ids and status words only, never note text; gone with the page.
 */
import { useEffect, useState } from 'react';
import { api, call, ClinicianError } from '../clinician';

export interface RecentChange {
  /** Stable key: 'Condition/<id>' or 'vitals/<first id>'. */
  key: string;
  resourceType: string;
  resourceIds: string[];
  /** What the row says after "Changed to …", e.g. 'Resolved'. */
  label: string;
  state: 'saved' | 'undone' | 'sent';
  /** Main's words for why it cannot be undone (state 'sent'). */
  why?: string;
}

const byPatient = new Map<string, Map<string, RecentChange>>();
const listeners = new Set<() => void>();
const notify = () => {
  for (const l of listeners) l();
};

export function rememberChange(patientId: string, change: Omit<RecentChange, 'state'>): void {
  const map = byPatient.get(patientId) ?? new Map<string, RecentChange>();
  map.set(change.key, { ...change, state: 'saved' });
  byPatient.set(patientId, map);
  notify();
}

export function forgetChange(patientId: string, key: string): void {
  byPatient.get(patientId)?.delete(key);
  notify();
}

export function useRecentChange(patientId: string, key: string): RecentChange | undefined {
  const get = () => byPatient.get(patientId)?.get(key);
  const [change, setChange] = useState(get);
  useEffect(() => {
    const follow = () => setChange(byPatient.get(patientId)?.get(key));
    follow();
    listeners.add(follow);
    return () => void listeners.delete(follow);
  }, [patientId, key]);
  return change;
}

/** Takes the change back (one changes.undo: main takes back every resource saved with it, or none); 'sent' when it already left. */
export async function undoChange(patientId: string, change: RecentChange): Promise<'undone' | 'sent'> {
  try {
    const last = change.resourceIds[change.resourceIds.length - 1];
    if (last !== undefined) await call(api().changes.undo({ resourceType: change.resourceType, resourceId: last }));
    byPatient.get(patientId)?.set(change.key, { ...change, state: 'undone' });
    notify();
    return 'undone';
  } catch (err) {
    if (err instanceof ClinicianError && err.code === 'ALREADY_SENT') {
      byPatient.get(patientId)?.set(change.key, { ...change, state: 'sent', why: err.message });
      notify();
      return 'sent';
    }
    throw err;
  }
}
