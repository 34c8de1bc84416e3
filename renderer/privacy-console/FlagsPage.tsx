/**
 * The open flags of unusual access, newest first, each with its rule, the
 * clinician, the patient, when, the one-sentence explanation and its
 * evidence (the numbers that made it fire, the audit entries it rests on).
 * Acknowledging asks for a note (what the officer found or did) in a
 * dialog; an acknowledged flag leaves the list. A page at a time: older
 * flags behind "Show older flags" (the backend's cursor), so a burst of new
 * flags cannot push older ones out of view. An unsent note is kept per
 * flag (Esc does not lose it) by the console until sent or signed out; an
 * empty note is refused in words on submit (the button stays reachable);
 * after an acknowledgement focus moves to the next flag (else the heading).
 */
import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { PrivacyFlag } from '../../shared/privacy-api';
import { consolePaths, type FlagsPage as Page } from '../../shared/privacy-console-api';
import { Dialog } from '../src/ui/Dialog';
import { getJson, postJson } from './console-client';
import { useConsoleCall } from './use-console-call';

const RULES: Record<string, string> = {
  'break-glass': 'Break the glass',
  'unassigned-access': 'Access to an unassigned patient',
  'volume-spike': 'Unusual number of patients',
  'after-hours': 'After-hours access',
  'same-surname-or-address': 'Same surname or address',
  'vip-or-staff': 'VIP or staff patient',
  'many-charts-no-charting': 'Many charts opened, nothing charted',
  'offline-burst': 'Burst of offline reads',
};

const when = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

interface FlagsPageProps {
  onSessionGone(): void;
  /** Unsent notes by flag id (the console's, so Esc or a page change keeps them). */
  drafts: Record<string, string>;
  /** Keeps (or with null, drops) a flag's unsent note. */
  onDraft(id: string, note: string | null): void;
}

export function FlagsPage({ onSessionGone, drafts, onDraft }: FlagsPageProps) {
  const { busy, error, run } = useConsoleCall(onSessionGone);
  const [flags, setFlags] = useState<PrivacyFlag[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [acknowledging, setAcknowledging] = useState<PrivacyFlag | null>(null);
  // After an acknowledgement: the flag to focus once the list reloads (null: the heading).
  const [focusAfter, setFocusAfter] = useState<{ id: string | null } | null>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);

  const load = useCallback(() => {
    void run(() => getJson<Page<PrivacyFlag>>(consolePaths.flags)).then((r) => {
      if (!r) return;
      setFlags(r.flags);
      setNext(r.next);
    });
  }, [run]);
  useEffect(load, [load]);
  useEffect(() => {
    if (!focusAfter || !flags) return;
    const title = focusAfter.id === null ? null : document.querySelector<HTMLElement>(`[data-flag-id="${CSS.escape(focusAfter.id)}"] .console-flag-title`);
    (title ?? headingRef.current)?.focus();
    setFocusAfter(null);
  }, [flags, focusAfter]);
  const loadOlder = () => {
    if (!next || !flags) return;
    void run(() => getJson<Page<PrivacyFlag>>(`${consolePaths.flags}?cursor=${encodeURIComponent(next)}`)).then((r) => {
      if (!r) return;
      setFlags([...flags, ...r.flags]);
      setNext(r.next);
    });
  };

  return (
    <section aria-labelledby="flags-title" data-testid="flags-page">
      <div className="worklist-head">
        <h1 id="flags-title" ref={headingRef} tabIndex={-1}>Open flags</h1>
        {flags && <span className="count" data-testid="flags-count">{flags.length}</span>}
        <button type="button" className="secondary" onClick={load} disabled={busy}>Refresh</button>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {flags && flags.length === 0 && <p className="muted" data-testid="flags-empty">No open flags.</p>}
      <ul className="console-flags">
        {flags?.map((f) => (
          <li key={f.id} className="section console-flag" data-testid="flag" data-rule={f.rule} data-flag-id={f.id}>
            <h2 className="console-flag-title" tabIndex={-1}>
              <span className={`pill ${f.rule === 'break-glass' ? 'pill-crit' : 'pill-warn'}`}>{RULES[f.rule] ?? f.rule}</span>{' '}
              <span>{f.clinicianId}</span>
              {f.patientId && <span className="muted"> · patient {f.patientId}</span>}
            </h2>
            <p className="muted">Access at <time dateTime={f.at}>{when(f.at)}</time>; raised <time dateTime={f.raisedAt}>{when(f.raisedAt)}</time></p>
            <p data-testid="flag-explanation">{f.explanation}</p>
            <details>
              <summary>Evidence ({f.evidence.refsTotal} audit {f.evidence.refsTotal === 1 ? 'entry' : 'entries'})</summary>
              <dl className="console-evidence" data-testid="flag-evidence">
                {Object.entries(f.evidence.numbers).map(([k, v]) => (
                  <div key={k}>
                    <dt>{k}</dt>
                    <dd>{String(v)}</dd>
                  </div>
                ))}
              </dl>
              <ul className="console-refs">
                {f.evidence.refs.map((r) => (
                  <li key={r.kind === 'device' ? `d-${r.deviceId}-${r.seq}` : `b-${r.seq}`}>
                    {r.kind === 'device' ? `Desktop ${r.deviceId.slice(0, 8)}, entry ${r.seq}` : `Server disclosure ${r.seq}`}
                  </li>
                ))}
              </ul>
            </details>
            <button type="button" className="secondary" onClick={() => setAcknowledging(f)} data-testid="flag-acknowledge">Acknowledge…</button>
          </li>
        ))}
      </ul>
      {next && (
        <button type="button" className="secondary" onClick={loadOlder} disabled={busy} data-testid="flags-older">Show older flags</button>
      )}
      {acknowledging && (
        <AcknowledgeDialog
          flag={acknowledging}
          note={drafts[acknowledging.id] ?? ''}
          onNote={(note) => onDraft(acknowledging.id, note)}
          onClose={() => setAcknowledging(null)}
          onDone={() => {
            const list = flags ?? [];
            const at = list.findIndex((f) => f.id === acknowledging.id);
            const nextFlag = list[at + 1] ?? list[at - 1] ?? null;
            onDraft(acknowledging.id, null);
            setAcknowledging(null);
            setFocusAfter({ id: nextFlag?.id ?? null });
            load();
          }}
          onSessionGone={onSessionGone}
        />
      )}
    </section>
  );
}

