/**
 * The chart's governed Export and Print actions (in the patient banner):
 * "Export summary (FHIR)" and "Print / Save as PDF", offered as policy
 * allows (export.options; an action policy forbids stays in place, dimmed,
 * saying "Turned off by your organisation"). Each asks for a reason first
 * (ReasonDialog; the draft lives here, for as long as this chart is open, so
 * Esc never loses it). Export: export.fhir (main opens the OS save dialog).
 * Print: print.prepare (the audited read), then the print view with its
 * watermark is mounted, print.output prints or saves it, and the view is
 * unmounted whatever happens. Outcomes and typed errors are said in words,
 * never a path. Must never name a file path, nor keep the printed chart
 * after the print.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { CallOutput } from '../../../shared/contract';
import { api, call, ClinicianError } from '../clinician';
import { allowedActions, exportedWords, failedWords, NOTHING_ALLOWED, printedWords, TURNED_OFF, type ActionsAllowed, type PrintOutput } from './export-words';
import { PrintView } from './PrintView';
import { checkReason, EMPTY_DRAFT, ReasonDialog, type ReasonDraft, type ReasonProblems } from './ReasonDialog';
import './export.css';

type Kind = 'export' | 'print';
type Prepared = CallOutput<'print.prepare'> & { output: PrintOutput };
type Reasons = CallOutput<'export.options'>['reasons'];

interface Options {
  allowed: ActionsAllowed;
  reasons: Reasons;
  /** Why the actions are off when nothing is allowed at all (policy, or not available now). */
  offText: string;
}

function problemsFromMain(err: ClinicianError): ReasonProblems | null {
  if (err.code !== 'INVALID_INPUT') return null;
  const out: ReasonProblems = {};
  for (const f of err.fields) {
    if (f.field === 'reason.code' || f.field === 'reason') out.code ??= f.message;
    else if (f.field === 'reason.text') out.text ??= f.message;
  }
  return out.code || out.text ? out : null;
}

