/**
 * The reason asked before every export or print: a coded reason from the
 * list main offers (export.options) plus free text ('Other' needs the text),
 * and, for a print, paper or PDF among the outputs policy allows. A real
 * modal dialog (ui/Dialog): labelled, keyboard-usable, Tab and Shift+Tab
 * wrap inside it, Esc cancels. The draft (reason and text) belongs to the
 * chart's actions, not to this dialog, so Esc never loses what was typed:
 * reopened in the same chart, the dialog shows it again. Checked with the
 * contract's own schema before anything is sent (main checks it again).
 * Never chooses or shows a file path.
 */
import { useEffect, useId, useRef, type FormEvent } from 'react';
import { EXPORT_REASON_TEXT_MAX, exportReasonSchema, type ExportReason } from '../../../shared/contract';
import { Dialog } from '../ui/Dialog';
import { useTabTrap } from '../ui/use-tab-trap';
import { OUTPUT_WORDS, type PrintOutput } from './export-words';

export type ReasonCode = ExportReason['code'];

export interface ReasonDraft {
  code: ReasonCode | '';
  text: string;
  output: PrintOutput | null;
}

export const EMPTY_DRAFT: ReasonDraft = { code: '', text: '', output: null };

export interface ReasonProblems {
  code?: string;
  text?: string;
}

/** The draft as the contract's reason, or the problems to show at its fields (the schema's own messages). */
export function checkReason(draft: ReasonDraft): { reason: ExportReason } | { problems: ReasonProblems } {
  const parsed = exportReasonSchema.safeParse({ code: draft.code === '' ? undefined : draft.code, text: draft.text });
  if (parsed.success) return { reason: parsed.data };
  const problems: ReasonProblems = {};
  for (const issue of parsed.error.issues) {
    const at = issue.path[0] === 'code' ? 'code' : 'text';
    problems[at] ??= issue.message;
  }
  return { problems };
}

interface Props {
  kind: 'export' | 'print';
  reasons: ReadonlyArray<{ code: ReasonCode; label: string }>;
  /** Print only: the outputs policy allows (at least one). */
  outputs: readonly PrintOutput[];
  draft: ReasonDraft;
  onDraft(next: ReasonDraft): void;
  problems: ReasonProblems;
  /** A failure after sending, in words (the draft stays). */
  error: string | null;
  busy: string | null;
  onSubmit(): void;
  onCancel(): void;
}


export function ReasonDialog({ kind, reasons, outputs, draft, onDraft, problems, error, busy, onSubmit, onCancel }: Props) {
  const formRef = useRef<HTMLFormElement>(null);
  const textId = useId();
  const codeErrorId = useId();
  const textErrorId = useId();
  const textHelpId = useId();
  const output = draft.output ?? outputs[0] ?? 'printer';

  useTabTrap(formRef);

  // A problem found at submit takes the focus to its field.
  useEffect(() => {
    const form = formRef.current;
    if (!form) return;
    if (problems.code) form.querySelector<HTMLInputElement>('input[name="export-reason"]')?.focus();
    else if (problems.text) form.querySelector<HTMLTextAreaElement>('textarea')?.focus();
  }, [problems]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!busy) onSubmit();
  };
  const cancel = () => {
    if (!busy) onCancel();
  };

  const title = kind === 'export' ? 'Export summary (FHIR)' : 'Print or save as PDF';
  const go = kind === 'export' ? 'Export…' : output === 'pdf' ? 'Save as PDF…' : 'Print…';
  const other = draft.code === 'other';
  const checkedCode = draft.code || null;

  return (
    <Dialog
      title={title}
      onClose={cancel}
      testId="export-reason-dialog"
      description={
        kind === 'export'
          ? 'The patient’s summary leaves this computer as a file you choose. Your reason is recorded in the patient’s access log.'
          : 'Every page carries your name, the time and “Confidential”. Your reason is recorded in the patient’s access log.'
      }
    >
      <form ref={formRef} className="dialog-body export-reason" onSubmit={submit} noValidate aria-busy={busy ? true : undefined}>
        {kind === 'print' && outputs.length > 1 && (
          <fieldset className="export-fieldset">
            <legend>Output</legend>
            {outputs.map((o) => (
              <label key={o} className="export-choice">
                <input type="radio" name="export-output" value={o} checked={output === o} onChange={() => onDraft({ ...draft, output: o })} data-testid={`export-output-${o}`} />
                {OUTPUT_WORDS[o]}
              </label>
            ))}
          </fieldset>
        )}
        <fieldset className="export-fieldset" aria-describedby={problems.code ? codeErrorId : undefined} data-testid="export-reasons">
          <legend>Reason</legend>
          {reasons.map((r, i) => (
            <label key={r.code} className="export-choice">
              <input
                type="radio"
                name="export-reason"
                value={r.code}
                checked={draft.code === r.code}
                onChange={() => onDraft({ ...draft, code: r.code })}
                aria-invalid={problems.code ? true : undefined}
                data-autofocus={(checkedCode ? draft.code === r.code : i === 0) ? '' : undefined}
              />
              {r.label}
            </label>
          ))}
          {problems.code && <p id={codeErrorId} className="field-error export-field-error" data-testid="export-reason-error">{problems.code}</p>}
        </fieldset>
        <div className="export-text">
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
            data-testid="export-reason-text"
          />
          <span id={textHelpId} className="muted export-help">Up to {EXPORT_REASON_TEXT_MAX} characters. Avoid patient details you do not need.</span>
          {problems.text && <span id={textErrorId} className="field-error export-field-error" data-testid="export-text-error">{problems.text}</span>}
        </div>
        {error && <p className="error" role="alert" data-testid="export-dialog-error">{error}</p>}
        {busy && <p className="muted" role="status" data-testid="export-busy">{busy}</p>}
        <div className="dialog-actions">
          <button type="button" className="secondary" onClick={cancel} disabled={busy !== null}>Cancel</button>
          <button type="submit" className="primary small" disabled={busy !== null} data-testid="export-reason-submit">{go}</button>
        </div>
      </form>
    </Dialog>
  );
}
