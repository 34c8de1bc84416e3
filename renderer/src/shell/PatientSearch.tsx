/**
 * Patient search in the top bar: a combobox over name, MRN or birth date
 * (several date formats), its results in a popup listbox (arrows move, Enter
 * opens, Esc clears). Each search goes through window.clinician (and is
 * audited in main); nothing is cached in the page between searches, and the
 * results leave the page when the popup closes.
 */
import { useEffect, useId, useState, type RefObject } from 'react';
import type { PatientSummary } from '../../../shared/contract';
import { api, call } from '../clinician';
import { ageFrom, formatDate, sexWords } from '../fhir-format';
import { RestrictedOptions, restrictedOptionId, useRestrictedMatches } from '../glass/restricted-matches';

interface Props {
  inputRef: RefObject<HTMLInputElement | null>;
  onOpen(id: string): void;
}

const DEBOUNCE_MS = 150;

export const SEARCH_HELP = 'Type a name, an MRN or a birth date (1984-03-07, 07.03.1984, 03/07/1984 or 7 Mar 1984). Arrows move, Enter opens, Esc clears.';

export function PatientSearch({ inputRef, onOpen }: Props) {
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<PatientSummary[]>([]);
  const [truncated, setTruncated] = useState(false);
  const [active, setActive] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [searched, setSearched] = useState(false);
  const [focused, setFocused] = useState(false);
  const helpId = useId();

  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setResults([]);
      setSearched(false);
      setError(null);
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

  const open = (id: string) => {
    setQuery('');
    onOpen(id);
  };
  // Online: patients who match but are not assigned (break the glass), after the clinician's own in the same list.
  const glass = useRestrictedMatches(query, open);
  const count = results.length + glass.matches.length;

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      setActive((a) => Math.min(a + 1, Math.max(count - 1, 0)));
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setActive((a) => Math.max(a - 1, 0));
    } else if (e.key === 'Enter' && results[active]) {
      e.preventDefault();
      open(results[active].id);
    } else if (e.key === 'Enter' && glass.matches[active - results.length]) {
      e.preventDefault();
      glass.choose(active - results.length);
    } else if (e.key === 'Escape') {
      // Esc here is the search's: clear it (and leave the field when already empty); never the chart's.
      e.preventDefault();
      e.stopPropagation();
      if (query) setQuery('');
      else inputRef.current?.blur();
    }
  };

  const expanded = focused && (query.trim() !== '' || results.length > 0);
  const showHelp = focused && query.trim() === '';
  return (
    <div className="search" role="search" aria-label="Patients">
      <label className="sr-only" htmlFor="patient-search">Find a patient</label>
      <input
        id="patient-search"
        ref={inputRef}
        className="search-input"
        type="text"
        role="combobox"
        autoComplete="off"
        spellCheck={false}
        maxLength={100}
        placeholder="Find a patient (/ or Ctrl+K)"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={onKeyDown}
        onFocus={() => setFocused(true)}
        onBlur={() => setFocused(false)}
        aria-expanded={expanded}
        aria-controls="patient-results"
        aria-autocomplete="list"
        aria-describedby={helpId}
        aria-activedescendant={
          expanded && results[active] ? `patient-${results[active].id}` : expanded && glass.matches[active - results.length] ? restrictedOptionId(active - results.length) : undefined
        }
      />
      <div className="search-popup" hidden={!expanded && !showHelp}>
        <p id={helpId} className="search-help" hidden={!showHelp && !(expanded && searched && results.length === 0)}>{SEARCH_HELP}</p>
        {error && <p className="error" role="alert">{error}</p>}
        <ul id="patient-results" className="results" role="listbox" aria-label="Search results" hidden={!expanded}>
          {expanded &&
            results.map((p, i) => (
              <li
                key={p.id}
                id={`patient-${p.id}`}
                role="option"
                aria-selected={i === active}
                className={`result${i === active ? ' active' : ''}`}
                onMouseEnter={() => setActive(i)}
                // Keep the focus in the field so the click lands on the option.
                onMouseDown={(e) => e.preventDefault()}
                onClick={() => open(p.id)}
                data-testid="patient-result"
              >
                <span className="result-name">{p.name}</span>
                <span className="result-mrn">MRN {p.mrn ?? '—'}</span>
                <span className="result-meta">
                  Born {formatDate(p.birthDate)} · {ageFrom(p.birthDate)} · {sexWords(p.gender)}
                </span>
              </li>
            ))}
          {expanded && <RestrictedOptions matches={glass.matches} offset={results.length} active={active} onActive={setActive} onChoose={glass.choose} />}
        </ul>
        {expanded && searched && count === 0 && !error && <p className="muted search-help" role="status">No patient matches.</p>}
        {expanded && glass.notice && <p className="glass-notice" role="status" data-testid="glass-notice">{glass.notice}</p>}
        {expanded && truncated && <p className="muted search-help">More patients match: refine the search.</p>}
      </div>
      {glass.dialog}
    </div>
  );
}
