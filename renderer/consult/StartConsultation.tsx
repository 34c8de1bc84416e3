/**
 * "Start consultation" in the patient's chart: choose the encounter the call
 * belongs to (read with chart.encounters each time the dialog opens; the
 * patient's most recent one is chosen already, and a choice lasts one
 * opening; encounters entered in error or cancelled are not offered; a
 * patient with none cannot have a call, and this says so), then
 * consult.start (main asks the backend, which binds the room to that
 * encounter and audits the start).
 * Only one consultation at a time on this desktop.
 */
import { useCallback, useId, useMemo, useState, type FormEvent } from 'react';
import type { FhirResource } from '../../shared/contract';
import { api, call } from '../src/clinician';
import { conceptText, encounterClassWords, field, formatDate, isVoided, parseFhirDate } from '../src/fhir-format';
import { Dialog } from '../src/ui/Dialog';
import { useChartGroup } from '../src/chart/use-chart-group';
import { setActiveConsult, useActiveConsult, useCallBadge } from './consult-session';
import './consult.css';

interface Props {
  patientId: string;
}

function startOf(e: FhirResource): number {
  return parseFhirDate(field(e, 'period.start'))?.getTime() ?? Number.NEGATIVE_INFINITY;
}

function encounterLabel(e: FhirResource): string {
  const type = Array.isArray(e.type) && e.type.length > 0 ? conceptText(e.type) : '';
  return [formatDate(field(e, 'period.start'), true), encounterClassWords(e.class), type].filter(Boolean).join(' · ');
}

export function StartConsultation({ patientId }: Props) {
  const active = useActiveConsult();
  // Each opening of the dialog is a load of its own: the encounters are read afresh then.
  const [opening, setOpening] = useState(0);
  const [open, setOpen] = useState(false);
  const readEncounters = useCallback(() => call(api().chart.encounters({ patientId })), [patientId]);
  const encounters = useChartGroup(readEncounters, opening, open);
  // Newest first; an encounter entered in error or cancelled is never one to bind a call to.
  const sorted = useMemo(
    () =>
      encounters !== null && !(encounters instanceof Error)
        ? encounters.items.filter((e) => !isVoided(e)).sort((a, b) => startOf(b) - startOf(a))
        : [],
    [encounters],
  );
  const [encounterId, setEncounterId] = useState<string>('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const selectId = useId();

  // The clinician's choice only while it is in the list read at this opening; else the newest.
  const chosen = sorted.some((e) => e.id === encounterId) ? encounterId : sorted[0]?.id ?? '';
  const start = async (e: FormEvent) => {
    e.preventDefault();
    if (!chosen) return;
    setBusy(true);
    setError(null);
    try {
      const { callId } = await call(api().consult.start({ patientId, encounterId: chosen }));
      setOpen(false);
      setActiveConsult({ patientId, callId, host: true });
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const badge = useCallBadge();
  if (active?.patientId === patientId && badge) {
    // In a call for this patient: the encryption state stays in the sticky banner, and takes the clinician to the call.
    const toPanel = () => {
      const panel = document.getElementById('consult-panel');
      panel?.scrollIntoView({ block: 'start' });
      panel?.focus();
    };
    return (
      <button type="button" className={`pill pill-${badge.tone === 'info' ? 'info' : badge.tone} consult-banner-badge`} onClick={toPanel} data-testid="consult-banner-badge">
        {badge.short}
      </button>
    );
  }

  return (
    <>
      <button
        type="button"
        className="secondary consult-start"
        onClick={() => {
          setOpening((n) => n + 1);
          setEncounterId('');
          setError(null);
          setOpen(true);
        }}
        disabled={active !== null}
        aria-haspopup="dialog"
        data-testid="consult-start"
        title={active ? 'A consultation is already running on this computer' : undefined}
      >
        Start consultation
      </button>
      {open && (
        <Dialog title="Start a video consultation" onClose={() => setOpen(false)} testId="consult-start-dialog">
          {encounters === null ? (
            <p className="dialog-body muted" role="status">Reading encounters…</p>
          ) : encounters instanceof Error ? (
            <p className="dialog-body error" role="alert">{encounters.message}</p>
          ) : sorted.length === 0 ? (
            <div className="dialog-body">
              <p data-testid="consult-no-encounter">This patient has no encounter on record. A consultation belongs to an encounter: record one first.</p>
              <div className="dialog-actions">
                <button type="button" className="secondary" onClick={() => setOpen(false)}>Close</button>
              </div>
            </div>
          ) : (
            <form className="dialog-body" onSubmit={(e) => void start(e)}>
              <p>The call is end-to-end encrypted. You can invite the patient, an interpreter, a family member or another clinician once it has started.</p>
              <p className="consult-field">
                <label htmlFor={selectId}>Encounter</label>
                <select id={selectId} value={chosen} onChange={(e) => setEncounterId(e.target.value)} data-testid="consult-encounter">
                  {sorted.map((enc) => (
                    <option key={enc.id} value={enc.id}>{encounterLabel(enc)}</option>
                  ))}
                </select>
              </p>
              {error && <p className="error" role="alert" data-testid="consult-start-error">{error}</p>}
              <div className="dialog-actions">
                <button type="button" className="secondary" onClick={() => setOpen(false)}>Cancel</button>
                <button type="submit" className="primary small" disabled={busy} data-testid="consult-start-confirm">Start</button>
              </div>
            </form>
          )}
        </Dialog>
      )}
    </>
  );
}
