/**
 * Patient search: type-ahead over name, MRN or birth date, results as a
 * keyboard-navigable list. Each search goes through window.clinician (and is
 * audited in main); nothing is cached in the page between searches.
 */
import { useEffect, useState, type RefObject } from 'react';
import type { PatientSummary } from '../../shared/contract';
import { api, call } from './clinician';
import { ageFrom, formatDate } from './fhir-format';

interface Props {
  inputRef: RefObject<HTMLInputElement | null>;
  selectedId: string | null;
  onOpen(id: string): void;
}

const DEBOUNCE_MS = 150;

export function PatientSearch({ inputRef, selectedId, onOpen }: Props) {
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<PatientSummary[]>([]);
  const [truncated, setTruncated] = useState(false);
  const [active, setActive] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [searched, setSearched] = useState(false);

  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setResults([]);
      setSearched(false);
      return;
    }
    let cancelled = false;
    const timer = setTimeout(() => {
      call(api().patients.search({ query: q })).then(
        (r) => {
          if (cancelled) return;
          setResults(r.patients);
          setTruncated(r.truncated);
          setActive(0);
          setError(null);
          setSearched(true);
        },
        (err: Error) => !cancelled && setError(err.message),
      );
    }, DEBOUNCE_MS);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [query]);

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      setActive((a) => Math.min(a + 1, Math.max(results.length - 1, 0)));
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setActive((a) => Math.max(a - 1, 0));
    } else if (e.key === 'Enter' && results[active]) {
      e.preventDefault();
      onOpen(results[active].id);
    } else if (e.key === 'Escape') {
      setQuery('');
    }
  };

  return (
    <aside className="search-pane" aria-label="Patients">
      <label className="search-label" htmlFor="patient-search">Find a patient</label>
      <input
        id="patient-search"
        ref={inputRef}
        className="search-input"
        type="search"
        autoFocus
        autoComplete="off"
        spellCheck={false}
        maxLength={100}
        placeholder="Name, MRN or birth date"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={onKeyDown}
        aria-controls="patient-results"
        aria-activedescendant={results[active] ? `patient-${results[active].id}` : undefined}
      />
      {error && <p className="error" role="alert">{error}</p>}
      <ul id="patient-results" className="results" role="listbox" aria-label="Search results">
        {results.map((p, i) => (
          <li
            key={p.id}
            id={`patient-${p.id}`}
            role="option"
            aria-selected={i === active}
            className={`result${i === active ? ' active' : ''}${p.id === selectedId ? ' open' : ''}`}
            onMouseEnter={() => setActive(i)}
            onClick={() => onOpen(p.id)}
            data-testid="patient-result"
          >
            <span className="result-name">{p.name}</span>
            <span className="result-meta">
              {formatDate(p.birthDate)} · {ageFrom(p.birthDate)} · {p.gender ?? '—'}
            </span>
            <span className="result-mrn">MRN {p.mrn ?? '—'}</span>
          </li>
        ))}
      </ul>
      {searched && results.length === 0 && !error && <p className="muted">No patient matches.</p>}
      {truncated && <p className="muted">More patients match: refine the search.</p>}
    </aside>
  );
}
