/**
 * The line under a change just made: "Changed to Resolved · Undo" (or
 * "Vitals saved. · Undo") while it has not left this computer; after an
 * undo, "Undone."; once it was sent, says so and that it can be changed
 * again. Ids only; never sends anything but changes.undo.
 */
import { useState } from 'react';
import { forgetChange, undoChange, useRecentChange } from './recent-changes';

interface Props {
  patientId: string;
  changeKey: string;
  onUndone(): void;
  /** What to do after "already sent": e.g. focus the control to change it again. */
  onChangeAgain?(): void;
}

export function UndoLine({ patientId, changeKey, onUndone, onChangeAgain }: Props) {
  const change = useRecentChange(patientId, changeKey);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!change) return null;

  const undo = async () => {
    setBusy(true);
    setError(null);
    try {
      const outcome = await undoChange(patientId, change);
      if (outcome === 'undone') onUndone();
    } catch (err) {
      setError(err instanceof Error ? err.message : 'The change could not be undone.');
    } finally {
      setBusy(false);
    }
  };

  return (
    <p className="undo-line" role="status" data-testid="undo-line" data-state={change.state}>
      {change.state === 'saved' && (
        <>
          <span>{change.label}</span>
          <span aria-hidden="true"> · </span>
          <button type="button" className="link" onClick={() => void undo()} disabled={busy}>Undo</button>
        </>
      )}
      {change.state === 'undone' && (
        <>
          <span>Undone: nothing was sent.</span>
          <span aria-hidden="true"> · </span>
          <button type="button" className="link" onClick={() => forgetChange(patientId, changeKey)}>Dismiss</button>
        </>
      )}
      {change.state === 'sent' && (
        <>
          <span>{change.why ?? 'This change was already sent. Change it again to correct it.'}</span>
          <span aria-hidden="true"> · </span>
          <button
            type="button"
            className="link"
            onClick={() => {
              forgetChange(patientId, changeKey);
              onChangeAgain?.();
            }}
          >
            {onChangeAgain ? 'Change it again' : 'Dismiss'}
          </button>
        </>
      )}
      {error && <span className="error" role="alert"> {error}</span>}
    </p>
  );
}
