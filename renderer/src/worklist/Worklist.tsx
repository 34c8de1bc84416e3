/**
 * "My patients": the home screen when no chart is open. The clinician's
 * patients on this computer (patients.worklist, audited in main) in a
 * sortable table: name, age and sex, MRN, latest encounter (date and class in
 * words) and what needs attention as text badges. Keyboard: Tab to a name,
 * arrows move between rows, Enter opens the chart; a click anywhere on a row
 * opens it too. The rows leave the page when a chart opens.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { WorklistRow } from '../../../shared/contract';
import { api, call } from '../clinician';
import { ageFrom, encounterClassWords, formatDate, sexWords } from '../fhir-format';
import { InvitedConsultations } from '../../consult/InvitedConsultations';
import { badgesOf, firstDirection, sortRows, type Sort, type SortKey } from './worklist-rows';

interface Props {
  onOpen(id: string): void;
  /** The patient whose chart just closed: their row gets the focus back. */
  focusPatientId: string | null;
}

const COLUMNS: { key: SortKey; label: string; className?: string }[] = [
  { key: 'name', label: 'Patient' },
  { key: 'age', label: 'Age / sex' },
  { key: 'mrn', label: 'MRN', className: 'col-mrn' },
  { key: 'encounter', label: 'Latest encounter', className: 'col-encounter' },
  { key: 'attention', label: 'Needs attention' },
];

export function Worklist({ onOpen, focusPatientId }: Props) {
  const [rows, setRows] = useState<WorklistRow[] | null>(null);
  const [truncated, setTruncated] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [sort, setSort] = useState<Sort>({ key: 'name', direction: 'ascending' });
  const tableRef = useRef<HTMLTableElement>(null);

  useEffect(() => {
    let cancelled = false;
    call(api().patients.worklist({})).then(
      (r) => {
        if (cancelled) return;
        setRows(r.patients);
        setTruncated(r.truncated);
      },
      (e: Error) => !cancelled && setError(e.message),
    );
    return () => {
      cancelled = true;
    };
  }, []);

  const sorted = useMemo(() => (rows ? sortRows(rows, sort) : []), [rows, sort]);

  // Where the focus was when this list came on screen (the chart just closed): the page, the pane, or a top-bar button.
  const focusAtMount = useRef<Element | null>(null);
  useEffect(() => {
    focusAtMount.current = document.activeElement;
  }, []);

  useEffect(() => {
    if (!rows || !focusPatientId) return;
    // Only if the focus is still where closing the chart left it: never away from the search or anything
    // else the clinician went to while the rows were on their way.
    if (document.activeElement !== focusAtMount.current) return;
    tableRef.current?.querySelector<HTMLButtonElement>(`button[data-patient-id="${CSS.escape(focusPatientId)}"]`)?.focus();
  }, [rows, focusPatientId]);

  const sortBy = (key: SortKey) =>
    setSort((s) => (s.key === key ? { key, direction: s.direction === 'ascending' ? 'descending' : 'ascending' } : { key, direction: firstDirection(key) }));

  const moveFocus = (e: React.KeyboardEvent<HTMLButtonElement>, index: number) => {
    const step = e.key === 'ArrowDown' ? 1 : e.key === 'ArrowUp' ? -1 : 0;
    const target = e.key === 'Home' ? 0 : e.key === 'End' ? sorted.length - 1 : step !== 0 ? index + step : null;
    if (target === null || target < 0 || target >= sorted.length) return;
    e.preventDefault();
    tableRef.current?.querySelectorAll<HTMLButtonElement>('button.open-button')[target]?.focus();
  };

  return (
    <section className="worklist" aria-labelledby="worklist-title" data-testid="worklist">
      <div className="worklist-head">
        <h1 id="worklist-title">My patients</h1>
        {rows && <span className="muted" data-testid="worklist-count">{rows.length} on this computer{truncated ? ' (first ones shown)' : ''}</span>}
      </div>
      <InvitedConsultations onOpen={onOpen} />
      {error && <p className="error" role="alert">{error}</p>}
      {!rows && !error && <p className="muted">Loading your patients…</p>}
      {rows?.length === 0 && <p className="muted" data-testid="worklist-empty">No patients on this computer yet. They arrive with the next sync from the hospital server.</p>}
      {rows && rows.length > 0 && (
        <table className="worklist-table" ref={tableRef} aria-labelledby="worklist-title" aria-describedby="worklist-keys">
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th key={c.key} scope="col" className={c.className} aria-sort={sort.key === c.key ? sort.direction : 'none'}>
                  <button type="button" className="sort-button" onClick={() => sortBy(c.key)} data-testid={`sort-${c.key}`}>
                    {c.label}
                    <span className="sort-mark" aria-hidden="true">{sort.key === c.key ? (sort.direction === 'ascending' ? ' ▲' : ' ▼') : ''}</span>
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {sorted.map((p, i) => {
              const badges = badgesOf(p);
              const age = ageFrom(p.birthDate);
              const enc = p.latestEncounter;
              return (
                <tr key={p.id} onClick={() => onOpen(p.id)} data-testid="worklist-row">
                  <th scope="row">
                    <button type="button" className="open-button" data-patient-id={p.id} onClick={(e) => { e.stopPropagation(); onOpen(p.id); }} onKeyDown={(e) => moveFocus(e, i)}>
                      {p.name}
                    </button>
                  </th>
                  <td>{age ? `${age} · ` : ''}{sexWords(p.gender)}</td>
                  <td className="col-mrn">{p.mrn ?? '—'}</td>
                  <td className="col-encounter">
                    {enc ? (
                      <>
                        {enc.date ? formatDate(enc.date) : 'Date not recorded'}
                        <span className="muted"> · {encounterClassWords({ code: enc.classCode })}</span>
                      </>
                    ) : (
                      <span className="muted">None recorded</span>
                    )}
                  </td>
                  <td>
                    {badges.length > 0 ? (
                      <span className="flags" data-testid="worklist-flags">
                        {badges.map((b) => (
                          <span key={b.text} className={`pill pill-${b.tone}`}>{b.text}</span>
                        ))}
                      </span>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <p id="worklist-keys" className="muted keys">
        <kbd>Tab</kbd> to a patient, <kbd>↑</kbd> <kbd>↓</kbd> move, <kbd>Enter</kbd> opens the chart · <kbd>/</kbd> or <kbd>Ctrl</kbd>+<kbd>K</kbd> finds any patient by name, MRN or birth date (1984-03-07, 07.03.1984, 7 Mar 1984) · <kbd>Esc</kbd> closes a chart · <kbd>Ctrl</kbd>+<kbd>L</kbd> locks
      </p>
    </section>
  );
}
