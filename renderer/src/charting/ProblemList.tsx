/**
 * The problem list of an open chart. Adding a problem or changing a
 * problem's status is deliberate: choosing a status only stages it (kept as
 * a draft), "Save change" asks for confirmation naming the problem and old →
 * new status, and the saved change can be undone while it has not left this
 * computer. Rows keep the order they had when the list was first shown (a
 * change never makes a row jump). Every change goes through main
 * (validated, written with its outbox and audit entries), so it works
 * offline. A status select never saves on its own.
 */
import { useRef, useState, type FormEvent } from 'react';
import type { FhirResource } from '../../../shared/contract';
import { api, call, ClinicianError } from '../clinician';
import { conceptText, formatDate, statusText, statusWords } from '../fhir-format';
import { ConfirmDialog } from '../ui/Dialog';
import { rememberChange } from './recent-changes';
import { UndoLine } from './UndoLine';
import { useDraft } from './use-draft';
import './charting.css';

const STATUSES = ['active', 'recurrence', 'relapse', 'inactive', 'remission', 'resolved'] as const;
type Status = (typeof STATUSES)[number];

/** A status in words ('In remission'); '—' when there is none. */
export function statusWord(status: string): string {
  return status ? statusWords(status) : '—';
}

/** The ids in the order first shown (active first), new ones after: re-renders never re-sort. */
function useStableOrder(conditions: FhirResource[]): FhirResource[] {
  const order = useRef<string[] | null>(null);
  if (order.current === null) {
    order.current = [...conditions]
      .sort((a, b) => Number(statusText(b.clinicalStatus) === 'active') - Number(statusText(a.clinicalStatus) === 'active'))
      .map((c) => c.id);
  } else {
    for (const c of conditions) if (!order.current.includes(c.id)) order.current.push(c.id);
  }
  const byId = new Map(conditions.map((c) => [c.id, c]));
  return order.current.map((id) => byId.get(id)).filter((c): c is FhirResource => c !== undefined);
}

interface Props {
  patientId: string;
  conditions: FhirResource[];
  onSaved(): void;
}

export function ProblemList({ patientId, conditions, onSaved }: Props) {
  const rows = useStableOrder(conditions);
  return (
    <div className="charting problem-list">
      {rows.length === 0 ? (
        <p className="muted">No problems recorded.</p>
      ) : (
        <table className="rows">
          <thead>
            <tr><th scope="col">Problem</th><th scope="col">Status</th><th scope="col">Onset</th></tr>
          </thead>
          <tbody>
            {rows.map((r) => <ProblemRow key={r.id} patientId={patientId} condition={r} onSaved={onSaved} />)}
          </tbody>
        </table>
      )}
      <AddProblem patientId={patientId} onSaved={onSaved} />
    </div>
  );
}

function ProblemRow({ patientId, condition, onSaved }: { patientId: string; condition: FhirResource; onSaved(): void }) {
  const name = conceptText(condition.code);
  const current = statusText(condition.clinicalStatus);
  const draft = useDraft(patientId, 'problem', condition.id, { status: '' });
  const staged = draft.body.status && draft.body.status !== current ? draft.body.status : '';
  const shown = staged || current;
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const selectRef = useRef<HTMLSelectElement>(null);
  const changeKey = `Condition/${condition.id}`;

  const save = async () => {
    setConfirming(false);
    setBusy(true);
    setError(null);
    try {
      await call(api().problems.set({ patientId, conditionId: condition.id, text: name, status: staged as Status }));
      await draft.discard();
      rememberChange(patientId, { key: changeKey, resourceType: 'Condition', resourceIds: [condition.id], label: `Changed to ${statusWord(staged)}` });
      onSaved();
    } catch (err) {
      setError(err instanceof ClinicianError && err.fields.length > 0 ? err.fields.map((f) => f.message).join(' ') : err instanceof Error ? err.message : 'Not saved.');
    } finally {
      setBusy(false);
    }
  };

  return (
    <tr data-testid="problem" data-condition={condition.id}>
      <td>{name}</td>
      <td>
        <div className="problem-status">
          <select
            ref={selectRef}
            aria-label={`Status of ${name}`}
            className={`status status-${shown}`}
            value={shown}
            onChange={(e) => draft.set('status', e.target.value === current ? '' : e.target.value)}
          >
            {!STATUSES.includes(current as Status) && <option value={current}>{statusWord(current)}</option>}
            {STATUSES.map((s) => <option key={s} value={s}>{statusWord(s)}</option>)}
          </select>
          {staged && (
            <>
              <button type="button" className="primary small" onClick={() => setConfirming(true)} disabled={busy}>Save change</button>
              <button type="button" className="secondary" onClick={() => void draft.discard()} disabled={busy}>Cancel<span className="charting-sr"> the change of {name}</span></button>
            </>
          )}
        </div>
        {staged && <p className="muted problem-staged">Not saved: {statusWord(current)} → {statusWord(staged)}</p>}
        <UndoLine
          patientId={patientId}
          changeKey={changeKey}
          onUndone={onSaved}
          onChangeAgain={() => selectRef.current?.focus()}
        />
        {error && <p className="error" role="alert" data-testid="problem-error">{error}</p>}
        {confirming && (
          <ConfirmDialog title="Change problem status" confirmLabel="Save change" onConfirm={() => void save()} onCancel={() => setConfirming(false)} testId="problem-confirm">
            <p>Change the status of <strong>{name}</strong> from <strong>{statusWord(current)}</strong> to <strong>{statusWord(staged)}</strong>?</p>
          </ConfirmDialog>
        )}
      </td>
      <td>{formatDate(condition.onsetDateTime ?? condition.recordedDate)}</td>
    </tr>
  );
}

function AddProblem({ patientId, onSaved }: { patientId: string; onSaved(): void }) {
  const draft = useDraft(patientId, 'problem', '', { text: '', status: '' });
  const [error, setError] = useState<string | null>(null);
  const text = draft.body.text ?? '';
  const status = (draft.body.status || 'active') as Status;

  const add = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await call(api().problems.set({ patientId, text, status }));
      await draft.discard();
      onSaved();
    } catch (err) {
      setError(err instanceof ClinicianError && err.fields.length > 0 ? err.fields.map((f) => f.message).join(' ') : err instanceof Error ? err.message : 'Not saved.');
    }
  };

  return (
    <>
      <form className="problem-form" onSubmit={(e) => void add(e)} aria-label="Add a problem">
        <input value={text} onChange={(e) => draft.set('text', e.target.value)} placeholder="New problem" aria-label="New problem" maxLength={500} />
        <select value={status} onChange={(e) => draft.set('status', e.target.value)} aria-label="Status of the new problem">
          {STATUSES.map((s) => <option key={s} value={s}>{statusWord(s)}</option>)}
        </select>
        <button type="submit" className="primary small" disabled={!text.trim()}>Add problem</button>
      </form>
      {error && <p className="error" role="alert" data-testid="problem-error">{error}</p>}
    </>
  );
}
