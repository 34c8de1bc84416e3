/**
 * Which note the Write pane should have open, per patient: the Notes pane
 * (or the drafts list) asks for a note to be reopened and switches tab; the
 * Write pane, mounted now or later, follows. Holds ids only, in memory,
 * never note text.
 */
import { useEffect, useState } from 'react';

/** A note to edit: '' is a new note, else a saved draft note's id. */
const open = new Map<string, string>();
const listeners = new Set<() => void>();

export function requestNote(patientId: string, target: string): void {
  open.set(patientId, target);
  for (const l of listeners) l();
}

export function useRequestedNote(patientId: string): string {
  const [target, setTarget] = useState(() => open.get(patientId) ?? '');
  useEffect(() => {
    const follow = () => setTarget(open.get(patientId) ?? '');
    follow();
    listeners.add(follow);
    return () => void listeners.delete(follow);
  }, [patientId]);
  return target;
}
