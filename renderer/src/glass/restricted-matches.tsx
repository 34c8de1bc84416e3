/**
 * Restricted matches under the patient search: while the clinician types
 * (3 characters or more), main asks the hospital server (glass.search) for
 * patients who match but are not assigned to them. Each is shown as an
 * option of the same list ("Restricted patient", nothing more), reached by
 * the same arrows; Enter opens the break-the-glass dialog. Offline (or with
 * no server) the reason is said beside the results instead. Matches leave
 * the page with the query; the dialog's typed reason stays per match until
 * the search is cleared, so Esc never loses it.
 */
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { GLASS_QUERY_MIN } from '../../../shared/glass-api';
import { api, call, ClinicianError } from '../clinician';
import { BreakGlassDialog, checkGlassReason, EMPTY_GLASS_DRAFT, type GlassDraft, type GlassProblems } from './BreakGlassDialog';
import { RESTRICTED_HINT } from './glass-words';
import './glass.css';

export interface RestrictedMatch {
  handle: string;
  label: string;
}

const DEBOUNCE_MS = 300;

export function restrictedOptionId(index: number): string {
  return `restricted-${index}`;
}

export interface RestrictedMatches {
  matches: RestrictedMatch[];
  /** Why there are no restricted matches to offer (offline, no server), in words; null when there is nothing to say. */
  notice: string | null;
  choose(index: number): void;
  dialog: ReactNode;
}

export function useRestrictedMatches(query: string, onOpened: (patientId: string) => void): RestrictedMatches {
  const [matches, setMatches] = useState<RestrictedMatch[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const [chosen, setChosen] = useState<string | null>(null);
  const [drafts, setDrafts] = useState<ReadonlyMap<string, GlassDraft>>(new Map());
  const [problems, setProblems] = useState<GlassProblems>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const q = query.trim();
    if (q.length < GLASS_QUERY_MIN) {
      setMatches([]);
      setNotice(null);
      if (q === '') setDrafts(new Map());
      return;
    }
    let cancelled = false;
    const timer = setTimeout(() => {
      call(api().glass.search({ query: q })).then(
        (r) => {
          if (cancelled) return;
          setMatches(r.matches);
          setNotice(null);
        },
        (err: Error) => {
          if (cancelled) return;
          setMatches([]);
          setNotice(err.message);
        },
      );
    }, DEBOUNCE_MS);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [query]);

  const choose = useCallback((index: number) => {
    const match = matches[index];
    if (!match) return;
    setProblems({});
    setError(null);
    setChosen(match.handle);
  }, [matches]);

  const draft = chosen ? (drafts.get(chosen) ?? EMPTY_GLASS_DRAFT) : EMPTY_GLASS_DRAFT;
  const setDraft = (next: GlassDraft) => {
    if (!chosen) return;
    setDrafts((d) => new Map(d).set(chosen, next));
  };

  const submit = () => {
    if (!chosen) return;
    const checked = checkGlassReason(draft);
    if ('problems' in checked) {
      setProblems(checked.problems);
      return;
    }
    setProblems({});
    setError(null);
    setBusy(true);
    call(api().glass.break({ handle: chosen, reason: checked.reason })).then(
      (grant) => {
        setBusy(false);
        setDrafts((d) => {
          const next = new Map(d);
          next.delete(chosen);
          return next;
        });
        setChosen(null);
        onOpened(grant.patientId);
      },
      (err: Error) => {
        setBusy(false);
        if (err instanceof ClinicianError && err.fields.length > 0) {
          const p: GlassProblems = {};
          for (const f of err.fields) p[f.field.endsWith('code') ? 'code' : 'text'] ??= f.message;
          setProblems(p);
        }
        setError(err.message);
      },
    );
  };

  const dialog = chosen ? (
    <BreakGlassDialog draft={draft} onDraft={setDraft} problems={problems} error={error} busy={busy} onSubmit={submit} onCancel={() => setChosen(null)} />
  ) : null;
  return { matches, notice, choose, dialog };
}

interface OptionsProps {
  matches: RestrictedMatch[];
  /** The list index of the first restricted option (after the clinician's own patients). */
  offset: number;
  active: number;
  onActive(index: number): void;
  onChoose(index: number): void;
}

/** The restricted matches as options of the search's listbox. */
export function RestrictedOptions({ matches, offset, active, onActive, onChoose }: OptionsProps) {
  return (
    <>
      {matches.map((m, i) => (
        <li
          key={m.handle}
          id={restrictedOptionId(i)}
          role="option"
          aria-selected={offset + i === active}
          className={`result restricted${offset + i === active ? ' active' : ''}`}
          onMouseEnter={() => onActive(offset + i)}
          onMouseDown={(e) => e.preventDefault()}
          onClick={() => onChoose(i)}
          data-testid="restricted-result"
        >
          <span className="result-name">{m.label}</span>
          <span className="restricted-tag">Restricted</span>
          <span className="result-meta">{RESTRICTED_HINT}</span>
        </li>
      ))}
    </>
  );
}
