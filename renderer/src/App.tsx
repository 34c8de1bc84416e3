/**
 * The app shell: a status bar, the patient search on the left and the open
 * chart on the right. Keyboard first: "/" or Ctrl+K jumps to search, arrows
 * move through results, Enter opens a chart, Escape goes back to search.
 * When the cache is unavailable it says why and shows no patient data.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { CallOutput } from '../../shared/contract';
import { api, call } from './clinician';
import { PatientSearch } from './PatientSearch';
import { ChartView } from './ChartView';

type Status = CallOutput<'app.status'>;

export function App() {
  const [status, setStatus] = useState<Status | null>(null);
  const [statusError, setStatusError] = useState<string | null>(null);
  const [openPatientId, setOpenPatientId] = useState<string | null>(null);
  const searchRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    call(api().app.status({})).then(setStatus, (err: Error) => setStatusError(err.message));
  }, []);

  const focusSearch = useCallback(() => {
    searchRef.current?.focus();
    searchRef.current?.select();
  }, []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
      if ((e.key === '/' && !typing) || (e.key.toLowerCase() === 'k' && (e.ctrlKey || e.metaKey))) {
        e.preventDefault();
        focusSearch();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [focusSearch]);

  const cacheOpen = status?.cache === 'open';
  return (
    <div className="app">
      <header className="topbar" role="banner">
        <span className="brand">Clinician Desktop</span>
        <span className="topbar-status" data-testid="cache-status">
          {status === null && !statusError && 'Opening the patient cache…'}
          {cacheOpen && <span className="pill pill-ok">Encrypted cache open</span>}
          {status && !cacheOpen && <span className="pill pill-bad">Cache locked</span>}
        </span>
        {status?.actor && <span className="topbar-user">{status.actor}</span>}
      </header>
      {(statusError || (status && !cacheOpen)) && (
        <main className="problem" role="alert" data-testid="cache-problem">
          <h1>The patient cache is not available</h1>
          <p>{status?.problem?.message ?? statusError}</p>
          <p className="muted">No patient data is shown until it opens. Ask IT if this persists.</p>
        </main>
      )}
      {cacheOpen && (
        <div className="workspace">
          <PatientSearch
            inputRef={searchRef}
            selectedId={openPatientId}
            onOpen={(id) => setOpenPatientId(id)}
          />
          <main className="chart-pane" aria-live="polite">
            {openPatientId ? (
              <ChartView key={openPatientId} patientId={openPatientId} onClose={() => { setOpenPatientId(null); focusSearch(); }} />
            ) : (
              <div className="empty-chart">
                <p>Search by name, MRN or birth date (YYYY-MM-DD), then press Enter to open a chart.</p>
                <p className="muted"><kbd>/</kbd> search · <kbd>↑</kbd><kbd>↓</kbd> move · <kbd>Enter</kbd> open · <kbd>Esc</kbd> back</p>
              </div>
            )}
          </main>
        </div>
      )}
    </div>
  );
}
