/**
 * The problem list of an open chart, editable: add a problem, change a
 * problem's clinical status. Each change goes through main (validated,
 * written with its outbox entry and audit entry), so it works offline.
 * Active problems first.
 */
import { useState, type FormEvent } from 'react';
import type { FhirResource } from '../../../shared/contract';
import { api, call } from '../clinician';
import { conceptText, formatDate, statusText } from '../fhir-format';

const STATUSES = ['active', 'recurrence', 'relapse', 'inactive', 'remission', 'resolved'] as const;
type Status = (typeof STATUSES)[number];

export function ProblemList({ patientId, conditions, onSaved }: { patientId: string; conditions: FhirResource[]; onSaved(): void }) {
  const [text, setText] = useState('');
  const [status, setStatus] = useState<Status>('active');
  const [error, setError] = useState<string | null>(null);
  const sorted = [...conditions].sort((a, b) => Number(statusText(b.clinicalStatus) === 'active') - Number(statusText(a.clinicalStatus) === 'active'));

  const save = async (input: { conditionId?: string; text: string; status: Status }) => {
    setError(null);
    try {
      await call(api().problems.set({ patientId, ...input }));
      onSaved();
      return true;
    } catch (err) {
      setError(err instanceof Error ? err.message : 'Not saved.');
      return false;
    }
  };

  const add = (e: FormEvent) => {
    e.preventDefault();
    void save({ text, status }).then((ok) => ok && setText(''));
  };

  return (
    <>
      {sorted.length === 0 ? (
        <p className="muted">No problems recorded.</p>
      ) : (
        <table className="rows">
          <thead>
            <tr><th scope="col">Problem</th><th scope="col">Status</th><th scope="col">Onset</th></tr>
          </thead>
          <tbody>
            {sorted.map((r) => (
              <tr key={r.id} data-testid="problem">
                <td>{conceptText(r.code)}</td>
                <td>
                  <select
                    aria-label={`Status of ${conceptText(r.code)}`}
                    className={`status status-${statusText(r.clinicalStatus)}`}
                    value={statusText(r.clinicalStatus)}
                    onChange={(e) => void save({ conditionId: r.id, text: conceptText(r.code), status: e.target.value as Status })}
                  >
                    {!STATUSES.includes(statusText(r.clinicalStatus) as Status) && <option value={statusText(r.clinicalStatus)}>{statusText(r.clinicalStatus) || '—'}</option>}
                    {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
                  </select>
                </td>
                <td>{formatDate(r.onsetDateTime ?? r.recordedDate)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="problem-form" onSubmit={add} aria-label="Add a problem">
        <input value={text} onChange={(e) => setText(e.target.value)} placeholder="New problem" aria-label="New problem" maxLength={500} />
        <select value={status} onChange={(e) => setStatus(e.target.value as Status)} aria-label="Status of the new problem">
          {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
        <button type="submit" className="primary small" disabled={!text.trim()}>Add problem</button>
      </form>
      {error && <p className="error" role="alert" data-testid="problem-error">{error}</p>}
    </>
  );
}
