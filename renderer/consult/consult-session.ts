/**
 * Which consultation this desktop page is in, if any: the patient, the call
 * and whether this clinician started it (host). A tiny store shared by the
 * chart (which shows the call beside the patient's banner) and the
 * "Consultations you are invited to" list (which opens the patient's chart
 * to join). Holds ids only: never a key, a token, a link or PHI.
 */
import { useSyncExternalStore } from 'react';

export interface ActiveConsult {
  patientId: string;
  callId: string;
  host: boolean;
}

let active: ActiveConsult | null = null;
const listeners = new Set<() => void>();

export function setActiveConsult(next: ActiveConsult | null): void {
  active = next;
  if (!next) badge = null;
  for (const l of listeners) l();
}

export function activeConsult(): ActiveConsult | null {
  return active;
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useActiveConsult(): ActiveConsult | null {
  return useSyncExternalStore(subscribe, activeConsult);
}

/** The running call's encryption badge in short, for the chart's sticky banner (so it stays on screen while the chart scrolls). */
export interface CallBadge {
  tone: 'ok' | 'warn' | 'bad' | 'info';
  short: string;
}

let badge: CallBadge | null = null;

export function setCallBadge(next: CallBadge | null): void {
  if (badge?.tone === next?.tone && badge?.short === next?.short) return;
  badge = next;
  for (const l of listeners) l();
}

export function useCallBadge(): CallBadge | null {
  return useSyncExternalStore(subscribe, () => badge);
}
