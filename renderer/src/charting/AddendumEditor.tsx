/**
 * Writing an addendum to a signed note: kept as a draft as it is typed
 * (kind 'addendum', target the note's id), signed after a confirmation.
 * Never changes the signed note itself.
 */
import { useId, useState } from 'react';
import { api, call } from '../clinician';
import { ConfirmDialog } from '../ui/Dialog';
import { DraftStatus } from './DraftStatus';
import { useDraft } from './use-draft';

const EMPTY = { text: '' };

interface Props {
  patientId: string;
  noteId: string;
  onSigned(): void;
  onClose(): void;
}

export function AddendumEditor({ patientId, noteId, onSigned, onClose }: Props) {
  const draft = useDraft(patientId, 'addendum', noteId, EMPTY);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const blank = (draft.body.text ?? '').trim() === '';

  const sign = async () => {
    setConfirming(false);
    setBusy(true);
    setError(null);
    try {
      await call(api().notes.addendum({ noteId, text: draft.body.text ?? '' }));
      await draft.discard();
      onSigned();
    } catch (err) {
      setError(err instanceof Error ? err.message : 'The addendum was not signed.');
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="addendum-editor" data-testid="addendum-editor">
      <div className="charting-field">
        <label htmlFor={`${id}-text`}>Addendum</label>
        <textarea id={`${id}-text`} rows={3} value={draft.body.text ?? ''} onChange={(e) => draft.set('text', e.target.value)} disabled={!draft.loaded} aria-describedby={blank ? `${id}-reason` : undefined} />
      </div>
      <DraftStatus state={draft.state} updatedAt={draft.updatedAt} />
      <div className="charting-actions">
        <button type="button" className="secondary" onClick={onClose}>Hide</button>
        <button type="button" className="primary small" onClick={() => setConfirming(true)} disabled={busy || blank}>Sign addendum…</button>
      </div>
      {blank && <p className="muted charting-reason" id={`${id}-reason`}>Write the addendum to sign it.</p>}
      {error && <p className="error" role="alert">{error}</p>}
      {confirming && (
        <ConfirmDialog title="Sign addendum" confirmLabel="Sign addendum" onConfirm={() => void sign()} onCancel={() => setConfirming(false)} testId="addendum-confirm">
          <p>Sign this addendum? It is added beneath the signed note and cannot be changed afterwards.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
