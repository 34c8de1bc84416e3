/**
 * A clinician's access history: the patients they read, searched, changed
 * or exported, newest first, from their desktops' chains and the backend's
 * disclosures (the backend audits the view, naming each patient shown).
 */
import { useState, type FormEvent } from 'react';
import { consolePaths, type ClinicianHistory } from '../../shared/privacy-console-api';
import { getJson } from './console-client';
import { DisclosureTable } from './DisclosureTable';
import { useConsoleCall } from './use-console-call';

export function HistoryPage({ onSessionGone }: { onSessionGone(): void }) {
  const { busy, error, run } = useConsoleCall(onSessionGone);
  const [clinicianId, setClinicianId] = useState('');
  const [history, setHistory] = useState<ClinicianHistory | null>(null);

  const show = (e: FormEvent) => {
    e.preventDefault();
    const id = clinicianId.trim().toLowerCase();
    void run(() => getJson<ClinicianHistory>(consolePaths.clinicianHistory(id))).then((r) => r && setHistory(r));
  };

  return (
    <section aria-labelledby="history-title" data-testid="history-page">
      <h1 id="history-title">Clinician access history</h1>
      <form className="console-search" onSubmit={show}>
        <label htmlFor="history-clinician">Clinician user name</label>
        <input id="history-clinician" value={clinicianId} onChange={(e) => setClinicianId(e.target.value)} maxLength={64} required />
        <button type="submit" className="secondary" disabled={busy}>Show</button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      {history && (
        <>
          <h2 className="console-subtitle">{history.clinicianId}</h2>
          {history.more && <p className="muted">Showing the newest {history.rows.length}.</p>}
          <DisclosureTable rows={history.rows} caption={`Access history of ${history.clinicianId}`} showPatient />
        </>
      )}
    </section>
  );
}