/** The note is refused here when empty (in words, on submit), never by a disabled button that Tab cannot reach. */
function AcknowledgeDialog({ flag, note, onNote, onClose, onDone, onSessionGone }: { flag: PrivacyFlag; note: string; onNote(note: string): void; onClose(): void; onDone(): void; onSessionGone(): void }) {
  const { busy, error, run } = useConsoleCall(onSessionGone);
  const [problem, setProblem] = useState<string | null>(null);
  const noteRef = useRef<HTMLTextAreaElement>(null);
  const problemId = useId();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (note.trim() === '') {
      setProblem('Write a note first.');
      noteRef.current?.focus();
      return;
    }
    setProblem(null);
    void run(() => postJson(consolePaths.acknowledge(flag.id), { note })).then((r) => r && onDone());
  };
  return (
    <Dialog title="Acknowledge flag" onClose={onClose} testId="acknowledge-dialog" description={`${RULES[flag.rule] ?? flag.rule}: ${flag.clinicianId}`}>
      <form onSubmit={submit} className="console-form" noValidate>
        <label htmlFor="ack-note">Note: what you found or did</label>
        <textarea
          id="ack-note"
          ref={noteRef}
          data-autofocus
          rows={4}
          maxLength={2000}
          aria-required="true"
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? problemId : undefined}
          value={note}
          onChange={(e) => {
            onNote(e.target.value);
            if (problem && e.target.value.trim() !== '') setProblem(null);
          }}
        />
        {problem && <p id={problemId} className="field-error" data-testid="ack-note-error">{problem}</p>}
        {error && <p className="error" role="alert">{error}</p>}
        <div className="dialog-actions">
          <button type="button" className="secondary" onClick={onClose}>Cancel</button>
          <button type="submit" className="primary" disabled={busy}>Acknowledge</button>
        </div>
      </form>
    </Dialog>
  );
}