export function ChartExportActions({ patientId }: { patientId: string }) {
  const [options, setOptions] = useState<Options | null>(null);
  const [dialog, setDialog] = useState<Kind | null>(null);
  const [draft, setDraft] = useState<ReasonDraft>(EMPTY_DRAFT);
  const [problems, setProblems] = useState<ReasonProblems>({});
  const [dialogError, setDialogError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [status, setStatus] = useState<{ text: string; error: boolean } | null>(null);
  const [printing, setPrinting] = useState<Prepared | null>(null);
  const mounted = useRef(true);

  // Policy may change while the app runs: read again on mount, before each dialog opens, and after a refusal.
  const loadOptions = useCallback(async (): Promise<Options> => {
    let next: Options;
    try {
      const o = await call(api().export.options({}));
      next = { allowed: allowedActions(o.formats), reasons: o.reasons, offText: TURNED_OFF };
    } catch (err) {
      const code = err instanceof ClinicianError ? err.code : 'INTERNAL';
      next = { allowed: NOTHING_ALLOWED, reasons: [], offText: code === 'EXPORT_DISABLED' ? TURNED_OFF : 'Not available now' };
    }
    if (mounted.current) setOptions(next);
    return next;
  }, []);

  useEffect(() => {
    mounted.current = true;
    void loadOptions();
    return () => {
      mounted.current = false;
    };
  }, [loadOptions]);

  const open = async (kind: Kind) => {
    setStatus(null);
    const fresh = await loadOptions();
    if (!mounted.current) return;
    if (kind === 'export' ? !fresh.allowed.fhir : fresh.allowed.print.length === 0) {
      const off = fresh.allowed.fhir || fresh.allowed.print.length > 0 ? TURNED_OFF : fresh.offText;
      setStatus({ text: `${kind === 'export' ? 'Export summary (FHIR)' : 'Print / Save as PDF'}: ${off.toLowerCase()}.`, error: false });
      return;
    }
    setProblems({});
    setDialogError(null);
    setDialog(kind);
  };

  const failed = (kind: Kind, err: unknown) => {
    const e = err instanceof ClinicianError ? err : new ClinicianError({ code: 'INTERNAL', message: 'An unexpected error occurred.' });
    if (e.code === 'EXPORT_DISABLED') void loadOptions();
    return failedWords(kind, e.code, e.message);
  };

  const submit = async () => {
    if (!dialog || !options) return;
    const checked = checkReason(draft);
    if ('problems' in checked) {
      setProblems(checked.problems);
      return;
    }
    setProblems({});
    setDialogError(null);
    const kind = dialog;
    try {
      if (kind === 'export') {
        setBusy('Choose where to save the file…');
        const r = await call(api().export.fhir({ patientId, reason: checked.reason }));
        if (!mounted.current) return;
        setDialog(null);
        setStatus({ text: exportedWords(r.saved, r.resources), error: false });
        // Nothing left the computer on a cancel: the reason stays for another try.
        if (r.saved) setDraft(EMPTY_DRAFT);
      } else {
        const output = draft.output && options.allowed.print.includes(draft.output) ? draft.output : options.allowed.print[0];
        if (!output) return;
        setBusy('Preparing the print…');
        const prepared = await call(api().print.prepare({ patientId, reason: checked.reason, output }));
        if (!mounted.current) return;
        setDialog(null);
        setDraft(EMPTY_DRAFT);
        setStatus({ text: output === 'pdf' ? 'Saving as PDF…' : 'Printing…', error: false });
        setPrinting({ ...prepared, output });
      }
    } catch (err) {
      if (!mounted.current) return;
      const fromMain = err instanceof ClinicianError ? problemsFromMain(err) : null;
      if (fromMain) setProblems(fromMain);
      else setDialogError(failed(kind, err));
    } finally {
      if (mounted.current) setBusy(null);
    }
  };

  // The print view is laid out: print it (or save it as PDF), then take it away whatever happens.
  const job = useRef<Prepared | null>(null);
  job.current = printing;
  const onPrintReady = useCallback(() => {
    const p = job.current;
    if (!p) return;
    call(api().print.output({ printId: p.printId }))
      .then(
        (r) => mounted.current && setStatus({ text: printedWords(p.output, r.done), error: false }),
        (err: unknown) => mounted.current && setStatus({ text: failed('print', err), error: true }),
      )
      .finally(() => mounted.current && setPrinting(null));
    // failed() only reads loadOptions, which never changes.
  }, []);

  const allowed = options?.allowed ?? NOTHING_ALLOWED;
  const offText = options ? (options.allowed.fhir || options.allowed.print.length > 0 ? TURNED_OFF : options.offText) : null;
  const action = (kind: Kind, label: string, on: boolean) => {
    const off = options !== null && !on;
    return (
      <button
        type="button"
        className="secondary export-action"
        aria-haspopup={on ? 'dialog' : undefined}
        aria-disabled={off || printing !== null || undefined}
        onClick={() => printing === null && void open(kind)}
        data-testid={kind === 'export' ? 'export-fhir' : 'export-print'}
      >
        <span>{label}</span>
        {off && offText && <span className="export-off" data-testid="export-off">{offText}</span>}
      </button>
    );
  };

  return (
    <>
      {action('export', 'Export summary (FHIR)', allowed.fhir)}
      {action('print', 'Print / Save as PDF', allowed.print.length > 0)}
      <p className={`export-status${status?.error ? ' error' : ''}`} role="status" data-testid="export-status">{status?.text ?? ''}</p>
      {dialog && options && (
        <ReasonDialog
          kind={dialog}
          reasons={options.reasons}
          outputs={allowed.print}
          draft={draft}
          onDraft={setDraft}
          problems={problems}
          error={dialogError}
          busy={busy}
          onSubmit={() => void submit()}
          onCancel={() => {
            setDialog(null);
            setStatus({ text: dialog === 'export' ? 'Export cancelled: nothing was saved.' : 'Print cancelled: nothing was printed.', error: false });
          }}
        />
      )}
      {printing && <PrintView chart={printing.chart} watermark={printing.watermark} onReady={onPrintReady} />}
    </>
  );
}
