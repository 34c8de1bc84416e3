/**
 * A patient's accounting of disclosures: who saw or changed the chart,
 * when, from which device, online or offline, with break-the-glass and
 * export reasons and the upload checks' marks; a page at a time, older
 * pages behind "Show older" (the backend's cursor: a flood of newer
 * entries cannot push an older disclosure out of reach); exportable whole
 * as a FHIR Bundle of AuditEvents or as CSV (downloads; the backend audits
 * each view and export). The privacy office's own views (purpose HOPERAT)
 * are hidden by default behind a checkbox, with their count shown; the
 * exports always hold every entry.
 */
import { useState, type FormEvent } from 'react';
import { consolePaths, type AccountingPage as Accounting } from '../../shared/privacy-console-api';
import { download, getJson } from './console-client';
import { DisclosureTable } from './DisclosureTable';
import { useConsoleCall } from './use-console-call';

/** The purpose the console records its own views, exports and acknowledgements under (server/console/console-routes.ts). */
const OFFICE_PURPOSE = 'HOPERAT';

export function AccountingPage({ onSessionGone }: { onSessionGone(): void }) {
  const { busy, error, run } = useConsoleCall(onSessionGone);
  const [patientId, setPatientId] = useState('');
  const [accounting, setAccounting] = useState<Accounting | null>(null);
  const [hideOffice, setHideOffice] = useState(true);

  const show = (e: FormEvent) => {
    e.preventDefault();
    const id = patientId.trim();
    void run(() => getJson<Accounting>(consolePaths.accounting(id))).then((r) => r && setAccounting(r));
  };
  const showOlder = () => {
    if (!accounting?.next) return;
    const { patientId: id, next, rows } = accounting;
    void run(() => getJson<Accounting>(`${consolePaths.accounting(id)}?cursor=${encodeURIComponent(next)}`)).then(
      (r) => r && setAccounting({ ...r, rows: [...rows, ...r.rows] }),
    );
  };
  const exportAs = (kind: 'fhir' | 'csv') => {
    if (!accounting) return;
    const id = accounting.patientId;
    void run(() =>
      kind === 'fhir' ? download(consolePaths.accountingFhir(id), `accounting-${id}.fhir.json`) : download(consolePaths.accountingCsv(id), `accounting-${id}.csv`),
    );
  };

  const officeCount = accounting ? accounting.rows.filter((r) => r.purpose === OFFICE_PURPOSE).length : 0;
  const shown = accounting ? (hideOffice ? accounting.rows.filter((r) => r.purpose !== OFFICE_PURPOSE) : accounting.rows) : [];

  return (
    <section aria-labelledby="accounting-title" data-testid="accounting-page">
      <h1 id="accounting-title">Accounting of disclosures</h1>
      <form className="console-search" onSubmit={show}>
        <label htmlFor="accounting-patient">Patient id</label>
        <input id="accounting-patient" value={patientId} onChange={(e) => setPatientId(e.target.value)} maxLength={64} pattern="[A-Za-z0-9.\-]{1,64}" required />
        <button type="submit" className="secondary" disabled={busy}>Show</button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      {accounting && (
        <>
          <div className="console-actions">
            <h2 className="console-subtitle">Patient {accounting.patientId}</h2>
            <button type="button" className="secondary" onClick={() => exportAs('fhir')} disabled={busy} data-testid="export-fhir">Export FHIR (AuditEvents)</button>
            <button type="button" className="secondary" onClick={() => exportAs('csv')} disabled={busy} data-testid="export-csv">Export CSV</button>
          </div>
          <p className="console-filter">
            <label>
              <input type="checkbox" checked={hideOffice} onChange={(e) => setHideOffice(e.target.checked)} data-testid="accounting-hide-office" /> Hide privacy-office views
            </label>
            {hideOffice && officeCount > 0 && (
              <span className="muted" data-testid="accounting-hidden"> ({officeCount} privacy-office {officeCount === 1 ? 'view' : 'views'} hidden)</span>
            )}
          </p>
          <DisclosureTable rows={shown} caption={`Accounting of disclosures for patient ${accounting.patientId}`} showPatient={false} />
          {accounting.more && (
            <p className="muted">
              Showing the newest {accounting.rows.length}; older entries follow (the exports hold every entry).{' '}
              <button type="button" className="secondary" onClick={showOlder} disabled={busy} data-testid="accounting-older">Show older</button>
            </p>
          )}
        </>
      )}
    </section>
  );
}
