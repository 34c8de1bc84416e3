/**
 * The break-the-glass dialog: why the clinician needs a patient who is not
 * assigned to them (a coded reason plus free text, 'Other' needs the text),
 * said before anything is asked of the server. A real modal dialog
 * (ui/Dialog): labelled, keyboard-only usable, Tab wraps inside it, Esc
 * cancels. The draft belongs to the search that opened it, so Esc never
 * loses what was typed: reopened on the same match, the dialog shows it
 * again. Checked with the contract's own schema first (main checks again).
 * Never shows anything about the patient: there is nothing to show.
 */
import { useEffect, useId, useRef, type FormEvent } from 'react';
import { EXPORT_REASON_TEXT_MAX, GLASS_REASONS, glassReasonSchema } from '../../../shared/contract';
import { Dialog } from '../ui/Dialog';
import { useTabTrap } from '../ui/use-tab-trap';
import { GLASS_REASON_WORDS, type GlassReasonCode } from './glass-words';

export interface GlassDraft {
  code: GlassReasonCode | '';
  text: string;
}

export const EMPTY_GLASS_DRAFT: GlassDraft = { code: '', text: '' };

export interface GlassProblems {
  code?: string;
  text?: string;
}

export type GlassReason = { code: GlassReasonCode; text: string };

/** The draft as the contract's reason, or the schema's own messages at their fields. */
export function checkGlassReason(draft: GlassDraft): { reason: GlassReason } | { problems: GlassProblems } {
  const parsed = glassReasonSchema.safeParse({ code: draft.code === '' ? undefined : draft.code, text: draft.text });
  if (parsed.success) return { reason: parsed.data };
  const problems: GlassProblems = {};
  for (const issue of parsed.error.issues) problems[issue.path[0] === 'code' ? 'code' : 'text'] ??= issue.message;
  return { problems };
}

interface Props {
  draft: GlassDraft;
  onDraft(next: GlassDraft): void;
  problems: GlassProblems;
  error: string | null;
  busy: boolean;
  onSubmit(): void;
  onCancel(): void;
}


export function BreakGlassDialog({ draft, onDraft, problems, error, busy, onSubmit, onCancel }: Props) {
  const formRef = useRef<HTMLFormElement>(null);
  const textId = useId();
  const codeErrorId = useId();
  const textErrorId = useId();
  const textHelpId = useId();

  useTabTrap(formRef);

  // A problem found at submit takes the focus to its field.
  useEffect(() => {
    const form = formRef.current;
    if (!form) return;
    if (problems.code) form.querySelector<HTMLInputElement>('input[name="glass-reason"]')?.focus();
    else if (problems.text) form.querySelector<HTMLTextAreaElement>('textarea')?.focus();
  }, [problems]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!busy) onSubmit();
  };
  const cancel = () => {
    if (!busy) onCancel();
  };
  const other = draft.code === 'other';

  return (
    <Dialog
      title="Break the glass"
      onClose={cancel}
      testId="glass-dialog"
      description="This patient is not assigned to you. Emergency access is granted by the hospital server for a limited time; every action is recorded, and the privacy officer reviews it."
    >
      <form ref={formRef} className="dialog-body glass-reason" onSubmit={submit} noValidate aria-busy={busy || undefined}>
        <fieldset className="glass-fieldset" aria-describedby={problems.code ? codeErrorId : undefined}>
          <legend>Reason</legend>
          {GLASS_REASONS.map((code, i) => (
            <label key={code} className="glass-choice">
              <input
                type="radio"
                name="glass-reason"
                value={code}
                checked={draft.code === code}
                onChange={() => onDraft({ ...draft, code })}
                aria-invalid={problems.code ? true : undefined}
                data-autofocus={(draft.code ? draft.code === code : i === 0) ? '' : undefined}
              />
              {GLASS_REASON_WORDS[code]}
            </label>
          ))}
          {problems.code && <p id={codeErrorId} className="field-error glass-field-error">{problems.code}</p>}
        </fieldset>
        <div className="glass-text">
          <label htmlFor={textId}>
            In your words {other ? <strong>(needed for Other)</strong> : <span className="muted">(optional)</span>}
          </label>
          <textarea
            id={textId}
            rows={3}
            maxLength={EXPORT_REASON_TEXT_MAX}
            value={draft.text}
            onChange={(e) => onDraft({ ...draft, text: e.target.value })}
            aria-invalid={problems.text ? true : undefined}
            aria-required={other}
            aria-describedby={problems.text ? `${textErrorId} ${textHelpId}` : textHelpId}
            data-testid="glass-reason-text"
          />
          <span id={textHelpId} className="muted glass-help">Up to {EXPORT_REASON_TEXT_MAX} characters. The privacy officer reads it.</span>
          {problems.text && <span id={textErrorId} className="field-error glass-field-error">{problems.text}</span>}
        </div>
        {error && <p className="error" role="alert" data-testid="glass-dialog-error">{error}</p>}
        {busy && <p className="muted" role="status">Asking the hospital server…</p>}
        <div className="dialog-actions">
          <button type="button" className="secondary" onClick={cancel} disabled={busy}>Cancel</button>
          <button type="submit" className="primary small danger" disabled={busy} data-testid="glass-submit">Break the glass and open</button>
        </div>
      </form>
    </Dialog>
  );
}
