/**
 * One patient's unfinished work: drafts kept on this computer as typed
 * (notes, addenda, vitals, problem edits, each with "last typed … ago") and
 * saved draft notes (preliminary Compositions). Each reopens where it is
 * edited. Shows kinds and times, never the draft text.
 */
import { useEffect, useState } from 'react';
import type { Chart, ChartTab, Draft, FhirResource } from '../../../shared/contract';
import { formatDate } from '../fhir-format';
import { requestNote } from './edit-request';
import { appendsTo, byDateDesc } from './note-text';
import { loadDrafts, onDraftsChanged, typedAgo } from './use-draft';

const KIND_TEXT: Record<Draft['kind'], string> = {
  note: 'Progress note',
  addendum: 'Addendum',
  vitals: 'Vital signs',
  problem: 'Problem change',
};

/** The drafts kept on this computer for a patient, refreshed whenever one is written or dropped. */
export function usePatientDrafts(patientId: string): Draft[] {
  const [drafts, setDrafts] = useState<Draft[]>([]);
  useEffect(() => {
    let cancelled = false;
    const load = (fresh: boolean) =>
      void loadDrafts(patientId, fresh).then(
        (list) => !cancelled && setDrafts(list),
        () => undefined,
      );
    load(false);
    const stop = onDraftsChanged(() => load(true));
    return () => {
      cancelled = true;
      stop();
    };
  }, [patientId]);
  return drafts;
}

export function savedDraftNotes(chart: Chart): FhirResource[] {
  return (chart.groups.Composition?.items ?? []).filter((c) => c.status === 'preliminary' && !appendsTo(c)).sort(byDateDesc);
}

interface Props {
  patientId: string;
  chart: Chart;
  onOpenTab(tab: ChartTab): void;
  /** The note open in the editor (not listed as something to reopen). */
  editing?: string;
  /** Kinds whose form is on the same pane (not listed). */
  hideKinds?: ReadonlyArray<Draft['kind']>;
}

export function DraftsList({ patientId, chart, onOpenTab, editing, hideKinds = [] }: Props) {
  const drafts = usePatientDrafts(patientId);
  const saved = savedDraftNotes(chart);
  const local = drafts.filter((d) => !hideKinds.includes(d.kind) && !(d.kind === 'note' && d.target === editing && editing !== undefined));
  const savedOnly = saved.filter((n) => n.id !== editing && !drafts.some((d) => d.kind === 'note' && d.target === n.id));
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => setNow(Date.now()), [drafts]);

  if (local.length === 0 && savedOnly.length === 0) return null;

  const open = (d: { kind: Draft['kind']; target: string }) => {
    if (d.kind === 'note') {
      requestNote(patientId, d.target);
      onOpenTab('write');
    } else if (d.kind === 'vitals') onOpenTab('write');
    else if (d.kind === 'addendum') onOpenTab('notes');
    else onOpenTab('summary');
  };

  return (
    <section className="charting-card drafts" aria-labelledby={`drafts-title-${patientId}`} data-testid="drafts">
      <h3 id={`drafts-title-${patientId}`}>Unfinished work</h3>
      <ul className="drafts-list">
        {local.map((d) => (
          <li key={`${d.kind}/${d.target}`} data-testid="draft" data-kind={d.kind}>
            <span>
              <strong>{KIND_TEXT[d.kind]}</strong>
              {d.kind === 'note' && d.target ? ' (saved draft note, with later typing)' : ''}
              <span className="muted"> · on this computer · {typedAgo(d.updatedAt, now)}</span>
            </span>
            <button type="button" className="secondary" onClick={() => open(d)}>
              Open<span className="charting-sr"> {KIND_TEXT[d.kind].toLowerCase()} draft</span>
            </button>
          </li>
        ))}
        {savedOnly.map((n) => (
          <li key={n.id} data-testid="draft" data-kind="saved-note">
            <span>
              <strong>Progress note</strong>
              <span className="muted"> · saved draft · {formatDate(n.date, true)}</span>
            </span>
            <button type="button" className="secondary" onClick={() => open({ kind: 'note', target: n.id })}>
              Open<span className="charting-sr"> saved draft note</span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
