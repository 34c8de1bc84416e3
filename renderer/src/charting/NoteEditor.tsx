/**
 * Writing a SOAP progress note: each keystroke is kept as a draft in the
 * encrypted cache (useDraft), the note can be saved as a draft note (a
 * preliminary Composition that syncs) and signed after a confirmation. An
 * empty note cannot be signed (the button says why; main refuses too).
 * Never discards what was typed except after it was saved or signed.
 */
import { useId, useMemo, useState } from 'react';
import { SOAP_SECTIONS } from '../../../shared/charting';
import type { Chart } from '../../../shared/contract';
import { api, call } from '../clinician';
import { ConfirmDialog } from '../ui/Dialog';
import { EMPTY_NOTE, isBlankSoap, soapOf } from './note-text';
import { DraftStatus } from './DraftStatus';
import { useDraft } from './use-draft';

export const SIGN_QUESTION = 'Sign this progress note? A signed note cannot be changed; corrections are added as addenda.';
export const EMPTY_REASON = 'Write at least one section to sign the note.';

interface Props {
  patientId: string;
  chart: Chart;
  /** '' for a new note, else the saved draft note's id. */
  target: string;
  onTarget(target: string): void;
  onSaved(): void;
}

export function NoteEditor({ patientId, chart, target, onTarget, onSaved }: Props) {
  const saved = useMemo(() => (target ? chart.groups.Composition?.items.find((c) => c.id === target) : undefined), [chart, target]);
  const initial = useMemo(() => (saved ? soapOf(saved) : EMPTY_NOTE), [saved]);
  const draft = useDraft(patientId, 'note', target, initial);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reasonId = useId();
  const blank = isBlankSoap(draft.body);

  const note = () => ({
    patientId,
    ...(target ? { noteId: target } : {}),
    subjective: draft.body.subjective ?? '',
    objective: draft.body.objective ?? '',
    assessment: draft.body.assessment ?? '',
    plan: draft.body.plan ?? '',
  });

  const act = async (fn: () => Promise<string>) => {
    setBusy(true);
    setError(null);
    setMessage(null);
    try {
      setMessage(await fn());
      onSaved();
    } catch (err) {
      setError(err instanceof Error ? err.message : 'Not saved.');
    } finally {
      setBusy(false);
    }
  };

  const saveDraftNote = () =>
    act(async () => {
      const { noteId } = await call(api().notes.saveDraft(note()));
      await draft.discard();
      if (noteId !== target) onTarget(noteId);
      return 'Draft note saved. It is listed under Drafts and syncs like any change.';
    });

  const sign = () =>
    act(async () => {
      setConfirming(false);
      const { noteId } = await call(api().notes.saveDraft(note()));
      await call(api().notes.sign({ noteId }));
      await draft.discard();
      onTarget('');
      return 'Note signed.';
    });

  return (
    <section className="charting-card soap-editor" aria-labelledby="note-editor-title" data-testid="note-editor">
      <div className="charting-card-head">
        <h3 id="note-editor-title">{target ? 'Draft progress note' : 'New progress note'}</h3>
        <DraftStatus state={draft.state} updatedAt={draft.updatedAt} />
      </div>
      {!draft.loaded ? (
        <p className="muted">Opening the draft…</p>
      ) : (
        <>
          {SOAP_SECTIONS.map((s) => (
            <div className="charting-field" key={s.key}>
              <label htmlFor={`note-${s.key}`}>{s.title}</label>
              <textarea id={`note-${s.key}`} name={s.key} rows={3} value={draft.body[s.key] ?? ''} onChange={(e) => draft.set(s.key, e.target.value)} />
            </div>
          ))}
          <div className="charting-actions">
            {target && (
              <button type="button" className="secondary" onClick={() => onTarget('')} disabled={busy}>New note</button>
            )}
            <button type="button" className="secondary" onClick={() => void saveDraftNote()} disabled={busy || blank}>Save draft note</button>
            <button type="button" className="primary small" onClick={() => setConfirming(true)} disabled={busy || blank} aria-describedby={blank ? reasonId : undefined}>
              Sign note…
            </button>
          </div>
          {blank && <p className="muted charting-reason" id={reasonId} data-testid="sign-reason">{EMPTY_REASON}</p>}
        </>
      )}
      {message && <p className="ok" role="status" data-testid="charting-message">{message}</p>}
      {error && <p className="error" role="alert" data-testid="charting-error">{error}</p>}
      {confirming && (
        <ConfirmDialog title="Sign progress note" confirmLabel="Sign note" onConfirm={() => void sign()} onCancel={() => setConfirming(false)} testId="sign-confirm">
          <p>{SIGN_QUESTION}</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
